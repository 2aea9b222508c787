import type { z } from 'zod';
import type { Config } from '../ground/config.ts';
import type { PlatformPort } from '../domain/platform-port.ts';
import type { Logger } from '../ground/log.ts';
import type { Channel, Conversation, Message, Participant } from '../ground/records.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { OutsideFailure } from '../ground/failures.ts';

/**
 * The contract every contact platform implements (Airy source, Alvaria Server Messaging,
 * test adapters). One adapter instance serves all channels of its kind; per-channel data
 * arrives as arguments. Adapters never import each other, Koa or the store; they reach the
 * domain through `PlatformServices.domain` (a narrow port), and platform-only tables (e.g.
 * Alvaria sessions) through a repository they declare, implemented in app/store/ where all
 * SQL lives.
 *
 * Lifecycle of a channel:
 *   connect()    admin connects a channel: create the platform side, return state to keep
 *   send()       each message a Pipedrive user posts, from a durable outbox job, in order
 *   webhook()    the platform calls us at /webhooks/<kind>/<channel id>
 *   disconnect() channel deleted (Pipedrive deleteChannelById, admin delete, uninstall)
 */
export interface PlatformAdapter<C = unknown, S = unknown> {
  readonly kind: string;
  /** Shown on the admin page. */
  readonly displayName: string;
  /** Validates the admin's per-channel configuration (credentials are kept encrypted). */
  readonly configSchema: z.ZodType<C>;
  /** The platform's name in a sentence for an admin ("Airy"); without it, "The platform". */
  readonly shortName?: string;
  /** One clause for the admin page: how the platform learns a channel's webhook URL. */
  readonly webhookHint?: string;
  /** Other names the channel list shows the webhook URL under (the platform's own word for it). */
  readonly webhookUrlAliases?: readonly string[];
  /**
   * A platform-specific reading of a send that ended as a dead letter (`status` is the HTTP
   * status named in the reason, 0 if none), tried before the generic ones.
   */
  explainSendFailure?(status: number, reason: string): { problem: string; action: string } | undefined;

  /**
   * Creates the platform side. Returns the adapter's own state (tokens, remote ids), stored
   * encrypted with the channel. Throw PlatformError with a message the admin can act on, or
   * RefusedSettingError naming the URL setting whose host the outbound policy refuses.
   */
  connect(input: ConnectInput<C>): Promise<ConnectResult<S>>;

  /**
   * Applies new settings (rotated credentials, a new name) to an existing channel and checks
   * them against the platform; returns the state to keep. Without it, `connect` runs again.
   */
  reconfigure?(current: ChannelContext<C, S>, next: ConnectInput<C>): Promise<ConnectResult<S>>;

  /** Removes the platform side. Must tolerate "already gone" (idempotent). */
  disconnect(channel: ChannelContext<C, S>): Promise<void>;

  /**
   * Delivers one stored message (origin `pipedrive`) to the platform. Runs in an outbox job:
   * throw RetryableError/PermanentError (app/ground/failures.ts) to steer retries, and
   * DeferError to wait without spending an attempt (e.g. a session being opened).
   */
  send(channel: ChannelContext<C, S>, outgoing: OutgoingMessage): Promise<SendOutcome>;

  /**
   * The id the platform will know this message by, when the adapter can tell before sending
   * (Airy's ids are derived from ours). The send job records it before `send`, so a receipt
   * that overtakes the send's answer still finds the message. Adapters report ids; they never
   * write them.
   */
  platformMessageId?(channel: ChannelContext<C, S>, outgoing: OutgoingMessage): string | null;

  /**
   * Handles a platform callback. The adapter verifies the raw bytes first and persists
   * before answering; the reply is written as given (status and JSON body).
   */
  webhook?(channel: ChannelContext<C, S>, request: WebhookRequest): Promise<WebhookReply>;

  /** Background work (e.g. a WebSocket subscription); started once per process. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface ConnectInput<C> {
  /** Our channel id (used in webhook URLs) and the globally unique id Pipedrive will use. */
  channelId: string;
  providerChannelId: string;
  name: string;
  avatarUrl: string | null;
  config: C;
  /** Where the platform must call us for this channel. */
  webhookUrl: string;
}

export interface ConnectResult<S> {
  state: S;
  /** Extra facts the admin must see (e.g. a callback URL to paste into the platform). */
  notes?: Record<string, string>;
}

export interface ChannelContext<C, S> {
  channel: Channel;
  config: C;
  state: S;
}

export interface OutgoingMessage {
  message: Message;
  conversation: Conversation;
  /** The Pipedrive user who wrote it (the conversation's source_user). */
  sender: Participant;
  /** Attachments with fresh signed URLs the platform can fetch. */
  files: Array<{ id: string; name: string; mimeType: string; size: number | null; url: string }>;
  /** Aborted when the outbox job's lease runs out: pass it to the platform calls. */
  signal?: AbortSignal;
  /**
   * What the conversation is about, when it was started from a Pipedrive record: the platform
   * side is told so its agent does not have to ask (adapters pass it as metadata or as the
   * first line of a session).
   */
  context?: ConversationContext;
}

export interface ConversationContext {
  /** One line for a person to read. */
  line: string;
  /** The same facts as flat fields (e.g. conversation metadata). */
  fields: Record<string, string>;
}

/**
 * What a send achieved, for the send job to record (once): the platform's id of the message,
 * and `failed` when the platform side can never carry it (the message fails in Pipedrive and
 * the job ends without a dead letter).
 */
export type SendOutcome = { platformMessageId: string | null; failed?: string };

export interface WebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The exact bytes received, for signature checks. */
  rawBody: Buffer;
}

export interface WebhookReply {
  status: number;
  body: unknown;
}

/**
 * The platform refused or failed a connect, with a message safe to show an admin (no secrets,
 * no host body). The admin is answered 502 with it (app/ground/failures.ts, Table 2).
 */
export class PlatformError extends OutsideFailure {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformError';
  }
}

/**
 * What an adapter may use. Conversations, messages and events go through the domain's
 * narrow port; a platform's own tables through the repository it declares in
 * `PlatformRepositories` (wired by the composition root). No database handle.
 */
export interface PlatformServices {
  config: Config;
  domain: PlatformPort;
  repositories: PlatformRepositories;
  secrets: Secrets;
  log: Logger;
  /** Signed, expiring URL for a stored attachment. */
  fileUrl(attachmentId: string): string;
}

/**
 * Repositories of platform-only tables, one entry per platform that keeps any. Each platform
 * adds its entry from its own folder (a module augmentation beside the interface it
 * declares), so this contract names no platform; the composition root passes the store's
 * implementations.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by each platform's augmentation
export interface PlatformRepositories {}

export type AdapterFactory = (services: PlatformServices) => PlatformAdapter<any, any>;
