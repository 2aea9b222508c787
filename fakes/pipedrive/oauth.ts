import { randomBytes } from 'node:crypto';
import { basicCredentials, form, type Req, type Res } from './http.ts';
import type { FakeEmitter, FakeState } from './state.ts';

export interface OAuthSettings {
  clientId: string;
  clientSecret: string;
  /** When set, authorize and token exchange insist on this redirect_uri. */
  redirectUri: string | undefined;
  codeTtlMs: number;
  expiresIn: number;
  apiDomain: () => string;
  /** Who approves at the next authorize (tests switch users with setUser). */
  currentUserId: () => number;
  /** When true the next authorize answers error=user_denied. */
  takeDeny: () => boolean;
}

const tok = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;
const oauthError = (status: number, error: string, message: string): Res => ({ status, body: { success: false, error, message } });

/** OAuth as https://pipedrive.readme.io/docs/marketplace-oauth-authorization describes it: codes live 5 minutes, refresh returns the same refresh token. */
export function oauthRoutes(st: FakeState, events: FakeEmitter, o: OAuthSettings) {
  const clientOk = (req: Req) => basicCredentials(req.headers.authorization) === `${o.clientId}:${o.clientSecret}`;

  function issue(userId: number, refresh = tok('rt-')) {
    const access = tok('at-');
    st.accessTokens.set(access, { userId, expiresAt: Date.now() + o.expiresIn * 1000, refresh, revoked: false });
    if (!st.refreshTokens.has(refresh)) st.refreshTokens.set(refresh, { userId, lapsed: false });
    return { access_token: access, token_type: 'bearer', refresh_token: refresh, scope: 'base,messengers-integration', expires_in: o.expiresIn, api_domain: o.apiDomain() };
  }

  return {
    issue,
    authorize(req: Req): Res {
      const redirect = req.query.get('redirect_uri');
      if (req.query.get('client_id') !== o.clientId) return { status: 400, body: '<h1>Unknown client_id</h1>' };
      if (!redirect || (o.redirectUri && redirect !== o.redirectUri)) return { status: 400, body: '<h1>redirect_uri is invalid</h1>' };
      const target = new URL(redirect);
      const state = req.query.get('state');
      if (o.takeDeny()) target.searchParams.set('error', 'user_denied');
      else {
        const code = tok('code-');
        st.codes.set(code, { userId: o.currentUserId(), redirectUri: redirect, expiresAt: Date.now() + o.codeTtlMs, used: false });
        target.searchParams.set('code', code);
      }
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, redirect: target.toString() };
    },
    token(req: Req): Res {
      const f = form(req);
      if (!f) return oauthError(400, 'invalid_request', 'content must be application/x-www-form-urlencoded');
      if (!clientOk(req)) return oauthError(401, 'invalid_client', 'Invalid client credentials');
      const grant = f.get('grant_type');
      if (grant === 'authorization_code') {
        const c = st.codes.get(f.get('code') ?? '');
        if (!c || c.used) return oauthError(400, 'invalid_grant', 'authorization_code is invalid');
        if (c.expiresAt < Date.now()) return oauthError(400, 'invalid_grant', 'authorization_code has expired');
        if (f.get('redirect_uri') !== c.redirectUri) return oauthError(400, 'invalid_grant', 'redirect_uri is invalid');
        c.used = true;
        st.counters.exchanges++;
        return { status: 200, body: issue(c.userId) };
      }
      if (grant === 'refresh_token') {
        const refresh = f.get('refresh_token') ?? '';
        const r = st.refreshTokens.get(refresh);
        if (!r || r.lapsed) return oauthError(400, 'invalid_grant', 'refresh_token is invalid');
        st.counters.refreshes++;
        events.emit('refresh', r.userId);
        return { status: 200, body: issue(r.userId, refresh) };
      }
      return oauthError(400, 'unsupported_grant_type', 'grant_type is invalid');
    },
    revoke(req: Req): Res {
      const f = form(req);
      if (!clientOk(req)) return oauthError(401, 'invalid_client', 'Invalid client credentials');
      const token = f?.get('token') ?? '';
      st.counters.revokes++;
      const r = st.refreshTokens.get(token);
      if (r) r.lapsed = true;
      for (const [access, a] of st.accessTokens) if (a.refresh === token || access === token) a.revoked = true;
      return { status: 200, body: { success: true } };
    },
  };
}
