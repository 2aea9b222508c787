import type { Context } from 'koa';
import { AppError } from '../ground/failures.ts';
import { safeEqual } from '../ground/security/crypto.ts';

/** `Authorization: Bearer <expected>` in constant time; no expected token configured → open. */
export function checkBearer(ctx: Context, expected: string | undefined): void {
  if (expected === undefined) return;
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(ctx.get('authorization'));
  if (!safeEqual(m?.[1] ?? '', expected)) {
    ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
    throw new AppError('UNAUTHORIZED', 'This endpoint needs Authorization: Bearer <METRICS_TOKEN>');
  }
}
