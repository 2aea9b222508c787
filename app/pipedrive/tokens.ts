import type { Config } from '../ground/config.ts';
import type { Logger } from '../ground/log.ts';
import { NeedsReinstallError, PermanentError } from '../ground/failures.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { Installation } from '../ground/records.ts';
import { PipedriveApiError } from './api-errors.ts';
import type { PipedriveOAuth } from './oauth-client.ts';

/** Refresh this long before the access token's expiry (Pipedrive's tokens last 60 minutes). */
export const REFRESH_SKEW_MS = 120_000;

interface Tokens {
  access: string;
  refresh: string;
  expiresAt: number;
  apiDomain: string;
}

export interface LiveToken {
  accessToken: string;
  /** `{api_domain or PIPEDRIVE_API_URL}/api/v1`: the Channels API is v1 only. */
  apiBase: string;
}

/** Where installations and their sealed tokens are kept; the composition root wires the store's functions. */
export interface TokenRepository {
  find(installationId: string): Promise<Installation | undefined>;
  saveTokens(installationId: string, t: { accessTokenEnc: string; refreshTokenEnc: string | null; expiresAt: number; apiDomain: string | null }): Promise<void>;
  /** The refresh token was refused: nobody can act for this installation until it installs again. */
  needsReinstall(installationId: string, reason: string): Promise<void>;
}

export interface TokenDeps {
  store: TokenRepository;
  secrets: Secrets;
  oauth: PipedriveOAuth;
  config: Config;
  log: Logger;
}

/**
 * One token context per installation, so tenants never share a token (the SDK's global
 * OAuth2Configuration would). Contexts live for the process; the database is the truth
 * across processes, re-read before every refresh.
 */
export class TokenManager {
  private readonly contexts = new Map<string, TokenContext>();
  constructor(private readonly deps: TokenDeps) {}

  context(installationId: string): TokenContext {
    let c = this.contexts.get(installationId);
    if (!c) this.contexts.set(installationId, (c = new TokenContext(installationId, this.deps)));
    return c;
  }

  /** Drops the cached tokens (after a reinstall or an uninstall changed them in the database). */
  forget(installationId: string): void {
    this.contexts.delete(installationId);
  }
}

export class TokenContext {
  private cached: Tokens | undefined;
  private loading: Promise<Tokens> | undefined;
  private refreshing: Promise<Tokens> | undefined;

  constructor(
    readonly installationId: string,
    private readonly deps: TokenDeps,
  ) {}

  /** A usable access token, refreshed first when it expires within REFRESH_SKEW_MS. */
  async current(): Promise<LiveToken> {
    let t = await this.load();
    if (t.expiresAt - REFRESH_SKEW_MS <= Date.now()) t = await this.refresh(t.access);
    return this.view(t);
  }

  /** Pipedrive refused `staleAccess` (401): refresh once (shared with concurrent callers). */
  async afterUnauthorized(staleAccess: string): Promise<LiveToken> {
    return this.view(await this.refresh(staleAccess));
  }

  private view(t: Tokens): LiveToken {
    return { accessToken: t.access, apiBase: `${this.deps.config.pipedrive.apiUrl ?? t.apiDomain}/api/v1` };
  }

  private load(): Promise<Tokens> {
    if (this.cached) return Promise.resolve(this.cached);
    this.loading ??= this.readDb()
      .then((t) => (this.cached = t))
      .finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async readDb(): Promise<Tokens> {
    const inst = await this.deps.store.find(this.installationId);
    if (!inst || inst.status === 'uninstalled' || !inst.accessTokenEnc || !inst.refreshTokenEnc) {
      throw new PermanentError(`installation ${this.installationId} is not installed`);
    }
    if (inst.status === 'needs_reinstall') throw new NeedsReinstallError(this.installationId);
    return {
      access: this.deps.secrets.decrypt(inst.accessTokenEnc),
      refresh: this.deps.secrets.decrypt(inst.refreshTokenEnc),
      expiresAt: inst.tokenExpiresAt ?? 0,
      apiDomain: inst.apiDomain ?? '',
    };
  }

  /**
   * Single flight: every caller that finds the token stale while a refresh runs waits for
   * that refresh. Another process may have refreshed already, so the database is read first.
   */
  private refresh(staleAccess: string): Promise<Tokens> {
    this.refreshing ??= this.doRefresh(staleAccess).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(staleAccess: string): Promise<Tokens> {
    this.cached = undefined;
    const stored = await this.readDb();
    const usable = stored.expiresAt - REFRESH_SKEW_MS > Date.now();
    if (stored.access !== staleAccess && usable) return (this.cached = stored);
    let fresh;
    try {
      fresh = await this.deps.oauth.refresh(stored.refresh);
    } catch (err) {
      // 400/401 from the token endpoint: the refresh token is invalid or lapsed (60 days unused).
      if (err instanceof PipedriveApiError && (err.status === 400 || err.status === 401)) {
        await this.deps.store.needsReinstall(this.installationId, err.message);
        this.deps.log.warn({ installation: this.installationId, reason: err.message }, 'pipedrive refresh token rejected; installation needs reinstall');
        throw new NeedsReinstallError(this.installationId);
      }
      throw err;
    }
    const next: Tokens = {
      access: fresh.access_token,
      refresh: fresh.refresh_token,
      expiresAt: Date.now() + fresh.expires_in * 1000,
      apiDomain: fresh.api_domain,
    };
    await this.deps.store.saveTokens(this.installationId, {
      accessTokenEnc: this.deps.secrets.encrypt(next.access),
      refreshTokenEnc: next.refresh === stored.refresh ? null : this.deps.secrets.encrypt(next.refresh),
      expiresAt: next.expiresAt,
      apiDomain: next.apiDomain,
    });
    this.deps.log.debug({ installation: this.installationId }, 'pipedrive access token refreshed');
    return (this.cached = next);
  }
}
