import { listChannels } from '../store/channels.ts';
import { findChannelParticipant, bumpActivity } from '../store/conversations.ts';
import type { Tx } from '../store/db.ts';
import { hasEventKey, recordEventKey } from '../store/events.ts';
import { wakePendingJobs } from '../store/jobs.ts';
import { findMessageByPlatformId, hasInboundWithPlatformId, insertMessage, setStatusWhere, updateMessage } from '../store/messages.ts';
import type { Channel, Conversation, Message, MessageStatus, Participant } from '../ground/records.ts';
import { JOB } from '../ground/job-kinds.ts';
import { clean, newId, type InboxCore } from './inbox-core.ts';
import type { ConversationPatch, ConversationSpec, InboundMessage, PlatformPort } from './platform-port.ts';

/**
 * The platform-facing side of the domain: what adapters (through `PlatformPort`) and the
 * send job use to record what a platform said or did. Pipedrive's reads and commands are
 * the other façade, `Inbox`.
 */
export class PlatformInbox implements PlatformPort {
  constructor(private readonly core: InboxCore) {}

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
   * `duplicate` marker when this delivery was seen before. Inside a caller's transaction
   * (`tx`) the caller wakes the worker after its commit.
   */
  async recordInbound(channel: Channel, m: InboundMessage, tx?: Tx): Promise<{ message: Message } | { duplicate: true }> {
    const run = async (t: Tx) => {
      const now = Date.now();
      if (!(await recordEventKey(t, m.dedupe.source, m.dedupe.key, now))) return null;
      // The event key serialises concurrent deliveries; the stored platform id outlives its
      // retention, so a replay after the keys were purged is still a duplicate.
      if (m.platformMessageId !== null && (await hasInboundWithPlatformId(t, channel.id, m.platformMessageId))) return null;
      const id = newId('m');
      const stored = await insertMessage(
        t,
        {
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
        (m.attachments ?? []).map((a) => ({ id: newId('a'), name: clean(a.name).slice(0, 255), mimeType: clean(a.mimeType).slice(0, 255), size: a.size, remoteUrl: clean(a.url) })),
        now,
      );
      await bumpActivity(t, m.conversation.pk, stored.seq, now);
      await this.core.queueReceive(t, m.conversation, id);
      await this.core.stored(t, m.conversation, stored);
      return stored;
    };
    const message = tx ? await run(tx) : await this.core.db.transaction(run);
    if (!message) {
      this.core.emit('duplicate', m.dedupe.source);
      return { duplicate: true };
    }
    // Inside the caller's transaction the row is not committed yet: leave the kick to the caller.
    if (!tx) this.core.committed();
    return { message };
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
