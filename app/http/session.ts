import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../ground/failures.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { Directory } from '../domain/directory.ts';
import type { Installation } from '../ground/records.ts';

export const SESSION_COOKIE = 'pdb_session';
export const STATE_COOKIE = 'pdb_oauth_state';
/**
 * Over https the session cookie carries the `__Host-` prefix (Secure, Path=/, no Domain: no
 * sibling subdomain can set or shadow it) and the state cookie `__Secure-` (its path is
 * narrower than `/`). Plain http (local development, tests) keeps the bare names, since
 * browsers refuse prefixed cookies without Secure.
 * https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Set-Cookie#cookie_prefixes
 */
export const cookieName = (base: string, appUrl: string, prefix: '__Host-' | '__Secure-') => (appUrl.startsWith('https:') ? `${prefix}${base}` : base);
const sessionCookie = (appUrl: string) => cookieName(SESSION_COOKIE, appUrl, '__Host-');
const stateCookie = (appUrl: string) => cookieName(STATE_COOKIE, appUrl, '__Secure-');
const SESSION_TTL_S = 12 * 3600;
/** Pipedrive's authorization code lives 5 minutes; the state a little longer. */
const STATE_TTL_S = 10 * 60;

interface CookieOpts {
  maxAgeS: number;
  path: string;
  secure: boolean;
  sameSite: 'Strict' | 'Lax';
}

/**
 * Cookies are written by hand (not ctx.cookies) so `Secure` follows APP_URL's scheme rather
 * than the proxy headers of each request. The session is SameSite=Strict: no request another
 * site starts (link, form, script) carries it. The OAuth state stays Lax because it must come
 * back on the top-level redirect from Pipedrive's consent page.
 */
function setCookie(ctx: Context, name: string, value: string, o: CookieOpts): void {
  const parts = [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${o.maxAgeS}`, 'HttpOnly', `SameSite=${o.sameSite}`];
  if (o.secure) parts.push('Secure');
  ctx.append('Set-Cookie', parts.join('; '));
}

function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of ctx.get('cookie').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** `payload.expiry.signature`, HMAC'd with the purpose's key; expired or forged → undefined. */
function seal(secrets: Secrets, purpose: 'cookie' | 'state', payload: string, ttlS: number): string {
  const body = `${payload}.${Math.floor(Date.now() / 1000) + ttlS}`;
  return `${body}.${secrets.sign(purpose, body)}`;
}

function unseal(secrets: Secrets, purpose: 'cookie' | 'state', value: string | undefined): string | undefined {
  const m = value ? /^([A-Za-z0-9_~-]{1,128})\.(\d{1,12})\.([A-Za-z0-9_-]{20,100})$/.exec(value) : null;
  if (!m) return undefined;
  const [, payload, exp, sig] = m;
  if (!secrets.verify(purpose, `${payload}.${exp}`, sig!)) return undefined;
  if (Number(exp) < Date.now() / 1000) return undefined;
  return payload;
}

export function cookieSecurity(appUrl: string) {
  return { secure: appUrl.startsWith('https:') };
}

export function issueState(ctx: Context, secrets: Secrets, appUrl: string): string {
  const state = randomBytes(24).toString('base64url');
  setCookie(ctx, stateCookie(appUrl), seal(secrets, 'state', state, STATE_TTL_S), { maxAgeS: STATE_TTL_S, path: '/auth/pipedrive', sameSite: 'Lax', ...cookieSecurity(appUrl) });
  return state;
}

/** The state bound to this browser, or undefined (missing, forged or expired). Clears the cookie. */
export function takeState(ctx: Context, secrets: Secrets, appUrl: string): string | undefined {
  const state = unseal(secrets, 'state', readCookie(ctx, stateCookie(appUrl)));
  setCookie(ctx, stateCookie(appUrl), '', { maxAgeS: 0, path: '/auth/pipedrive', sameSite: 'Lax', ...cookieSecurity(appUrl) });
  return state;
}

/** The cookie names the installation and its session generation (`<id>~<generation>`). */
export function startSession(ctx: Context, secrets: Secrets, appUrl: string, installation: Pick<Installation, 'id' | 'sessionGeneration'>): void {
  const payload = `${installation.id}~${installation.sessionGeneration}`;
  setCookie(ctx, sessionCookie(appUrl), seal(secrets, 'cookie', payload, SESSION_TTL_S), { maxAgeS: SESSION_TTL_S, path: '/', sameSite: 'Strict', ...cookieSecurity(appUrl) });
}

export function endSession(ctx: Context, appUrl: string): void {
  setCookie(ctx, sessionCookie(appUrl), '', { maxAgeS: 0, path: '/', sameSite: 'Strict', ...cookieSecurity(appUrl) });
}

/**
 * The signed-in installation. The cookie alone is not enough: the installation must still be
 * installed and the cookie's generation current (sign-out, uninstall and reinstall raise it).
 */
export async function sessionInstallation(ctx: Context, secrets: Secrets, directory: Pick<Directory, 'installation'>, appUrl: string): Promise<Installation | undefined> {
  const payload = unseal(secrets, 'cookie', readCookie(ctx, sessionCookie(appUrl)));
  const m = payload ? /^(.+)~(\d{1,9})$/.exec(payload) : null;
  if (!m) return undefined;
  const installation = await directory.installation(m[1]!);
  if (!installation || installation.status === 'uninstalled' || installation.sessionGeneration !== Number(m[2])) return undefined;
  return installation;
}

export async function requireSession(ctx: Context, secrets: Secrets, directory: Pick<Directory, 'installation'>, appUrl: string): Promise<Installation> {
  const installation = await sessionInstallation(ctx, secrets, directory, appUrl);
  if (!installation) throw new AppError('UNAUTHORIZED', 'Sign in with Pipedrive first (/auth/pipedrive)');
  return installation;
}
