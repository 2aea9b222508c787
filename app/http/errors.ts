import type { Context, Next } from 'koa';
import { ZodError } from 'zod';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { errorPage, PAGE_HEADERS } from './html.ts';

/**
 * How a route family renders errors: Pipedrive's envelope, `{error}` for webhooks,
 * `{error:{code,message}}` for the admin JSON API, an HTML page for browser routes.
 */
export type ErrorShape = 'pipedrive' | 'webhook' | 'admin' | 'html';

/** The default shape by path, so unmatched routes of a family answer in its shape too. */
function shapeForPath(path: string): ErrorShape {
  if (path.startsWith('/admin/api/') || path === '/admin/api' || path.startsWith('/ui/api/') || path === '/ui/api') return 'admin';
  if (path === '/admin' || path.startsWith('/admin/') || path.startsWith('/auth/')) return 'html';
  if (path.startsWith('/ui/') && !path.startsWith('/ui/api/')) return 'html';
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
export function toHttpError(err: unknown, limits: UploadLimits): { status: number; code: ErrorCode; message: string; extra: Record<string, unknown> } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, extra: err.extra };
  if (err instanceof ZodError) {
    const issue = err.issues[0]!;
    return { status: 400, code: 'INVALID_BODY', message: `${issue.path.join('.') || 'body'}: ${issue.message}`, extra: {} };
  }
  const e = err as { name?: string; code?: string; status?: number; statusCode?: number; expose?: boolean; message?: string };
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
      const e = toHttpError(err, limits);
      const l: Logger = ctx.state.log ?? log;
      if (e.status >= 500) l.error({ err, path: ctx.path, method: ctx.method }, 'request failed');
      else l.debug({ path: ctx.path, status: e.status, reason: e.message }, 'request rejected');
      ctx.status = e.status;
      const shape: ErrorShape = ctx.state.errorShape ?? shapeForPath(ctx.path);
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
      if (e.status === 401 && shape === 'pipedrive' && ctx.path.startsWith('/api/')) ctx.set('WWW-Authenticate', 'Basic realm="pipedrive"');
    }
  };
}

export { ERROR_STATUS };
