import type { AxiosInstance } from 'axios';
import { undiciAdapter } from '../ground/http-transport.ts';
import { deadlineAxios } from '../ground/security/outbound-policy.ts';
import { v1 } from 'pipedrive';
import { z } from 'zod';
import type { Config } from '../ground/config.ts';
import { toPipedriveError } from './api-errors.ts';

/** Pipedrive's token response. */
const TokenSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().int().positive(),
  scope: z.string().optional(),
  api_domain: z.string().url(),
});
export type TokenSet = z.infer<typeof TokenSchema>;

export const callbackUrl = (appUrl: string) => `${appUrl}/auth/pipedrive/callback`;

/**
 * One axios instance per outside system: statuses and headers kept on errors, a total
 * deadline per call that holds while bytes trickle in (axios's own timeout stops at the
 * headers), and a response size cap. Pipedrive's hosts come from Pipedrive (its token answer's
 * api_domain, or PIPEDRIVE_API_URL), never from a tenant, so these calls skip the outbound
 * policy and go through undici: the outbox calls Pipedrive once per delivered message.
 */
export function pipedriveAxios(timeoutMs = 10_000): AxiosInstance {
  return deadlineAxios({ timeoutMs, maxBytes: 8 * 1024 * 1024, headers: { 'User-Agent': 'pd-bridge' }, adapter: undiciAdapter() });
}

/**
 * The OAuth half of the Pipedrive client. The authorize URL comes from the SDK's
 * OAuth2Configuration; the token calls are made here with our axios instance, because the
 * SDK's class is stateful (one token per instance), has no timeout and rejects with the bare
 * body, which would hide whether a refresh failed for good (400) or for now (5xx).
 */
export class PipedriveOAuth {
  constructor(
    private readonly config: Config,
    private readonly http: AxiosInstance = pipedriveAxios(),
  ) {}

  get configured(): boolean {
    return Boolean(this.config.pipedrive.clientId && this.config.pipedrive.clientSecret);
  }

  authorizationUrl(state: string): string {
    const sdk = new v1.OAuth2Configuration({
      clientId: this.config.pipedrive.clientId!,
      clientSecret: this.config.pipedrive.clientSecret!,
      redirectUri: callbackUrl(this.config.appUrl),
      host: this.config.pipedrive.oauthUrl,
    });
    return `${sdk.authorizationUrl}&state=${encodeURIComponent(state)}`;
  }

  exchangeCode(code: string): Promise<TokenSet> {
    return this.token({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl(this.config.appUrl) }, 'token exchange');
  }

  refresh(refreshToken: string): Promise<TokenSet> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'token refresh');
  }

  /** Vendor-side uninstall: revoking the refresh token marks the app uninstalled (RFC 7009, 200 even if invalid). */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    try {
      await this.http.post(`${this.config.pipedrive.oauthUrl}/oauth/revoke`, new URLSearchParams({ token, token_type_hint: hint }).toString(), {
        headers: this.headers(),
      });
    } catch (err) {
      throw toPipedriveError(err, 'token revoke');
    }
  }

  private async token(form: Record<string, string>, what: string): Promise<TokenSet> {
    let data: unknown;
    try {
      ({ data } = await this.http.post(`${this.config.pipedrive.oauthUrl}/oauth/token`, new URLSearchParams(form).toString(), { headers: this.headers() }));
    } catch (err) {
      throw toPipedriveError(err, what);
    }
    const parsed = TokenSchema.safeParse(data);
    // Never echo the body: it would be the tokens.
    if (!parsed.success) throw toPipedriveError(new Error(`unexpected token response (${parsed.error.issues[0]?.path.join('.')})`), what);
    return parsed.data;
  }

  private headers() {
    const basic = Buffer.from(`${this.config.pipedrive.clientId}:${this.config.pipedrive.clientSecret}`).toString('base64');
    return { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` };
  }
}
