import { errors as joseErrors, jwtVerify } from 'jose';
import type { Context, Next } from 'koa';
import type { Config } from '../../ground/config.ts';
import { AppError } from '../../ground/failures.ts';
import type { Logger } from '../../ground/log.ts';
import type { PipedriveClient } from '../../pipedrive/client.ts';
import { PipedriveApiError } from '../../pipedrive/api-errors.ts';
import type { Directory } from '../../domain/directory.ts';
import type { Installation, UiClaims, UiIdentity } from '../../ground/records.ts';

export type { UiClaims, UiIdentity };

/**
 * Pipedrive signs the iframe token with the extension's JWT secret, or the client secret when
 * none is set (https://pipedrive.readme.io/docs/custom-ui-extensions). Each extension has its
 * own field, so a deployment with PIPEDRIVE_UI_JWT_SECRET may still get client-secret tokens
 * from an extension registered without one: both are tried, the configured one first.
 */
function secretsOf(config: Config): Uint8Array[] {
  const out = [config.pipedrive.uiJwtSecret, config.pipedrive.clientSecret].filter((s): s is string => !!s);
  return [...new Set(out)].map((s) => new TextEncoder().encode(s));
}

/** Pipedrive's clock and ours may disagree a little; 30 s, as its own examples allow. */
const CLOCK_TOLERANCE_S = 30;
const MAX_TOKEN_CHARS = 4096;

const unauthorized = (message: string, extra: Record<string, unknown> = {}) => new AppError('UNAUTHORIZED', message, extra);

const positiveId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Verifies a Pipedrive iframe token (`?token=` on page loads, `GET_SIGNED_TOKEN` on API calls):
 * HS256 only, `exp` required, positive integer `userId` and `companyId`. When the request also
 * names ids in its query (Pipedrive adds `userId` and `companyId` to iframe URLs), they must be
 * the token's. Throws the app's 401 on any problem.
 */
export async function verifyIframeToken(config: Config, token: string | undefined, query: Record<string, unknown> = {}): Promise<UiClaims> {
  if (!token || token.length > MAX_TOKEN_CHARS) throw unauthorized('A Pipedrive token is required');
  const keys = secretsOf(config);
  if (!keys.length) throw unauthorized('Iframe tokens cannot be verified: PIPEDRIVE_CLIENT_SECRET is not configured');
  let payload: Record<string, unknown> | undefined;
  for (const key of keys) {
    try {
      payload = (await jwtVerify(token, key, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S, requiredClaims: ['exp'] })).payload;
      break;
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('The Pipedrive token has expired');
      throw unauthorized('The Pipedrive token is invalid');
    }
  }
  if (!payload) throw unauthorized('The Pipedrive token is invalid');
  const { userId, companyId } = payload;
  if (!positiveId(userId) || !positiveId(companyId)) throw unauthorized('The Pipedrive token does not name a user and a company');
  for (const [name, claim] of [
    ['userId', userId],
    ['companyId', companyId],
  ] as const) {
    const q = query[name];
    if (q === undefined) continue;
    if (typeof q !== 'string' || q !== String(claim)) throw unauthorized(`${name} in the URL does not match the Pipedrive token`);
  }
  return { userId, companyId };
}

export interface IframeAuthDeps {
  config: Config;
  directory: Pick<Directory, 'installationOf' | 'companyInstallations' | 'workspaceUser' | 'saveWorkspaceUser'>;
  client: Pick<PipedriveClient, 'getUser'>;
  log: Logger;
}

/** How long a Pipedrive description of a non-installing user is trusted before asking again. */
const USER_TTL_MS = 24 * 3600_000;

/**
 * The company must have installed the app; the user is known when they installed it
 * themselves or were described by Pipedrive (through an installation's token) within a day.
 * Otherwise Pipedrive is asked, which also proves the user belongs to the company.
 */
export async function resolveIdentity(d: IframeAuthDeps, claims: UiClaims): Promise<UiIdentity> {
  const own = await d.directory.installationOf(claims.companyId, claims.userId);
  if (own && own.status !== 'uninstalled') return identityOf(claims, own, { name: own.userName ?? `Pipedrive user ${own.userId}`, email: own.userEmail, isAdmin: own.isAdmin });
  const company = (await d.directory.companyInstallations(claims.companyId)).filter((i) => i.status === 'active' && i.accessTokenEnc);
  // Prefer an admin's installation: its token sees every user of the company.
  const via = company.find((i) => i.isAdmin) ?? company[0];
  if (!via) throw unauthorized('This Pipedrive company has not installed the app yet', { reason: 'not_installed', install_url: `${d.config.appUrl}/auth/pipedrive` });
  const known = await d.directory.workspaceUser(claims.companyId, claims.userId);
  if (known && Date.now() - known.updatedAt < USER_TTL_MS) return identityOf(claims, via, known);
  let user;
  try {
    user = await d.client.getUser(via.id, claims.userId);
  } catch (err) {
    if (err instanceof PipedriveApiError && err.status === 404) throw unauthorized('Pipedrive does not know this user in this company', { reason: 'unknown_user' });
    if (known) return identityOf(claims, via, known);
    d.log.warn({ company: claims.companyId, reason: err instanceof Error ? err.message : String(err) }, 'could not resolve a workspace user through Pipedrive');
    throw new AppError('SERVICE_UNAVAILABLE', 'Pipedrive could not be asked who you are; try again shortly');
  }
  const described = { companyId: claims.companyId, userId: claims.userId, name: user.name, email: user.email, isAdmin: user.isAdmin };
  await d.directory.saveWorkspaceUser(described);
  return identityOf(claims, via, described);
}

function identityOf(claims: UiClaims, via: Installation, user: { name: string; email: string | null; isAdmin: boolean }): UiIdentity {
  return {
    ...claims,
    installationId: via.id,
    isAdmin: user.isAdmin,
    userName: user.name,
    userEmail: user.email,
    companyName: via.companyName,
    companyDomain: via.companyDomain,
  };
}

/** `Authorization: Bearer <token>` → ctx.state.ui, or 401 (no cookies: iframes do not get them). */
export function iframeAuth(d: IframeAuthDeps) {
  return async (ctx: Context, next: Next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    const claims = await verifyIframeToken(d.config, m?.[1], ctx.query);
    ctx.state.ui = await resolveIdentity(d, claims);
    await next();
  };
}
