import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../ground/log.ts';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (a well-formed incoming `x-request-id`, else a new one), echoes
 * it in the answer, puts a child logger carrying it on `ctx.state.log`, and writes one access
 * line per request. Only the path is logged: query strings carry file-URL signatures and
 * OAuth codes.
 */
export function requestLog(log: Logger) {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const id = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('x-request-id', id);
    ctx.state.requestId = id;
    ctx.state.log = log.child({ reqId: id });
    const t0 = performance.now();
    try {
      await next();
    } finally {
      const line = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - t0) * 10) / 10 };
      if (ctx.status >= 500) ctx.state.log.warn(line, 'request');
      else ctx.state.log.info(line, 'request');
    }
  };
}
