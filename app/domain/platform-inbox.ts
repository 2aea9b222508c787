import { listChannels } from '../store/channels.ts';
import { findChannelParticipant } from '../store/conversations.ts';
import type { Tx } from '../store/db.ts';
import { hasEventKey, recordEventKey } from '../store/events.ts';
import { storeInboundBatch, type InboundRow } from '../store/ingest-batch.ts';
import { wakePendingJobs } from '../store/jobs.ts';
import { findMessageByPlatformId, setStatusWhere, updateMessage } from '../store/messages.ts';
import type { Channel, Conversation, Message, MessageStatus, Participant } from '../ground/records.ts';
import { JOB } from '../ground/job-kinds.ts';
import { GroupCommit } from './group-commit.ts';
import { clean, newId, type InboxCore } from './inbox-core.ts';
import type { ConversationPatch, ConversationSpec, InboundMessage, PlatformPort } from './platform-port.ts';

/** How inbound events are grouped (INGEST_BATCH_MAX_EVENTS): at most `maxBatch` per transaction; 1 = one transaction per event. */
export interface IngestOptions {
  readonly maxBatch: number;
}

export const DEFAULT_INGEST: IngestOptions = { maxBatch: 64 };

/** One inbound event waiting for its batch. */
interface Inbound {
  channel: Channel;
  m: InboundMessage;
}

/**
 * The platform-facing side of the domain: what adapters (through `PlatformPort`) and the
 * send job use to record what a platform said or did. Pipedrive's reads and commands are
 * the other façade, `Inbox`.
 */
export class PlatformInbox implements PlatformPort {
  /**
   * Concurrent recordInbound calls, grouped into one transaction each (group commit), one
   * batch at a time in arrival order, so each conversation's events commit in the order they
   * came. One writer on PostgreSQL too: parallel lanes (by conversation) made batches so small
   * that they cost more round trips per event than one lane of bigger batches (npm run bench).
   */
  private readonly batches: GroupCommit<Inbound, Message | null>;

  constructor(
    private readonly core: InboxCore,
    opts: IngestOptions = DEFAULT_INGEST,
  ) {
    this.batches = new GroupCommit<Inbound, Message | null>(
      core.db,
      opts.maxBatch,
      (tx, events) => this.storeInbound(tx, events),
      (inputs, results) => this.afterCommit(inputs, results),
    );
  }

  findConversation(channel: Channel, by: { id: string } | { platformRef: string } | { sourceUserKey: string }): Promise<Conversation | undefined> {
    return this.core.findConversation(channel, by);
  }

  knownConversation(channel: Channel, by: { id: string } | { platformRef: string }): Promise<Conversation | undefined> {
    return this.core.knownConversation(channel, by);
  }

  ensureConversation(channel: Channel, spec: ConversationSpec): Promise<Conversation> {
    return this.core.ensureConversation(channel, spec);
  }

  updateConversation(conversation: Conversation, patch: ConversationPatch): Promise<void> {
    return this.core.updateConversation(conversation, patch);
  }

  participants(conversation: Conversation): Promise<readonly Participant[]> {
    return this.core.participants(conversation);
  }

  findParticipant(channel: Channel, participantId: string): Promise<Participant | undefined> {
    return findChannelParticipant(this.core.db, channel.id, participantId);
  }

  upsertParticipant(conversation: Conversation, p: Omit<Participant, 'conversationPk'>): Promise<void> {
    return this.core.upsertParticipant(conversation, p);
  }

  /**
   * Stores a message from the platform side and queues its delivery to Pipedrive in one
   * transaction, deduplicated by the event key. Returns the stored message, or the
   * `duplicate` marker when this delivery was seen before. Concurrent calls share one
   * transaction (group commit, `GroupCommit`); each resolves only after the transaction
   * holding it committed. Inside a caller's transaction (`tx`) the event is written there and
   * the caller wakes the worker after its commit.
   */
  async recordInbound(channel: Channel, m: InboundMessage, tx?: Tx): Promise<{ message: Message } | { duplicate: true }> {
    if (tx) {
      const [message] = await this.storeInbound(tx, [{ channel, m }]);
      if (!message) this.core.emit('duplicate', m.dedupe.source);
      return message ? { message } : { duplicate: true };
    }
    const message = await this.batches.submit({ channel, m });
    return message ? { message } : { duplicate: true };
  }

  /** Settles every inbound event submitted so far (at shutdown, before the database closes). */
  async drain(): Promise<void> {
    await this.batches.drain();
  }

  /** After a commit: one duplicate event per redelivery, one wake-up for what was stored. */
  private afterCommit(inputs: readonly Inbound[], results: ReadonlyArray<Message | null>): void {
    let stored = false;
    results.forEach((message, i) => {
      if (message) stored = true;
      else this.core.emit('duplicate', inputs[i]!.m.dedupe.source);
    });
    if (stored) this.core.committed();
  }

  /**
   * Inbound events' writes, inside the given transaction (storeInboundBatch: on PostgreSQL one
   * statement whatever the batch's size), then the stored-message hooks once for the batch.
   * Each event gets the result it would get written alone, after the ones before it: its
   * message, or null when it is a redelivery (its key recorded before or earlier in the batch,
   * or its platform id stored before or earlier in the batch).
   */
  private async storeInbound(tx: Tx, events: readonly Inbound[]): Promise<Array<Message | null>> {
    const rows = events.map(({ channel, m }): InboundRow => {
      const id = newId('m');
      return {
        key: m.dedupe,
        message: {
          id,
          conversationPk: m.conversation.pk,
          channelId: channel.id,
          platformMessageId: m.platformMessageId,
          origin: m.origin ?? 'platform',
          senderId: clean(m.senderId),
          text: clean(m.text),
          status: 'sent',
          createdAt: m.createdAt,
        },
        attachments: (m.attachments ?? []).map((a) => ({ id: newId('a'), name: clean(a.name).slice(0, 255), mimeType: clean(a.mimeType).slice(0, 255), size: a.size, remoteUrl: clean(a.url) })),
        job: this.core.receiveJob(m.conversation, id),
      };
    });
    const results = await storeInboundBatch(tx, rows, Date.now());
    const stored = results.flatMap((r, i) => (r ? [{ conversation: events[i]!.m.conversation, ...r }] : []));
    await this.core.storedMany(tx, stored);
    return results.map((r) => r?.message ?? null);
  }

  async eventSeen(source: string, key: string): Promise<boolean> {
    const seen = await hasEventKey(this.core.db, source, key);
    if (seen) this.core.emit('duplicate', source);
    return seen;
  }

  recordEvent(source: string, key: string): Promise<boolean> {
    return recordEventKey(this.core.db, source, key, Date.now());
  }

  findMessageByPlatformId(channel: Channel, platformMessageId: string): Promise<Message | undefined> {
    return findMessageByPlatformId(this.core.db, channel.id, platformMessageId);
  }

  setMessageStatus(messageId: string, status: MessageStatus, opts: { error?: string | null; platformMessageId?: string | null; tx?: Tx } = {}): Promise<void> {
    return this.core.setMessageStatus(messageId, status, opts);
  }

  /**
   * Every message the Pipedrive user sent that is still `sent`/`delivered` becomes `read` in
   * one statement, and each is re-sent to Pipedrive (same id), oldest first.
   */
  async markOutgoingRead(conversation: Conversation): Promise<number> {
    const changed = await this.core.db.transaction(async (tx) => {
      const ids = await setStatusWhere(tx, conversation.pk, 'pipedrive', ['sent', 'delivered'], 'read', Date.now());
      for (const id of ids) await this.core.queueReceive(tx, conversation, id);
      return ids.length;
    });
    if (changed) this.core.committed();
    return changed;
  }

  async wakePlatformSends(conversation: Conversation): Promise<void> {
    const n = await wakePendingJobs(this.core.db, JOB.platformSend, `send:${conversation.id}`, Date.now());
    if (n > 0) this.core.outbox.kick();
  }

  /** Active channels served by one adapter kind. */
  async channelsOf(kind: string): Promise<Channel[]> {
    return (await listChannels(this.core.db)).filter((c) => c.platform === kind && c.status === 'active');
  }

  /**
   * Records the platform's id for a message we sent, without telling Pipedrive (nothing it
   * shows changed). Only the send job calls it: adapters report the id, they do not write it.
   */
  async recordPlatformMessageId(messageId: string, platformMessageId: string | null): Promise<void> {
    await updateMessage(this.core.db, messageId, { platformMessageId: platformMessageId }, Date.now());
  }
}
