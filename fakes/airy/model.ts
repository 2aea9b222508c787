import { fakeAiryUuid } from './uuid.ts';

/** Airy's records as the fake keeps them (backend/avro/*.avsc, simplified). */
export interface FakeSource {
  id: string;
  token: string;
  name: string | null;
  imageUrl: string | null;
  actionEndpoint: string | null;
  createdAt: number;
}

export interface FakeChannel {
  id: string;
  source: string;
  sourceChannelId: string;
  connected: boolean;
  /** Flattened dot-keys, as Airy stores channel metadata. */
  metadata: Record<string, unknown>;
}

export interface FakeConversation {
  id: string;
  channelId: string;
  source: string;
  /** The source_sender_id of the latest contact message, not the posted id. */
  sourceConversationId: string | null;
  createdAt: number;
}

export type DeliveryState = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface FakeMessage {
  id: string;
  conversationId: string;
  channelId: string;
  source: string;
  senderId: string;
  content: unknown;
  fromContact: boolean;
  sentAt: number;
  deliveryState: DeliveryState;
  updatedAt: number | null;
  /** For outbound (/messages.send) messages. */
  sourceRecipientId: string | null;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** Flattens nested JSON objects to dot-keys (MetadataObjectMapper); arrays and scalars are leaves. */
export function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}

export function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = v;
  }
  return out;
}

/**
 * `sent_at` as Airy parses it (WebhookController): a number is epoch ms; a string must be an
 * ISO date-time with an offset or Z (an optional [Zone] suffix is accepted). Anything else
 * is a 500 in Airy (Instant.from throws), which the fake mirrors.
 */
export function parseSentAt(v: unknown): number | 'bad' {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v !== 'string') return 'bad';
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))(?:\[[^\]]+\])?$/.exec(v);
  if (!m) return 'bad';
  const t = Date.parse(m[1]!);
  return Number.isNaN(t) ? 'bad' : t;
}

export class AiryModel {
  sources = new Map<string, FakeSource>();
  channels = new Map<string, FakeChannel>();
  conversations = new Map<string, FakeConversation>();
  messages = new Map<string, FakeMessage>();
  /** subject ("conversation:<id>", "message:<id>", "channel:<id>") → flattened metadata. */
  metadata = new Map<string, Record<string, unknown>>();
  /** conversation id → ids of contact messages no Airy user has read yet. */
  unread = new Map<string, Set<string>>();

  channelId = (source: string, sourceChannelId: string) => fakeAiryUuid(source, sourceChannelId);
  conversationId = (source: string, sourceConversationId: string) => fakeAiryUuid(source, sourceConversationId);
  messageId = (source: string, sourceMessageId: string) => fakeAiryUuid(source, sourceMessageId);

  /** Merges flattened keys into a subject's metadata; returns the full nested map after the change. */
  setMetadata(subject: string, values: Record<string, unknown>): Record<string, unknown> {
    const current = { ...(this.metadata.get(subject) ?? {}), ...flatten(values) };
    this.metadata.set(subject, current);
    return nest(current);
  }

  metadataOf(subject: string): Record<string, unknown> {
    return nest(this.metadata.get(subject) ?? {});
  }

  /** Upserts a message, keeping the conversation's derived fields current. Returns whether it was new. */
  upsertMessage(m: FakeMessage): boolean {
    const isNew = !this.messages.has(m.id);
    this.messages.set(m.id, m);
    let c = this.conversations.get(m.conversationId);
    if (!c) {
      c = { id: m.conversationId, channelId: m.channelId, source: m.source, sourceConversationId: null, createdAt: m.sentAt };
      this.conversations.set(c.id, c);
    }
    if (m.sentAt < c.createdAt) c.createdAt = m.sentAt;
    if (m.fromContact) c.sourceConversationId = m.senderId;
    return isNew;
  }

  messagesIn(conversationId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.conversationId === conversationId).sort((a, b) => a.sentAt - b.sentAt);
  }

  channelPayload(c: FakeChannel) {
    return { id: c.id, source: c.source, source_channel_id: c.sourceChannelId, connected: c.connected, metadata: nest(c.metadata) };
  }

  sourcePayload(s: FakeSource, withToken: boolean) {
    return { source_id: s.id, token: withToken ? s.token : null, action_endpoint: s.actionEndpoint, name: s.name, image_url: s.imageUrl };
  }

  /** The WebSocket `message.created` payload, delivery state lowercase. */
  messageEvent(m: FakeMessage) {
    return {
      type: 'message.created',
      timestamp: m.sentAt,
      payload: {
        conversation_id: m.conversationId,
        channel_id: m.channelId,
        message: {
          id: m.id,
          content: m.content,
          sent_at: iso(m.sentAt),
          delivery_state: m.deliveryState.toLowerCase(),
          from_contact: m.fromContact,
          source: m.source,
          metadata: null,
          sender: { id: m.senderId, name: null, avatar_url: null },
        },
      },
    };
  }
}
