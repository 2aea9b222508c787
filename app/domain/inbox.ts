import { AppError, notFound } from '../ground/failures.ts';
import type { Logger } from '../ground/log.ts';
import { JOB } from '../ground/job-kinds.ts';
import type { JobQueue } from '../runtime/job-queue.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { listTemplates, markChannelDeleted } from '../store/channels.ts';
import type { ChannelCache } from './channel-cache.ts';
import { findChannelParticipant, findConversation, postedTo } from '../store/conversations.ts';
import type { Db, Tx } from '../store/db.ts';
import { replayDeadJobs } from '../store/jobs.ts';
import type { FileStore } from '../store/files.ts';
import { findMessage, findMessageById, insertMessages, type NewAttachment, type NewMessage } from '../store/messages.ts';
import { conversationPage, listConversationPage } from './conversation-pages.ts';
import { GroupCommit } from './group-commit.ts';
import { clean, findConversationByPkOrThrow, InboxCore, newId, type InboxEvents, type StoredHook, type StoredMessage } from './inbox-core.ts';
import type { ConversationSpec } from './platform-port.ts';
import { DEFAULT_INGEST, PlatformInbox, type IngestOptions } from './platform-inbox.ts';
import type { Quotas } from './quotas.ts';
import type { Channel, Conversation, Message, Participant, Template } from '../ground/records.ts';

export { newId, type InboxEvents, type StoredHook, type StoredMessage };
export type { InboundMessage } from './platform-port.ts';

export interface StagedFile {
  path: string;
  originalName: string;
  mimeType: string;
  size: number;
}

/**
 * The domain's two façades over one core: `inbox` for Pipedrive's reads and commands (the
 * manifest endpoints, the workspace surface, the flows), `platform` for what adapters and
 * the send job record. They share the stored-message hooks and the change events.
 */
export function createInboxes(db: Db, secrets: Secrets, outbox: JobQueue, files: FileStore, log: Logger, quotas?: Quotas, ingest?: IngestOptions): { inbox: Inbox; platform: PlatformInbox } {
  const core = new InboxCore(db, outbox);
  return { inbox: new Inbox(core, secrets, files, log, quotas, ingest), platform: new PlatformInbox(core, ingest) };
}

/** One message a Pipedrive user posted, waiting for its batch. */
interface Post {
  channel: Channel;
  conversation: Conversation;
  message: NewMessage;
  attachments: NewAttachment[];
}

/**
 * The Pipedrive-facing façade of the domain: the manifest endpoints' reads, and the commands
 * a Pipedrive user or admin gives (post, send again, delete a channel, open a conversation
 * from a record). No HTTP here. What platforms report goes through `PlatformInbox`.
 */
export class Inbox {
  private readonly db: Db;
  private readonly outbox: JobQueue;
  /**
   * Concurrent postMessage calls, grouped into one transaction each (group commit, as the
   * inbound events in PlatformInbox, with the same bound), one batch at a time in arrival
   * order, so each conversation's delivery jobs are queued in the order its posts came.
   */
  private readonly posts: GroupCommit<Post, Message>;

  constructor(
    private readonly core: InboxCore,
    private readonly secrets: Secrets,
    private readonly files: FileStore,
    private readonly log: Logger,
    private readonly quotas?: Quotas,
    ingest: IngestOptions = DEFAULT_INGEST,
  ) {
    this.db = core.db;
    this.outbox = core.outbox;
    this.posts = new GroupCommit<Post, Message>(
      core.db,
      ingest.maxBatch,
      (tx, posts) => this.storePosts(tx, posts),
      () => this.core.committed(),
    );
  }

  /** Listens to what the domain tells observers (`changed`, `duplicate`). */
  on<K extends keyof InboxEvents>(event: K, listener: (...args: InboxEvents[K]) => void): this {
    this.core.on(event, listener as never);
    return this;
  }

  /** Adds work to every message's storing transaction (e.g. scheduling a transcript flush). */
  onStored(hook: StoredHook): void {
    this.core.onStored(hook);
  }

  /** Adds work after a conversation is closed (e.g. a platform session ended). */
  onClosed(hook: (conversation: Conversation) => Promise<void>): void {
    this.core.closedHooks.push(hook);
  }

  /**
   * An active channel by the id Pipedrive uses, or NOT_FOUND. Through the channel cache: a
   * deletion in this process is seen at once, one in another process within LOOKUP_TTL_MS.
   */
  async activeChannel(providerChannelId: string): Promise<Channel> {
    const channel = await this.core.channels.byProviderChannelId(providerChannelId);
    if (!channel || channel.status === 'deleted') throw notFound('Channel');
    return channel;
  }

  /** Tells the lookups that a channel's row changed or went, after the commit. */
  channelChanged(channelId: string): void {
    this.core.channels.changed(channelId);
  }

  /** The channel cache, for the other lookups by our id (the Directory). */
  get channels(): ChannelCache {
    return this.core.channels;
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

  /** A conversation of the channel, by our id or the key of its Pipedrive user. */
  findConversation(channel: Channel, by: { id: string } | { sourceUserKey: string }): Promise<Conversation | undefined> {
    return this.core.findConversation(channel, by);
  }

  /** Finds or creates a conversation (a standing one, or one opened from a Pipedrive record). */
  ensureConversation(channel: Channel, spec: ConversationSpec): Promise<Conversation> {
    return this.core.ensureConversation(channel, spec);
  }

  /**
   * Stores a message a Pipedrive user wrote, adopts its staged files, and queues the
   * delivery to the platform, all before answering Pipedrive. Concurrent posts share one
   * transaction (group commit, `GroupCommit`); each resolves only after the transaction
   * holding it committed, and a post of a failed batch is written again alone, so only a post
   * that cannot be stored fails. Files adopted for a message that is not stored are removed
   * again; files still staged are the caller's (the HTTP upload reader removes them when the
   * request ends).
   */
  async postMessage(channel: Channel, input: { conversationId: string; text: string; files: StagedFile[] }): Promise<Message> {
    const adopted: string[] = [];
    try {
      // The conversation and its source user are fixed facts, so they come through the lookup
      // cache: read each time, they were a round trip of their own per post on PostgreSQL,
      // more than a post's share of its whole batch under load.
      const found = await this.core.postTarget(channel, input.conversationId);
      if (!found) throw notFound('Conversation');
      const { conversation, sourceUserId } = found;
      await this.quotas?.admitPost(
        channel,
        input.files.reduce((n, f) => n + f.size, 0),
      );
      if (sourceUserId === undefined) throw new AppError('INVALID_BODY', 'This conversation has no source_user to send as');

      const attachments: NewAttachment[] = [];
      for (const f of input.files) {
        const id = newId('a');
        await this.files.adopt(f.path, id);
        adopted.push(id);
        attachments.push({ id, name: clean(f.originalName).slice(0, 255) || 'file', mimeType: clean(f.mimeType).slice(0, 255) || 'application/octet-stream', size: f.size, storageKey: id });
      }
      const message: NewMessage = {
        id: newId('m'),
        conversationPk: conversation.pk,
        channelId: channel.id,
        origin: 'pipedrive',
        senderId: sourceUserId,
        text: input.text,
        status: 'sent',
        createdAt: Date.now(),
      };
      return await this.posts.submit({ channel, conversation, message, attachments });
    } catch (err) {
      // Best effort: a failing store (e.g. the bucket unreachable) must not hide the original error.
      await Promise.allSettled(adopted.map((key) => this.files.remove(key)));
      throw err;
    }
  }

  /** Settles every post submitted so far (at shutdown, before the database closes). */
  async drain(): Promise<void> {
    await this.posts.drain();
  }

  /**
   * Posts' statements, inside the given transaction, a few per batch whatever its size: the
   * messages (in arrival order, so seq follows it) and their attachments, the conversations'
   * activity and unseen mark, the delivery jobs (ids in arrival order: per conversation, the
   * order of its posts), then the stored-message hooks once for the batch.
   */
  private async storePosts(tx: Tx, posts: readonly Post[]): Promise<Message[]> {
    const now = Date.now();
    const stored = await insertMessages(
      tx,
      posts.map((p) => ({ message: p.message, attachments: p.attachments })),
      now,
    );
    // Its activity moves, and, as a new message from the source user is one the end user
    // has not seen yet, the conversation is unseen from this commit on. Leaving that to the
    // platform's unread signal (Airy's unread_count) let getConversations report
    // `seen: true` next to a message nobody had read, until that event happened to be processed.
    await postedTo(
      tx,
      posts.map((p, i) => ({ pk: p.conversation.pk, seq: stored[i]!.seq })),
      now,
    );
    await this.outbox.enqueueMany(
      tx,
      posts.map((p) => ({ kind: JOB.platformSend, payload: { messageId: p.message.id }, orderingKey: `send:${p.conversation.id}`, channelId: p.channel.id })),
    );
    await this.core.storedMany(
      tx,
      posts.map((p, i) => ({ conversation: p.conversation, message: stored[i]! })),
    );
    return stored;
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
      await this.core.setMessageStatus(messageId, 'sent', { error: null, tx });
      const replayed = deadJobId === undefined ? 0 : await replayDeadJobs(tx, { id: deadJobId, channelIds: [message.channelId] }, Date.now());
      if (!replayed) await this.outbox.enqueue(tx, { kind: JOB.platformSend, payload: { messageId }, orderingKey: `send:${conversation.id}`, channelId: message.channelId });
    });
    this.core.committed();
    return (await findMessageById(this.db, messageId))!;
  }

  /** Marks the channel deleted and queues the platform-side disconnect (idempotent). */
  async deleteChannel(channel: Channel): Promise<void> {
    const queued = await this.db.transaction(async (tx) => {
      const changed = await markChannelDeleted(tx, channel.id, Date.now());
      if (changed) {
        await this.outbox.enqueue(tx, { kind: JOB.platformDisconnect, payload: { channelId: channel.id }, idempotencyKey: `disconnect:${channel.id}`, channelId: channel.id });
      }
      return changed;
    });
    this.core.channels.changed(channel.id);
    if (queued) this.outbox.kick();
  }
}
