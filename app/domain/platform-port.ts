import type { Channel, Conversation, ConversationStatus, Message, MessageStatus, Participant } from '../ground/records.ts';

/**
 * What a platform adapter may ask of the domain: the few operations Airy and Alvaria really
 * use, and nothing else (no database handle, no Pipedrive commands). The domain implements
 * it (`PlatformInbox`); an adapter test can hand in a small fake instead.
 */
export interface PlatformPort {
  // ── conversations and participants ──
  findConversation(channel: Channel, by: { id: string } | { platformRef: string } | { sourceUserKey: string }): Promise<Conversation | undefined>;
  /**
   * The same lookup from a short-lived cache, for the hot webhook paths: which conversation it
   * is (pk, id, channel) is exact, its other fields may be up to 30 s old and its
   * activity (lastSeq, seen) is not current. Decide on state with `findConversation`.
   */
  knownConversation(channel: Channel, by: { id: string } | { platformRef: string }): Promise<Conversation | undefined>;
  /** Finds or creates a conversation with its participants (one source_user, at least one end_user). */
  ensureConversation(channel: Channel, spec: ConversationSpec): Promise<Conversation>;
  updateConversation(conversation: Conversation, patch: ConversationPatch): Promise<void>;
  /** Oldest first. Cached: a participant another process added or renamed may show up to 30 s late. */
  participants(conversation: Conversation): Promise<readonly Participant[]>;
  /** The channel's most recently seen participant with this id, in any conversation. */
  findParticipant(channel: Channel, participantId: string): Promise<Participant | undefined>;
  upsertParticipant(conversation: Conversation, p: Omit<Participant, 'conversationPk'>): Promise<void>;

  // ── what the platform sends us ──
  /** Stores a platform-side message and queues it to Pipedrive, once per dedupe key. */
  recordInbound(channel: Channel, m: InboundMessage): Promise<{ message: Message } | { duplicate: true }>;
  /** Whether an inbound event was handled before (a redelivery to ignore). */
  eventSeen(source: string, key: string): Promise<boolean>;
  /** Records an inbound event that stores no message; false when it was already recorded. */
  recordEvent(source: string, key: string): Promise<boolean>;

  // ── what happened to the messages we sent ──
  findMessageByPlatformId(channel: Channel, platformMessageId: string): Promise<Message | undefined>;
  /** Changes a message's status (delivered/read/failed) and tells Pipedrive (same message id). */
  setMessageStatus(messageId: string, status: MessageStatus, opts?: { error?: string | null; platformMessageId?: string | null }): Promise<void>;
  /** The platform's users read the conversation: our `sent`/`delivered` messages become `read`. Returns how many changed. */
  markOutgoingRead(conversation: Conversation): Promise<number>;
  /** Makes the conversation's deferred sends due now (what they waited for happened). */
  wakePlatformSends(conversation: Conversation): Promise<void>;

  // ── channels ──
  /** Active channels served by one adapter kind (e.g. one realtime subscription per platform host). */
  channelsOf(kind: string): Promise<Channel[]>;
}

export interface ConversationSpec {
  id: string;
  platformRef?: string | null;
  platformState?: string | null;
  sourceUserKey?: string | null;
  link?: string;
  participants: Array<Omit<Participant, 'conversationPk'>>;
}

export type ConversationPatch = Partial<{ status: ConversationStatus; seen: boolean; link: string; platformRef: string | null; platformState: string | null }>;

export interface InboundMessage {
  /** Where the event came from and its delivery id: a second delivery is ignored. */
  dedupe: { source: string; key: string };
  conversation: Conversation;
  senderId: string;
  text: string;
  platformMessageId: string | null;
  createdAt: number;
  origin?: 'platform' | 'system';
  attachments?: Array<{ name: string; mimeType: string; size: number | null; url: string }>;
}
