import type { Context, Next } from 'koa';
import { koaBody } from 'koa-body';
import { AppError } from '../../ground/failures.ts';
import type { Secrets } from '../../ground/security/crypto.ts';
import type { Directory } from '../../domain/directory.ts';
import { familyOf } from '../paths.ts';
import { requireSession } from '../session.ts';

const parseJson = koaBody({ json: true, urlencoded: false, text: false, multipart: false, jsonLimit: '256kb', jsonStrict: true });

/** Writes any signed-in user may make for themselves: uninstalling their own authorization. */
const SELF_SERVICE = [/^DELETE \/admin\/api\/installation$/i];

/**
 * The one guard of the admin JSON API, mounted before any router and keyed on the canonical
 * path's family (paths.ts), so no spelling of /admin/api reaches a handler without it:
 * 1. a session (401 otherwise), before any handler code or body parsing;
 * 2. writes only as application/json: with the SameSite=Strict session cookie this is the CSRF
 *    defence (a cross-site form cannot send that type without a CORS preflight we never grant);
 * 3. writes need the signed-in user's Pipedrive admin rights (`is_admin` from users/me at
 *    sign-in); reads stay open to every user of the company;
 * 4. then the JSON body parser, for every route of the family alike.
 */
export function adminApiGuard(deps: { secrets: Secrets; directory: Pick<Directory, 'installation'>; appUrl: string }) {
  return async (ctx: Context, next: Next) => {
    if (familyOf(ctx) !== 'admin-api') return next();
    ctx.set('Cache-Control', 'no-store');
    const installation = await requireSession(ctx, deps.secrets, deps.directory, deps.appUrl);
    ctx.state.installation = installation;
    const write = ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.method !== 'OPTIONS';
    if (write && !/^application\/json\s*(;|$)/i.test(ctx.get('content-type'))) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send writes as Content-Type: application/json');
    }
    if (write && !installation.isAdmin && !SELF_SERVICE.some((re) => re.test(`${ctx.method} ${ctx.path}`))) {
      throw new AppError('FORBIDDEN', 'Only Pipedrive admins of your company can change channels or replay dead letters. Ask an admin, or sign in again if you were made one.');
    }
    return parseJson(ctx, next);
  };
}
