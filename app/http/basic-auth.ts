import type { Context, Next } from 'koa';
import { AppError } from '../ground/failures.ts';
import { safeEqual } from '../ground/security/crypto.ts';

/**
 * Pipedrive authenticates every call to us with Basic client_id:client_secret
 * (https://pipedrive.readme.io/docs/messaging-app-extension). Compared in constant time; with no credentials
 * configured every request is refused.
 */
export function pipedriveBasicAuth(clientId: string | undefined, clientSecret: string | undefined) {
  const expected = clientId && clientSecret ? `${clientId}:${clientSecret}` : undefined;
  return async function basicAuth(ctx: Context, next: Next): Promise<void> {
    if (!checkBasic(ctx.get('authorization'), expected)) {
      throw new AppError('UNAUTHORIZED', expected ? 'Invalid or missing basic credentials' : 'This service has no Pipedrive client credentials configured');
    }
    await next();
  };
}

export function checkBasic(header: string, expected: string | undefined): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header);
  const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  // Always run the comparison so a missing header costs the same as a wrong one.
  const ok = safeEqual(given, expected ?? '\u0000');
  return ok && expected !== undefined;
}
