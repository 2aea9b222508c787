import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';
import type { Secrets } from '../security/crypto.ts';
import type { Db } from '../store/db.ts';
import { findInstallation, type Installation } from '../store/installations.ts';

export const SESSION_COOKIE = 'pdb_session';
export const STATE_COOKIE = 'pdb_oauth_state';
const SESSION_TTL_S = 12 * 3600;
/** Pipedrive's authorization code lives 5 minutes; the state a little longer. */
const STATE_TTL_S = 10 * 60;

interface CookieOpts {
  maxAgeS: number;
  path: string;
  secure: boolean;
}

/**
 * Cookies are written by hand (not ctx.cookies) so `Secure` follows APP_URL's scheme rather
 * than the proxy headers of each request.
 */
function setCookie(ctx: Context, name: string, value: string, o: CookieOpts): void {
  const parts = [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${o.maxAgeS}`, 'HttpOnly', 'SameSite=Lax'];
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
  const m = value ? /^([A-Za-z0-9_-]{1,128})\.(\d{1,12})\.([A-Za-z0-9_-]{20,100})$/.exec(value) : null;
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
  setCookie(ctx, STATE_COOKIE, seal(secrets, 'state', state, STATE_TTL_S), { maxAgeS: STATE_TTL_S, path: '/auth/pipedrive', ...cookieSecurity(appUrl) });
  return state;
}

/** The state bound to this browser, or undefined (missing, forged or expired). Clears the cookie. */
export function takeState(ctx: Context, secrets: Secrets, appUrl: string): string | undefined {
  const state = unseal(secrets, 'state', readCookie(ctx, STATE_COOKIE));
  setCookie(ctx, STATE_COOKIE, '', { maxAgeS: 0, path: '/auth/pipedrive', ...cookieSecurity(appUrl) });
  return state;
}

export function startSession(ctx: Context, secrets: Secrets, appUrl: string, installationId: string): void {
  setCookie(ctx, SESSION_COOKIE, seal(secrets, 'cookie', installationId, SESSION_TTL_S), { maxAgeS: SESSION_TTL_S, path: '/', ...cookieSecurity(appUrl) });
}

export function endSession(ctx: Context, appUrl: string): void {
  setCookie(ctx, SESSION_COOKIE, '', { maxAgeS: 0, path: '/', ...cookieSecurity(appUrl) });
}

/** The signed-in installation; an uninstalled one no longer has a session. */
export async function sessionInstallation(ctx: Context, secrets: Secrets, db: Db): Promise<Installation | undefined> {
  const id = unseal(secrets, 'cookie', readCookie(ctx, SESSION_COOKIE));
  if (!id) return undefined;
  const installation = await findInstallation(db, id);
  return installation && installation.status !== 'uninstalled' ? installation : undefined;
}

export async function requireSession(ctx: Context, secrets: Secrets, db: Db): Promise<Installation> {
  const installation = await sessionInstallation(ctx, secrets, db);
  if (!installation) throw new AppError('UNAUTHORIZED', 'Sign in with Pipedrive first (/auth/pipedrive)');
  return installation;
}
