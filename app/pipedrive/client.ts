import { isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { v1, v2 } from 'pipedrive';
import { z } from 'zod';
import { toPipedriveError } from './api-errors.ts';
import type { PipedrivePacer } from './pacing.ts';
import type { Metrics } from '../ground/metrics.ts';
import type { TokenManager } from './tokens.ts';

/** The body of Pipedrive's POST /v1/channels/messages/receive. */
export interface ReceiveMessageBody {
  id: string;
  channel_id: string;
  sender_id: string;
  conversation_id: string;
  message: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  created_at: string;
  conversation_link?: string;
  attachments: Array<{ id: string; type: string; url: string; name?: string; size?: number; link_expires?: boolean }>;
}

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
  /** Pipedrive API version of the call (records are read through v2). */
  version?: 'v1' | 'v2';
}

// The SDK's typings bind to axios's CommonJS declarations and ours to its ESM ones (the
// same runtime class), so the instance crosses that seam untyped.
type SdkRequest = (axios?: never, basePath?: string) => Promise<unknown>;
type Op = (cfg: v1.Configuration & v2.Configuration) => Promise<SdkRequest>;

/** A Pipedrive user as GET /v1/users/:id describes them. */
export interface PipedriveUser {
  id: number;
  name: string;
  email: string | null;
  isAdmin: boolean;
}

const UserSchema = z.object({
  data: z.object({ id: z.coerce.number().int(), name: z.string(), email: z.string().nullish(), is_admin: z.union([z.boolean(), z.number()]).nullish(), active_flag: z.boolean().nullish() }),
});

/** The records a panel can sit on, and the field that names each (v2 API). */
export type PipedriveRecordType = 'deal' | 'person' | 'organization';
const RecordSchema = z.object({ data: z.object({ id: z.coerce.number().int(), title: z.string().nullish(), name: z.string().nullish() }) });

/** A v1 note as far as transcripts care (https://developers.pipedrive.com/docs/api/v1/Notes). */
export interface PipedriveNote {
  id: number;
  content: string;
}
const NoteSchema = z.object({ id: z.coerce.number().int(), content: z.string().nullish() });
const NoteResponse = z.object({ data: NoteSchema });
const NotesPage = z.object({
  data: z.array(NoteSchema).nullish(),
  additional_data: z.object({ pagination: z.object({ more_items_in_collection: z.boolean().nullish(), next_start: z.number().nullish() }).nullish() }).nullish(),
});

/** The note's association field for each record type (POST /v1/notes needs one). */
export const NOTE_ASSOCIATION = { deal: 'deal_id', person: 'person_id', organization: 'org_id' } as const;

/**
 * Pipedrive's Channels API and users/me through the SDK's functional API (v1 only), sent
 * with our axios instance so a 429 keeps its status and headers.
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
    await this.call(installationId, 'addChannel', (cfg) => v1.ChannelsApiFp(cfg).addChannel(body));
  }

  async receiveMessage(installationId: string, body: ReceiveMessageBody, opts: CallOptions = {}): Promise<void> {
    await this.call(installationId, 'receiveMessage', (cfg) => v1.ChannelsApiFp(cfg).receiveMessage(body), opts);
  }

  async deleteChannel(installationId: string, providerChannelId: string): Promise<void> {
    await this.call(installationId, 'deleteChannel', (cfg) => v1.ChannelsApiFp(cfg).deleteChannel(providerChannelId));
  }

  /** A user of the installation's company (the workspace resolves iframe users who never installed). */
  async getUser(installationId: string, userId: number): Promise<PipedriveUser> {
    const res = await this.call(installationId, 'getUser', (cfg) => v1.UsersApiFp(cfg).getUser(userId));
    const d = UserSchema.parse(res.data).data;
    return { id: d.id, name: d.name, email: d.email ?? null, isAdmin: Boolean(d.is_admin) };
  }

  /** The title of a deal, or the name of a person or organization (v2 API). */
  async recordTitle(installationId: string, type: PipedriveRecordType, id: number): Promise<string> {
    const op: Op =
      type === 'deal' ? (cfg) => v2.DealsApiFp(cfg).getDeal(id) : type === 'person' ? (cfg) => v2.PersonsApiFp(cfg).getPerson(id) : (cfg) => v2.OrganizationsApiFp(cfg).getOrganization(id);
    const res = await this.call(installationId, `get${type}`, op, { version: 'v2' });
    const d = RecordSchema.parse(res.data).data;
    return (type === 'deal' ? d.title : d.name) ?? `${type} ${id}`;
  }

  async addNote(installationId: string, body: { content: string; record: { type: PipedriveRecordType; id: number } }, opts: CallOptions = {}): Promise<PipedriveNote> {
    const req = { content: body.content, [NOTE_ASSOCIATION[body.record.type]]: body.record.id } as unknown as v1.AddNoteRequest;
    const res = await this.call(installationId, 'addNote', (cfg) => v1.NotesApiFp(cfg).addNote(req), opts);
    const d = NoteResponse.parse(res.data).data;
    return { id: d.id, content: d.content ?? '' };
  }

  async updateNote(installationId: string, noteId: number, content: string, opts: CallOptions = {}): Promise<void> {
    await this.call(installationId, 'updateNote', (cfg) => v1.NotesApiFp(cfg).updateNote(noteId, { content }), opts);
  }

  /** The record's notes, newest first, one page at a time (`start` from the previous page). */
  async listNotes(installationId: string, record: { type: PipedriveRecordType; id: number }, start = 0, opts: CallOptions = {}): Promise<{ notes: PipedriveNote[]; nextStart: number | null }> {
    const [deal, person, org] = [record.type === 'deal' ? record.id : undefined, record.type === 'person' ? record.id : undefined, record.type === 'organization' ? record.id : undefined];
    const res = await this.call(installationId, 'getNotes', (cfg) => v1.NotesApiFp(cfg).getNotes(undefined, undefined, deal, person, org, undefined, undefined, start, 100, 'add_time DESC'), opts);
    const page = NotesPage.parse(res.data);
    const p = page.additional_data?.pagination;
    return { notes: (page.data ?? []).map((n) => ({ id: n.id, content: n.content ?? '' })), nextStart: p?.more_items_in_collection ? (p.next_start ?? null) : null };
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
        const basePath = (opts.version ?? 'v1') === 'v1' ? token.apiBase : token.apiBase.replace(/\/api\/v1$/, '/api/v2');
        const fn = await op(new v1.Configuration({ accessToken: token.accessToken, basePath }));
        // The functional API resolves to the whole AxiosResponse when given an axios instance.
        // The functional API takes no request options; it only calls `axios.request`, so the
        // signal rides on a wrapper around our instance.
        const http = opts.signal ? { request: (c: object) => this.http.request({ ...c, signal: opts.signal }) } : this.http;
        const res = (await this.metrics.time('pipedrive', what, () => fn(http as never, basePath))) as AxiosResponse<unknown>;
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
