import type { AxiosInstance } from 'axios';

export interface TokenSettings {
  tokenUrl: string;
  orgId: string;
  clientId: string;
  clientSecret: string;
}

/** Refresh this long before `expires_in` runs out (at most half the token's life). */
const REFRESH_MARGIN_MS = 60_000;

/**
 * OAuth client-credentials tokens for one set of Alvaria credentials:
 * form body `grant_type=client_credentials`, `scope=servermessagingapi`, `realm=<org>`,
 * client id and secret as HTTP Basic. The token is opaque: its life comes from `expires_in`.
 * Cached until shortly before expiry; concurrent callers share one request (single flight).
 */
export class TokenClient {
  private cached: { token: string; refreshAt: number } | undefined;
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly http: AxiosInstance,
    private readonly settings: TokenSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.cached && this.now() < this.cached.refreshAt) return this.cached.token;
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Drops a token the API refused (401), unless a newer one already replaced it. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const s = this.settings;
    const requestedAt = this.now();
    const res = await this.http.post(s.tokenUrl, new URLSearchParams({ grant_type: 'client_credentials', scope: 'servermessagingapi', realm: s.orgId }).toString(), {
      auth: { username: s.clientId, password: s.clientSecret },
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    });
    const body = res.data as { access_token?: unknown; expires_in?: unknown };
    if (typeof body?.access_token !== 'string' || !body.access_token) throw new Error('the token endpoint answered without an access_token');
    const lifeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3599) * 1000;
    this.cached = { token: body.access_token, refreshAt: requestedAt + lifeMs - Math.min(REFRESH_MARGIN_MS, lifeMs / 2) };
    return body.access_token;
  }
}
