import { EventEmitter } from 'node:events';
import { v7 as uuidv7 } from 'uuid';
import { JOB } from '../ground/job-kinds.ts';
import type { JobQueue } from '../runtime/job-queue.ts';
import {
  findConversation,
  findConversationBy,
  findConversationByPk,
  findConversationWithSourceUser,
  insertConversation,
  listParticipants,
  updateConversation,
  upsertParticipant,
} from '../store/conversations.ts';
import type { Db, Tx } from '../store/db.ts';
import type { NewJob } from '../store/jobs.ts';
import { findMessageById, updateMessage } from '../store/messages.ts';
import type { Channel, Conversation, Message, MessageStatus, Participant } from '../ground/records.ts';
import { ChannelCache } from './channel-cache.ts';
import { CONVERSATION_TTL_MS, LookupCache } from './lookup-cache.ts';
import type { ConversationPatch, ConversationSpec } from './platform-port.ts';

/**
 * A new record id: the prefix and a UUIDv7 without dashes (https://www.rfc-editor.org/rfc/rfc9562#name-uuid-version-7).
 * Its first 48 bits are the time in ms, so ids made one after the other sort together: each new
 * message lands on the last page of the unique index on `messages.id` instead of a random one,
 * which every commit would otherwise write out again (sqlite bench, Airy webhooks: ~20 % fewer
 * bytes written per message). The remaining 74 bits are random, so an id is still unguessable;
 * it tells when the record was made, which every record's created_at shows anyway.
 */
export const newId = (prefix: string) => `${prefix}_${uuidv7().replaceAll('-', '')}`;

/** Platform text may carry NUL bytes, which PostgreSQL text columns reject: drop them. */
export const clean = (s: string) => (s.includes('\u0000') ? s.replaceAll('\u0000', '') : s);
export const cleanParticipant = <P extends { name: string; id: string }>(p: P): P => ({ ...p, name: clean(p.name), id: clean(p.id) });

/** Where a Pipedrive user's message goes: the conversation, and the source user it is sent as. */
export interface PostTarget {
  conversation: Conversation;
  sourceUserId: string | undefined;
}

/** A message just stored, with its conversation. */
export interface StoredMessage {
  conversation: Conversation;
  message: Message;
  /**
   * Whether the conversation is about a Pipedrive record (it has a record link), when the write
   * that stored the message read it too (the PostgreSQL ingest batch); undefined otherwise, and
   * a hook that needs it reads it.
   */
  aboutRecord?: boolean;
}

/**
 * Runs inside the transaction that stores messages, so what it writes commits (or not) with
 * them: once per transaction with every message it stored (several when inbound events were
 * written together, see PlatformInbox.recordInbound), in the order they were stored.
 */
export type StoredHook = (tx: Tx, stored: readonly StoredMessage[]) => Promise<void>;

/** What the domain tells observers (metrics, live views); `duplicate` carries the dedupe source (`<platform>:<channel>`). */
export interface InboxEvents {
  duplicate: [source: string];
  /** A message was stored or changed (committed) in this process: live views may look now. */
  changed: [];
}

/**
 * What the two façades share (the Pipedrive-facing `Inbox` and the platform-facing
 * `PlatformInbox`): the hooks that run with every stored message, the change events, and the
 * writes both sides make. Internal to the domain: the rest of the app sees the façades.
 */
export class InboxCore extends EventEmitter<InboxEvents> {
  private readonly storedHooks: StoredHook[] = [];
  readonly closedHooks: Array<(conversation: Conversation) => Promise<void>> = [];
  /** Channels by either id, for the webhooks and the Channels API (one cache per process). */
  readonly channels: ChannelCache;
  /**
   * Conversations as the hot webhook paths look them up (by the platform's id, or by ours
   * through a session): keys carry the channel, entries are filed under `conv:<pk>`.
   */
  private readonly conversations = new LookupCache<Conversation>({ max: 20_000, ttlMs: CONVERSATION_TTL_MS });
  /** A conversation's participants, filed under the same tag. */
  private readonly participantLists = new LookupCache<readonly Participant[]>({ max: 20_000, ttlMs: CONVERSATION_TTL_MS });
  /** Where postMessage writes, by channel and our conversation id, filed under the same tag. */
  private readonly postTargets = new LookupCache<PostTarget>({ max: 20_000, ttlMs: CONVERSATION_TTL_MS });

  constructor(
    readonly db: Db,
    readonly outbox: JobQueue,
  ) {
    super();
    this.channels = new ChannelCache(db);
  }

  onStored(hook: StoredHook): void {
    this.storedHooks.push(hook);
  }

  async storedMany(tx: Tx, stored: readonly StoredMessage[]): Promise<void> {
    if (!stored.length) return;
    for (const hook of this.storedHooks) await hook(tx, stored);
  }

  /** After a commit that queued jobs and changed messages: wake the worker and the live views. */
  committed(): void {
    this.outbox.kick();
    this.emit('changed');
  }

  findConversation(channel: Channel, by: { id: string } | { platformRef: string } | { sourceUserKey: string }): Promise<Conversation | undefined> {
    return 'id' in by ? findConversation(this.db, channel.id, by.id) : findConversationBy(this.db, channel.id, by);
  }

  /**
   * The same lookup, answered from the cache when it can. Which conversation it is (pk, id,
   * channel) is exact. The other fields are as of the read: up to CONVERSATION_TTL_MS behind a change
   * made by another process (this process's updateConversation forgets the entry at once), and
   * the activity (lastSeq, seen, updatedAt), which every message moves, is not kept current at
   * all. For the hot webhook paths, which need to know which conversation; a decision on its
   * state reads it with findConversation.
   */
  knownConversation(channel: Channel, by: { id: string } | { platformRef: string }): Promise<Conversation | undefined> {
    const key = 'id' in by ? `${channel.id}\u0000id\u0000${by.id}` : `${channel.id}\u0000ref\u0000${by.platformRef}`;
    return this.conversations.get(
      key,
      async () => {
        const c = await this.findConversation(channel, by);
        return c && Object.freeze(c);
      },
      (c) => [conversationTag(c.pk)],
    );
  }

  /**
   * The conversation a Pipedrive user posts to, with the source user the message is sent as,
   * answered from the cache when it can. Only fixed facts are used from it: which conversation
   * it is (pk, id, channel), and its first source user, which stays the first (participants
   * are never removed, and a later one comes after it in pk order). A conversation without a
   * source user is not kept, so one added later is found at once. As with knownConversation,
   * the activity fields may be old: postMessage's writes do not read them.
   */
  async postTarget(channel: Channel, conversationId: string): Promise<PostTarget | undefined> {
    let incomplete: PostTarget | undefined;
    const target = await this.postTargets.get(
      `${channel.id}\u0000${conversationId}`,
      async () => {
        const found = await findConversationWithSourceUser(this.db, channel.id, conversationId);
        if (found?.sourceUserId !== undefined) return Object.freeze({ conversation: Object.freeze(found.conversation), sourceUserId: found.sourceUserId });
        incomplete = found;
        return undefined;
      },
      (t) => [conversationTag(t.conversation.pk)],
    );
    return target ?? incomplete;
  }

  /** Participants of a conversation, oldest first; through the cache (a participant's name may be up to CONVERSATION_TTL_MS old). */
  async participants(conversation: Pick<Conversation, 'pk' | 'channelId'>): Promise<readonly Participant[]> {
    const list = await this.participantLists.get(
      `${conversation.channelId}\u0000${conversation.pk}`,
      async () => Object.freeze((await listParticipants(this.db, [conversation.pk])).map((p) => Object.freeze(p))),
      () => [conversationTag(conversation.pk)],
    );
    return list ?? [];
  }

  /** A conversation's row or participants changed (after the commit): the next lookup reads them again. */
  conversationChanged(pk: number): void {
    const tag = conversationTag(pk);
    this.conversations.forget(tag);
    this.participantLists.forget(tag);
    this.postTargets.forget(tag);
  }

  /**
   * Finds or creates a conversation with its participants (exactly one source_user and at
   * least one end_user). A concurrent creator of the same conversation wins harmlessly.
   */
  async ensureConversation(channel: Channel, spec: ConversationSpec): Promise<Conversation> {
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
            platformRef: spec.platformRef ?? null,
            platformState: spec.platformState ?? null,
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

  async updateConversation(conversation: Conversation, patch: ConversationPatch): Promise<void> {
    try {
      await updateConversation(this.db, conversation.pk, patch, Date.now());
    } finally {
      this.conversationChanged(conversation.pk);
    }
    if (patch.status === 'closed') for (const hook of this.closedHooks) await hook(conversation);
  }

  async upsertParticipant(conversation: Conversation, p: Omit<Participant, 'conversationPk'>): Promise<void> {
    try {
      await upsertParticipant(this.db, { ...cleanParticipant(p), conversationPk: conversation.pk }, Date.now());
    } finally {
      this.conversationChanged(conversation.pk);
    }
  }

  /** Changes a message's status (delivered/read/failed) and re-sends it to Pipedrive with the same id. */
  async setMessageStatus(messageId: string, status: MessageStatus, opts: { error?: string | null; platformMessageId?: string | null; tx?: Tx } = {}): Promise<void> {
    const run = async (t: Tx) => {
      const message = await findMessageById(t, messageId);
      if (!message) return false;
      const conversation = await findConversationByPkOrThrow(t, message.conversationPk);
      await updateMessage(t, messageId, { status, error: opts.error ?? null, ...(opts.platformMessageId !== undefined ? { platformMessageId: opts.platformMessageId } : {}) }, Date.now());
      await this.queueReceive(t, conversation, messageId);
      return true;
    };
    const changed = opts.tx ? await run(opts.tx) : await this.db.transaction(run);
    if (changed && !opts.tx) this.committed();
  }

  /** The job that delivers a message (new or changed) to Pipedrive, in the conversation's order. */
  receiveJob(conversation: Pick<Conversation, 'id' | 'channelId'>, messageId: string): NewJob {
    return this.outbox.row({ kind: JOB.pipedriveReceive, payload: { messageId }, orderingKey: `pd:${conversation.id}`, channelId: conversation.channelId });
  }

  /** Queues the delivery of a message (new or changed) to Pipedrive, in the conversation's order. */
  async queueReceive(tx: Tx, conversation: Pick<Conversation, 'id' | 'channelId'>, messageId: string): Promise<void> {
    await this.outbox.enqueue(tx, this.receiveJob(conversation, messageId));
  }
}

const conversationTag = (pk: number) => `conv:${pk}`;

export async function findConversationByPkOrThrow(tx: Tx, pk: number): Promise<Conversation> {
  const c = await findConversationByPk(tx, pk);
  if (!c) throw new Error(`conversation ${pk} vanished`);
  return c;
}
