import type { Context, Next } from 'koa';
import { AppError, httpAnswer, type UploadLimits } from '../ground/failures.ts';
import type { Logger } from '../ground/log.ts';
import { errorPage, PAGE_HEADERS } from './html.ts';
import { challengeOf, errorShapeOf } from './paths.ts';

/**
 * The one error answer of the HTTP app: the status from the failure table
 * (app/ground/failures.ts), the body in the request's route family's shape (app/http/paths.ts).
 */
export function errorMiddleware(log: Logger, limits: UploadLimits) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const l: Logger = ctx.state.log ?? log;
      if (clientAborted(ctx, err)) {
        // Nobody is left to answer: the client hung up mid-request (an upload cancelled, a
        // dropped connection). Logged as what it is, not as a server error.
        l.info({ path: ctx.path, method: ctx.method }, 'request aborted by the client');
        ctx.status = 400;
        ctx.body = { error: 'The client closed the request' };
        return;
      }
      const e = httpAnswer(err, limits);
      // A deliberate 503 (over capacity, database busy: retry later) is the server protecting itself, not a failure.
      if (e.status === 503 && (err instanceof AppError || e.retryAfterSeconds !== undefined)) l.warn({ path: ctx.path, method: ctx.method, reason: e.message }, 'request refused: unavailable');
      else if (e.status >= 500) l.error({ err, path: ctx.path, method: ctx.method }, 'request failed');
      else l.debug({ path: ctx.path, status: e.status, reason: e.message }, 'request rejected');
      ctx.status = e.status;
      if (e.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(e.retryAfterSeconds));
      const shape = errorShapeOf(ctx);
      if (shape === 'html') {
        ctx.set(PAGE_HEADERS);
        ctx.type = 'html';
        ctx.body = errorPage(e.status, e.message);
      } else {
        ctx.body =
          shape === 'webhook'
            ? { error: e.message }
            : shape === 'admin'
              ? { error: { code: e.code, message: e.message, ...e.extra } }
              : { success: false, data: { message: e.message, code: e.code, ...e.extra } };
      }
      const challenge = e.status === 401 ? challengeOf(ctx, shape) : undefined;
      if (challenge) ctx.set('WWW-Authenticate', challenge);
      if (typeof e.extra.retry_after_seconds === 'number' && e.retryAfterSeconds === undefined) ctx.set('Retry-After', String(e.extra.retry_after_seconds));
    }
  };
}

/** multer/busboy fail with these when the request stream ends because the client went away. */
function clientAborted(ctx: Context, err: unknown): boolean {
  if (err instanceof AppError) return false;
  const message = (err as { message?: string })?.message ?? '';
  return /^Request (aborted|closed)$/.test(message) || (ctx.req.readableAborted && /unexpected end of form|aborted/i.test(message));
}
