import type { Context, Next } from 'koa';
import { ZodError } from 'zod';
import { AppError, ERROR_STATUS, type ErrorCode } from '../ground/errors.ts';
import type { Logger } from '../ground/log.ts';
import { isDatabaseBusy } from '../store/db.ts';
import { errorPage, PAGE_HEADERS } from './html.ts';
import { familyOf } from './paths.ts';

/**
 * How a route family renders errors: Pipedrive's envelope, `{error}` for webhooks,
 * `{error:{code,message}}` for the admin JSON API, an HTML page for browser routes.
 */
export type ErrorShape = 'pipedrive' | 'webhook' | 'admin' | 'html';

/** The default shape by path, so unmatched routes of a family answer in its shape too. */
function shapeFor(ctx: Context): ErrorShape {
  const family = familyOf(ctx);
  if (family === 'admin-api' || family === 'ui-api') return 'admin';
  if (family === 'admin' || family === 'oauth' || family === 'ui') return 'html';
  if (family === 'webhook') return 'webhook';
  return 'pipedrive';
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_BODY',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
};

const MULTER_MESSAGES: Record<string, (limits: UploadLimits) => [number, string]> = {
  LIMIT_FILE_SIZE: (l) => [413, `A file is larger than the ${l.maxBytes} byte limit`],
  LIMIT_FILE_COUNT: (l) => [413, `Too many files: at most ${l.maxFiles} per message`],
  LIMIT_FIELD_VALUE: () => [413, 'A form field is too long'],
  LIMIT_PART_COUNT: () => [413, 'Too many parts in the multipart body'],
  LIMIT_FIELD_COUNT: () => [413, 'Too many form fields'],
  LIMIT_FIELD_KEY: () => [400, 'A form field name is too long'],
  LIMIT_UNEXPECTED_FILE: () => [400, 'Unexpected file field'],
};

export interface UploadLimits {
  maxBytes: number;
  maxFiles: number;
}

/** Turns anything thrown into a status and a safe message; never a stack trace on the wire. */
/** How long a caller should wait after the database was busy: one busy_timeout's worth is plenty for a lock to pass. */
export const BUSY_RETRY_AFTER_SECONDS = 5;

export function toHttpError(
  err: unknown,
  limits: UploadLimits,
): { status: number; code: ErrorCode; message: string; extra: Record<string, unknown>; retryAfterSeconds?: number | undefined } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, extra: err.extra, retryAfterSeconds: err.retryAfterSeconds };
  if (isDatabaseBusy(err)) {
    return { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'The service is busy; retry shortly', extra: {}, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0]!;
    return { status: 400, code: 'INVALID_BODY', message: `${issue.path.join('.') || 'body'}: ${issue.message}`, extra: {} };
  }
  const e = err as { name?: string; code?: string; status?: number; statusCode?: number; expose?: boolean; message?: string };
  // The disk (or its quota) is full: the client can retry later; a bare 500 says nothing.
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return { status: 507, code: 'INSUFFICIENT_STORAGE', message: 'The server is out of storage space for uploads; try again later', extra: {} };
  }
  if (e?.name === 'MulterError' && e.code && MULTER_MESSAGES[e.code]) {
    const [status, message] = MULTER_MESSAGES[e.code]!(limits);
    return { status, code: CODE_BY_STATUS[status]!, message, extra: {} };
  }
  // busboy/multer parse failures ("Unexpected end of form", "Malformed part header", …)
  if (typeof e?.message === 'string' && /multipart|boundary|unexpected end of form|part header|malformed/i.test(e.message) && !e.status) {
    return { status: 400, code: 'INVALID_BODY', message: `Malformed multipart body: ${e.message}`, extra: {} };
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'BAD_REQUEST';
    return { status, code, message: e.expose && e.message ? e.message : defaultMessage(code), extra: {} };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error', extra: {} };
}

const defaultMessage = (code: ErrorCode) => code.toLowerCase().replaceAll('_', ' ');

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
      const e = toHttpError(err, limits);
      // A deliberate 503 (over capacity, database busy: retry later) is the server protecting itself, not a failure.
      if (e.status === 503 && (err instanceof AppError || e.retryAfterSeconds !== undefined)) l.warn({ path: ctx.path, method: ctx.method, reason: e.message }, 'request refused: unavailable');
      else if (e.status >= 500) l.error({ err, path: ctx.path, method: ctx.method }, 'request failed');
      else l.debug({ path: ctx.path, status: e.status, reason: e.message }, 'request rejected');
      ctx.status = e.status;
      if (e.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(e.retryAfterSeconds));
      const shape: ErrorShape = ctx.state.errorShape ?? shapeFor(ctx);
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
      if (e.status === 401 && shape === 'pipedrive' && familyOf(ctx) === 'manifest') ctx.set('WWW-Authenticate', 'Basic realm="pipedrive"');
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

export { ERROR_STATUS };
