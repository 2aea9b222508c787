import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppError, notFound } from '../ground/failures.ts';
import type { Logger } from '../ground/log.ts';
import { JOB } from '../ground/job-kinds.ts';
import type { JobQueue } from '../runtime/job-queue.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findChannelByProviderId, listChannels, listTemplates, markChannelDeleted } from '../store/channels.ts';
import {
  bumpActivity,
  findChannelParticipant,
  findConversation,
  findConversationBy,
  findConversationByPk,
  insertConversation,
  listParticipants,
  updateConversation,
  upsertParticipant,
} from '../store/conversations.ts';
import type { Db, Tx } from '../store/db.ts';
import { hasEventKey, recordEventKey } from '../store/events.ts';
import { replayDeadJobs, wakePendingJobs } from '../store/jobs.ts';
import type { FileStore } from '../store/files.ts';
import {
  findMessage,
  findMessageById,
  findMessageByProviderId,
  hasInboundWithProviderId,
  insertMessage,
  listMessagesWithStatus,
  updateMessage,
  type NewAttachment,
} from '../store/messages.ts';
import { conversationPage, listConversationPage } from './conversation-pages.ts';
import type { Quotas } from './quotas.ts';
import type { Channel, Conversation, ConversationStatus, Message, MessageStatus, Participant, Template } from '../ground/records.ts';

export interface StagedFile {
  path: string;
  originalName: string;
  mimeType: string;
  size: number;
}

export const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** Platform text may carry NUL bytes, which PostgreSQL text columns reject: drop them. */
const clean = (s: string) => (s.includes('\u0000') ? s.replaceAll('\u0000', '') : s);
const cleanParticipant = <P extends { name: string; id: string }>(p: P): P => ({ ...p, name: clean(p.name), id: clean(p.id) });

export interface InboundMessage {
  /** Where the event came from and its delivery id: a second delivery is ignored. */
  dedupe: { source: string; key: string };
  conversation: Conversation;
  senderId: string;
  text: string;
  providerMessageId: string | null;
  createdAt: number;
  origin?: 'provider' | 'system';
  attachments?: Array<{ name: string; mimeType: string; size: number | null; url: string }>;
}

/** What the domain tells observers (metrics); `duplicate` carries the dedupe source (`<provider>:<channel>`). */
/** Runs inside the transaction that stores a message, so what it writes commits (or not) with it. */
export type StoredHook = (tx: Tx, conversation: Conversation, message: Message) => Promise<void>;

export interface InboxEvents {
  duplicate: [source: string];
  /** A message was stored or changed (committed) in this process: live views may look now. */
  changed: [];
}

/**
 * The domain: channels, conversations, participants and messages, with the rules that tie
 * them to the outbox. No HTTP here; callers are the manifest endpoints, webhooks and jobs.
 */
export class Inbox extends EventEmitter<InboxEvents> {
  private readonly storedHooks: StoredHook[] = [];
  private readonly closedHooks: Array<(conversation: Conversation) => Promise<void>> = [];

  constructor(
    readonly db: Db,
    private readonly secrets: Secrets,
    private readonly outbox: JobQueue,
    private readonly files: FileStore,
    private readonly log: Logger,
    private readonly quotas?: Quotas,
  ) {
    super();
  }

  /** Adds work to every message's storing transaction (e.g. scheduling a transcript flush). */
  onStored(hook: StoredHook): void {
    this.storedHooks.push(hook);
  }

  /** Adds work after a conversation is closed (e.g. an Alvaria session ended). */
  onClosed(hook: (conversation: Conversation) => Promise<void>): void {
    this.closedHooks.push(hook);
  }

  /** An active channel by the id Pipedrive uses, or NOT_FOUND. */
  async activeChannel(providerChannelId: string): Promise<Channel> {
    const channel = await findChannelByProviderId(this.db, providerChannelId);
    if (!channel || channel.status === 'deleted') throw notFound('Channel');
    return channel;
  }

  listConversations(channel: Channel, opts: { conversationsLimit: number; messagesLimit: number; after: string | undefined }) {
    return listConversationPage(this.db, this.secrets, channel, opts);
  }

  getConversation(channel: Channel, conversationId: string, opts: { messagesLimit: number; after: string | undefined }) {
    return conversationPage(this.db, this.secrets, channel, conversationId, opts);
  }

  async getMessage(channel: Channel, messageId: string, conversationId?: string): Promise<Message> {
    const message = await findMessage(this.db, channel.id, messageId);
    if (!message) throw notFound('Message');
    if (conversationId !== undefined) {
      const conversation = await findConversation(this.db, channel.id, conversationId);
      if (!conversation || conversation.pk !== message.conversationPk) throw notFound('Message');
    }
    return message;
  }

  async getSender(channel: Channel, senderId: string): Promise<Participant> {
    const p = await findChannelParticipant(this.db, channel.id, senderId);
    if (!p) throw notFound('Sender');
    return p;
  }

  templates(channel: Channel): Promise<Template[]> {
    return listTemplates(this.db, channel.id);
  }

  /**
   * Stores a message a Pipedrive user wrote, adopts its staged files, and queues the
   * delivery to the platform, all before answering Pipedrive. Files adopted for a message
   * that is not stored are removed again; files still staged are the caller's (the HTTP
   * upload reader removes them when the request ends).
   */
  async postMessage(channel: Channel, input: { conversationId: string; text: string; files: StagedFile[] }): Promise<Message> {
    const adopted: string[] = [];
    try {
      const conversation = await findConversation(this.db, channel.id, input.conversationId);
      if (!conversation) throw notFound('Conversation');
      await this.quotas?.admitPost(channel, input.files.reduce((n, f) => n + f.size, 0));
      const participants = await listParticipants(this.db, [conversation.pk]);
      const sourceUser = participants.find((p) => p.role === 'source_user');
      if (!sourceUser) throw new AppError('INVALID_BODY', 'This conversation has no source_user to send as');

      const attachments: NewAttachment[] = [];
      for (const f of input.files) {
        const id = newId('a');
        await this.files.adopt(f.path, id);
        adopted.push(id);
        attachments.push({ id, name: clean(f.originalName).slice(0, 255) || 'file', mimeType: clean(f.mimeType).slice(0, 255) || 'application/octet-stream', size: f.size, storageKey: id });
      }
      const now = Date.now();
      const id = newId('m');
      const message = await this.db.transaction(async (tx) => {
        const stored = await insertMessage(
          tx,
          { id, conversationPk: conversation.pk, channelId: channel.id, origin: 'pipedrive', senderId: sourceUser.id, text: input.text, status: 'sent', createdAt: now },
          attachments,
          now,
        );
        await bumpActivity(tx, conversation.pk, stored.seq, now);
        // A new message from the source user is one the end user has not seen yet, so the
        // conversation is unseen from this commit on. Leaving it to the platform's unread
        // signal (Airy's unread_count) let getConversations report `seen: true` next to a
        // message nobody had read, until that event happened to be processed.
        await updateConversation(tx, conversation.pk, { seen: false }, now);
        await this.outbox.enqueue(tx, { kind: JOB.providerSend, payload: { messageId: id }, orderingKey: `send:${conversation.id}`, channelId: channel.id });
        for (const hook of this.storedHooks) await hook(tx, conversation, stored);
        return stored;
      });
      this.outbox.kick();
      this.emit('changed');
      return message;
    } catch (err) {
      // Best effort: a failing store (e.g. the bucket unreachable) must not hide the original error.
      await Promise.allSettled(adopted.map((key) => this.files.remove(key)));
      throw err;
    }
  }

  /**
   * "Send again" for a failed message of a Pipedrive user: it becomes `sent` (pending delivery)
   * and its delivery is queued once more: the dead job itself when the outbox gave up on it
   * (so no dead letter stays behind), a new one when the platform reported the failure.
   */
  async resend(messageId: string, deadJobId: number | undefined): Promise<Message> {
    const message = await findMessageById(this.db, messageId);
    if (!message || message.origin !== 'pipedrive') throw notFound('Message');
    if (message.status !== 'failed') throw new AppError('CONFLICT', 'Only a failed message can be sent again');
    const conversation = await findConversationByPkOrThrow(this.db, message.conversationPk);
    await this.db.transaction(async (tx) => {
      await this.setMessageStatus(messageId, 'sent', { error: null, tx });
      const replayed = deadJobId === undefined ? 0 : await replayDeadJobs(tx, { id: deadJobId, channelIds: [message.channelId] }, Date.now());
      if (!replayed) await this.outbox.enqueue(tx, { kind: JOB.providerSend, payload: { messageId }, orderingKey: `send:${conversation.id}`, channelId: message.channelId });
    });
    this.outbox.kick();
    this.emit('changed');
    return (await findMessageById(this.db, messageId))!;
  }

  /** Marks the channel deleted and queues the platform-side disconnect (idempotent). */
  async deleteChannel(channel: Channel): Promise<void> {
    const queued = await this.db.transaction(async (tx) => {
      const changed = await markChannelDeleted(tx, channel.id, Date.now());
      if (changed) {
        await this.outbox.enqueue(tx, { kind: JOB.providerDisconnect, payload: { channelId: channel.id }, idempotencyKey: `disconnect:${channel.id}`, channelId: channel.id });
      }
      return changed;
    });
    if (queued) this.outbox.kick();
  }

  // ── used by adapters and jobs ────────────────────────────────────────────────────────

  findConversation(channel: Channel, by: { id: string } | { providerRef: string } | { sourceUserKey: string }): Promise<Conversation | undefined> {
    return 'id' in by ? findConversation(this.db, channel.id, by.id) : findConversationBy(this.db, channel.id, by);
  }

  /**
   * Finds or creates a conversation with its participants (exactly one source_user and at
   * least one end_user). A concurrent creator of the same conversation wins harmlessly.
   */
  async ensureConversation(
    channel: Channel,
    spec: {
      id: string;
      providerRef?: string | null;
      providerState?: string | null;
      sourceUserKey?: string | null;
      link?: string;
      participants: Array<Omit<Participant, 'conversationPk'>>;
    },
  ): Promise<Conversation> {
    const existing = await findConversation(this.db, channel.id, spec.id);
    if (existing) return existing;
    const roles = spec.participants.map((p) => p.role);
    if (roles.filter((r) => r === 'source_user').length !== 1 || !roles.includes('end_user')) {
      throw new Error('a conversation needs exactly one source_user and at least one end_user');
    }
    try {
      return await this.db.transaction(async (tx) => {
        const now = Date.now();
        const c = await insertConversation(
          tx,
          {
            id: spec.id,
            channelId: channel.id,
            providerRef: spec.providerRef ?? null,
            providerState: spec.providerState ?? null,
            sourceUserKey: spec.sourceUserKey ?? null,
            link: spec.link ?? '',
          },
          now,
        );
        for (const p of spec.participants) await upsertParticipant(tx, { ...cleanParticipant(p), conversationPk: c.pk }, now);
        return c;
      });
    } catch (err) {
      const raced = await findConversation(this.db, channel.id, spec.id);
      if (raced) return raced;
      throw err;
    }
  }

  participants(conversation: Conversation): Promise<Participant[]> {
    return listParticipants(this.db, [conversation.pk]);
  }

  /**
   * Makes the conversation's deferred provider sends due now (a session they waited for
   * is confirmed or failed) and wakes the local worker.
   */
  async wakeProviderSends(conversation: Conversation): Promise<void> {
    const n = await wakePendingJobs(this.db, JOB.providerSend, `send:${conversation.id}`, Date.now());
    if (n > 0) this.outbox.kick();
  }

  /** Whether an inbound event (source, key) was handled before: a redelivery to ignore. */
  async eventSeen(source: string, key: string): Promise<boolean> {
    const seen = await hasEventKey(this.db, source, key);
    if (seen) this.emit('duplicate', source);
    return seen;
  }

  /** Records an inbound event that stores no message; false when it was already recorded. */
  recordEvent(source: string, key: string): Promise<boolean> {
    return recordEventKey(this.db, source, key, Date.now());
  }

  async upsertParticipant(conversation: Conversation, p: Omit<Participant, 'conversationPk'>): Promise<void> {
    await upsertParticipant(this.db, { ...cleanParticipant(p), conversationPk: conversation.pk }, Date.now());
  }

  async updateConversation(
    conversation: Conversation,
    patch: Partial<{ status: ConversationStatus; seen: boolean; link: string; providerRef: string | null; providerState: string | null }>,
  ): Promise<void> {
    await updateConversation(this.db, conversation.pk, patch, Date.now());
    if (patch.status === 'closed') for (const hook of this.closedHooks) await hook(conversation);
  }

  /**
   * Stores a message from the platform side and queues its delivery to Pipedrive in one
   * transaction, deduplicated by the event key. Returns the stored message, or the
   * `duplicate` marker when this delivery was seen before.
   */
  async recordInbound(channel: Channel, m: InboundMessage, tx?: Tx): Promise<{ message: Message } | { duplicate: true }> {
    const run = async (t: Tx) => {
      const now = Date.now();
      if (!(await recordEventKey(t, m.dedupe.source, m.dedupe.key, now))) return null;
      // The event key serialises concurrent deliveries; the stored platform id outlives its
      // retention, so a replay after the keys were purged is still a duplicate.
      if (m.providerMessageId !== null && (await hasInboundWithProviderId(t, channel.id, m.providerMessageId))) return null;
      const id = newId('m');
      const stored = await insertMessage(
        t,
        {
          id,
          conversationPk: m.conversation.pk,
          channelId: channel.id,
          providerMessageId: m.providerMessageId,
          origin: m.origin ?? 'provider',
          senderId: clean(m.senderId),
          text: clean(m.text),
          status: 'sent',
          createdAt: m.createdAt,
        },
        (m.attachments ?? []).map((a) => ({ id: newId('a'), name: clean(a.name).slice(0, 255), mimeType: clean(a.mimeType).slice(0, 255), size: a.size, remoteUrl: clean(a.url) })),
        now,
      );
      await bumpActivity(t, m.conversation.pk, stored.seq, now);
      await this.queueReceive(t, m.conversation, id);
      for (const hook of this.storedHooks) await hook(t, m.conversation, stored);
      return stored;
    };
    const message = tx ? await run(tx) : await this.db.transaction(run);
    if (!message) {
      this.emit('duplicate', m.dedupe.source);
      return { duplicate: true };
    }
    // Inside the caller's transaction the row is not committed yet: leave the kick to the caller.
    if (!tx) {
      this.outbox.kick();
      this.emit('changed');
    }
    return { message };
  }

  /** Changes a message's status (delivered/read/failed) and re-sends it to Pipedrive with the same id. */
  async setMessageStatus(messageId: string, status: MessageStatus, opts: { error?: string | null; providerMessageId?: string | null; tx?: Tx } = {}): Promise<void> {
    const run = async (t: Tx) => {
      const message = await findMessageById(t, messageId);
      if (!message) return false;
      const conversation = await findConversationByPkOrThrow(t, message.conversationPk);
      await updateMessage(t, messageId, { status, error: opts.error ?? null, ...(opts.providerMessageId !== undefined ? { providerMessageId: opts.providerMessageId } : {}) }, Date.now());
      await this.queueReceive(t, conversation, messageId);
      return true;
    };
    const changed = opts.tx ? await run(opts.tx) : await this.db.transaction(run);
    if (changed && !opts.tx) {
      this.outbox.kick();
      this.emit('changed');
    }
  }

  /** Active channels served by one adapter (e.g. to open one realtime subscription per platform host). */
  async channelsOf(provider: string): Promise<Channel[]> {
    return (await listChannels(this.db)).filter((c) => c.provider === provider && c.status === 'active');
  }

  /** A message of the channel by the platform's id (answering a redelivered event with our original id). */
  findMessageByProviderId(channel: Channel, providerMessageId: string): Promise<Message | undefined> {
    return findMessageByProviderId(this.db, channel.id, providerMessageId);
  }

  /**
   * The platform says its users have read the conversation: every message the Pipedrive user
   * sent that is still `sent`/`delivered` becomes `read` (each re-sent to Pipedrive, same id).
   * Returns how many changed.
   */
  async markOutgoingRead(conversation: Conversation): Promise<number> {
    const changed = await this.db.transaction(async (tx) => {
      const unread = await listMessagesWithStatus(tx, conversation.pk, 'pipedrive', ['sent', 'delivered']);
      for (const m of unread) await this.setMessageStatus(m.id, 'read', { tx });
      return unread.length;
    });
    if (changed) {
      this.outbox.kick();
      this.emit('changed');
    }
    return changed;
  }

  /** Records the platform's id for a delivered message without telling Pipedrive (nothing it shows changed). */
  async setProviderMessageId(messageId: string, providerMessageId: string | null): Promise<void> {
    await updateMessage(this.db, messageId, { providerMessageId }, Date.now());
  }

  private async queueReceive(tx: Tx, conversation: Conversation, messageId: string): Promise<void> {
    await this.outbox.enqueue(tx, {
      kind: JOB.pipedriveReceive,
      payload: { messageId },
      orderingKey: `pd:${conversation.id}`,
      channelId: conversation.channelId,
    });
  }
}

async function findConversationByPkOrThrow(tx: Tx, pk: number): Promise<Conversation> {
  const c = await findConversationByPk(tx, pk);
  if (!c) throw new Error(`conversation ${pk} vanished`);
  return c;
}
