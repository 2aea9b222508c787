import { isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { v1 } from 'pipedrive';
import { z } from 'zod';
import { toPipedriveError } from './errors.ts';
import type { PipedrivePacer } from './pacing.ts';
import type { Metrics } from '../metrics.ts';
import type { ReceiveMessageBody } from './receive-job.ts';
import type { TokenManager } from './tokens.ts';

/** What we need from GET /v1/users/me (is_admin arrives as a boolean or 0/1). */
const CurrentUserSchema = z.object({
  data: z.object({
    id: z.coerce.number().int(),
    name: z.string(),
    email: z.string().nullish(),
    company_id: z.coerce.number().int(),
    company_name: z.string().nullish(),
    company_domain: z.string().nullish(),
    is_admin: z.union([z.boolean(), z.number()]).nullish(),
    icon_url: z.string().nullish(),
  }),
});
export type CurrentUser = z.infer<typeof CurrentUserSchema>['data'];

export interface AddChannelInput {
  name: string;
  provider_channel_id: string;
  avatar_url?: string;
  provider_type: 'facebook' | 'whatsapp' | 'other';
  template_support?: boolean;
}

export interface CallOptions {
  /** Aborts the request (an outbox job whose lease ran out). */
  signal?: AbortSignal;
  /** The caller holds a worker slot: any pacing wait defers the job rather than sleeping in the slot. */
  inWorker?: boolean;
}

// The SDK's typings bind to axios's CommonJS declarations and ours to its ESM ones (the
// same runtime class), so the instance crosses that seam untyped.
type SdkRequest = (axios?: never, basePath?: string) => Promise<unknown>;
type Op = (cfg: v1.Configuration) => Promise<SdkRequest>;

/**
 * Pipedrive's Channels API and users/me through the SDK's functional API (v1 only), sent
 * with our axios instance so a 429 keeps its status and headers (reference/pipedrive.md §5).
 * Each call borrows the installation's token context; a 401 refreshes once and retries.
 * Failures leave as PipedriveApiError/NeedsReinstallError only.
 */
export class PipedriveClient {
  constructor(
    private readonly tokens: TokenManager,
    private readonly http: AxiosInstance,
    readonly pacer: PipedrivePacer,
    private readonly metrics: Metrics,
  ) {}

  async addChannel(installationId: string, body: AddChannelInput): Promise<void> {
    await this.call(installationId, 'addChannel', (cfg) => v1.ChannelsApiFp(cfg).addChannel(body as v1.AddChannelRequest));
  }

  async receiveMessage(installationId: string, body: ReceiveMessageBody, opts: CallOptions = {}): Promise<void> {
    await this.call(installationId, 'receiveMessage', (cfg) => v1.ChannelsApiFp(cfg).receiveMessage(body as unknown as v1.ReceiveMessageRequest), opts);
  }

  async deleteChannel(installationId: string, providerChannelId: string): Promise<void> {
    await this.call(installationId, 'deleteChannel', (cfg) => v1.ChannelsApiFp(cfg).deleteChannel(providerChannelId));
  }

  async deleteConversation(installationId: string, providerChannelId: string, conversationId: string): Promise<void> {
    await this.call(installationId, 'deleteConversation', (cfg) => v1.ChannelsApiFp(cfg).deleteConversation(providerChannelId, conversationId));
  }

  /** The user behind a fresh token (at install, before any installation exists). */
  async currentUser(accessToken: string, apiBase: string): Promise<CurrentUser> {
    try {
      const fn: SdkRequest = await v1.UsersApiFp(new v1.Configuration({ accessToken, basePath: apiBase })).getCurrentUser();
      const res = (await fn(this.http as never, apiBase)) as AxiosResponse<unknown>;
      return CurrentUserSchema.parse(res.data).data;
    } catch (err) {
      throw toPipedriveError(err, 'users/me');
    }
  }

  private async call(installationId: string, what: string, op: Op, opts: CallOptions = {}): Promise<AxiosResponse<unknown>> {
    const ctx = this.tokens.context(installationId);
    let token = await ctx.current();
    for (let attempt = 0; ; attempt++) {
      await this.pacer.admit(installationId, opts.inWorker ? { maxInlineWaitMs: 0 } : {});
      try {
        const fn = await op(new v1.Configuration({ accessToken: token.accessToken, basePath: token.apiBase }));
        // The functional API resolves to the whole AxiosResponse when given an axios instance.
        // The functional API takes no request options; it only calls `axios.request`, so the
        // signal rides on a wrapper around our instance.
        const http = opts.signal ? { request: (c: object) => this.http.request({ ...c, signal: opts.signal }) } : this.http;
        const res = (await this.metrics.time('pipedrive', what, () => fn(http as never, token.apiBase))) as AxiosResponse<unknown>;
        this.pacer.observe(installationId, { status: res.status, headers: res.headers });
        return res;
      } catch (err) {
        const res = isAxiosError(err) ? err.response : undefined;
        this.pacer.observe(installationId, { status: res?.status ?? null, headers: res?.headers ?? {} });
        if (attempt === 0 && res?.status === 401) {
          token = await ctx.afterUnauthorized(token.accessToken);
          continue;
        }
        // A failure that parked the installation (daily budget) or opened its circuit waits
        // without spending the job's attempt, like the calls held back after it.
        throw this.pacer.holdOf(installationId) ?? toPipedriveError(err, what);
      }
    }
  }
}
