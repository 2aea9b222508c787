import type { Caller } from './auth.ts';
import { flatten, parseSentAt, type AiryModel, type FakeMessage, type FakeSource } from './model.ts';

/** What the routes need of the fake server (declared here so routes and server do not import each other). */
export interface RouteHost {
  readonly model: AiryModel;
  readonly systemToken: string;
  mintSourceToken(sourceId: string): Promise<string>;
  broadcastMetadata(subject: 'conversation' | 'message' | 'channel', identifier: string, values: Record<string, unknown>): void;
  broadcastMessage(m: FakeMessage): void;
  broadcastChannel(id: string): void;
  dispatch(m: FakeMessage, priorConversation: boolean): void;
  newOutbound(fields: Omit<FakeMessage, 'id' | 'deliveryState' | 'updatedAt' | 'fromContact' | 'sentAt'>): FakeMessage;
}

/** A reply; thrown to stop a handler early. `body: undefined` = empty body. */
export class HttpReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export type Route = (fake: RouteHost, caller: Caller, body: unknown) => Promise<HttpReply>;

const bad = () => new HttpReply(400, undefined);
const obj = (b: unknown): Record<string, unknown> => {
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw bad();
  return b as Record<string, unknown>;
};
const str = (o: Record<string, unknown>, k: string): string => {
  if (typeof o[k] !== 'string') throw bad();
  return o[k];
};
const optStr = (o: Record<string, unknown>, k: string): string | null => {
  if (o[k] === undefined || o[k] === null) return null;
  if (typeof o[k] !== 'string') throw bad();
  return o[k];
};

/** Source management accepts only a token without a `source` claim, i.e. the system token (Airy's AuthenticationFilter). */
function systemOnly(caller: Caller): void {
  if (caller.kind === 'system' || (caller.kind === 'jwt' && caller.source === null)) return;
  throw new HttpReply(403, { message: 'Wrong identity used. Use the system token to manage sources' });
}

/** Channels and ingestion accept only a source token whose source still exists. */
function sourceOf(fake: RouteHost, caller: Caller): FakeSource {
  if (caller.kind !== 'jwt' || !caller.source) throw new HttpReply(403, undefined);
  const s = fake.model.sources.get(caller.source);
  if (!s) throw new HttpReply(404, { message: 'Source not found' });
  return s;
}

function sourceFields(o: Record<string, unknown>) {
  const actionEndpoint = optStr(o, 'action_endpoint');
  if (actionEndpoint !== null) {
    try {
      new URL(actionEndpoint);
    } catch {
      throw bad();
    }
  }
  return { name: optStr(o, 'name'), imageUrl: optStr(o, 'image_url'), actionEndpoint };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const routes: Record<string, Route> = {
  async '/sources.create'(fake, caller, body) {
    systemOnly(caller);
    const o = obj(body);
    const id = str(o, 'source_id');
    const fields = sourceFields(o);
    if (fake.model.sources.has(id)) return new HttpReply(409, { message: 'Source already exists' });
    const source: FakeSource = { id, token: await fake.mintSourceToken(id), ...fields, createdAt: Date.now() };
    fake.model.sources.set(id, source);
    return new HttpReply(200, fake.model.sourcePayload(source, true));
  },

  async '/sources.update'(fake, caller, body) {
    systemOnly(caller);
    const o = obj(body);
    const s = fake.model.sources.get(str(o, 'source_id'));
    if (!s) return new HttpReply(404, undefined);
    // Airy bug kept on purpose: a missing action_endpoint is an NPE → 500 in Airy's SourcesController.
    if (o.action_endpoint === undefined || o.action_endpoint === null) return new HttpReply(500, { message: 'NullPointerException' });
    Object.assign(s, sourceFields(o));
    return new HttpReply(200, fake.model.sourcePayload(s, false));
  },

  async '/sources.list'(fake, caller) {
    systemOnly(caller);
    return new HttpReply(200, { data: [...fake.model.sources.values()].map((s) => fake.model.sourcePayload(s, false)) });
  },

  async '/sources.delete'(fake, caller, body) {
    systemOnly(caller);
    fake.model.sources.delete(str(obj(body), 'source_id'));
    return new HttpReply(202, undefined);
  },

  async '/sources.channels.create'(fake, caller, body) {
    const source = sourceOf(fake, caller);
    const o = obj(body);
    const name = str(o, 'name');
    const sourceChannelId = str(o, 'source_channel_id');
    if (o.metadata !== undefined && o.metadata !== null) obj(o.metadata);
    const id = fake.model.channelId(source.id, sourceChannelId);
    const existing = fake.model.channels.get(id);
    // An upsert: reconnects and overwrites keys; keys from earlier calls stay (Airy's ChannelsController).
    const metadata = { ...(existing?.metadata ?? {}), name, ...flatten((o.metadata as Record<string, unknown> | undefined) ?? {}) };
    const channel = { id, source: source.id, sourceChannelId, connected: true, metadata };
    fake.model.channels.set(id, channel);
    fake.broadcastChannel(id);
    return new HttpReply(201, fake.model.channelPayload(channel));
  },

  async '/sources.channels.list'(fake, caller) {
    const source = sourceOf(fake, caller);
    const data = [...fake.model.channels.values()].filter((c) => c.source === source.id && c.connected).map((c) => fake.model.channelPayload(c));
    return new HttpReply(200, { data });
  },

  async '/sources.channels.disconnect'(fake, caller, body) {
    const source = sourceOf(fake, caller);
    const id = str(obj(body), 'channel_id');
    if (!UUID.test(id)) return bad();
    const c = fake.model.channels.get(id);
    if (!c) return new HttpReply(404, undefined);
    if (c.source !== source.id) return new HttpReply(403, undefined);
    if (c.connected) {
      c.connected = false;
      fake.broadcastChannel(id);
    }
    return new HttpReply(204, undefined);
  },

  /** As Airy's WebhookController: validate everything first (a 400 writes nothing), then upsert by derived ids. */
  async '/sources.webhook'(fake, caller, body) {
    const source = sourceOf(fake, caller);
    const o = obj(body);
    if (o.messages === null || o.metadata === null) return bad();
    const rawMessages = o.messages === undefined ? [] : o.messages;
    const rawMeta = o.metadata === undefined ? [] : o.metadata;
    if (!Array.isArray(rawMessages) || !Array.isArray(rawMeta)) return bad();
    const messages: FakeMessage[] = rawMessages.map((r) => {
      const m = obj(r);
      if (!('content' in m)) throw bad();
      if (m.from_contact !== undefined && typeof m.from_contact !== 'boolean') throw bad();
      if (m.sent_at === undefined || m.sent_at === null) throw bad();
      const sentAt = parseSentAt(m.sent_at);
      if (sentAt === 'bad') throw new HttpReply(500, { message: 'could not parse sent_at' });
      return {
        id: fake.model.messageId(source.id, str(m, 'source_message_id')),
        conversationId: fake.model.conversationId(source.id, str(m, 'source_conversation_id')),
        channelId: fake.model.channelId(source.id, str(m, 'source_channel_id')),
        source: source.id,
        senderId: str(m, 'source_sender_id'),
        content: m.content ?? null,
        fromContact: m.from_contact === true,
        sentAt,
        deliveryState: 'DELIVERED' as const,
        updatedAt: null,
        sourceRecipientId: null,
      };
    });
    const meta = rawMeta.map((r) => {
      const m = obj(r);
      const ns = str(m, 'namespace');
      if (ns !== 'conversation' && ns !== 'message') throw new HttpReply(400, { message: `Unknown metadata namespace ${ns}` });
      const id = ns === 'conversation' ? fake.model.conversationId(source.id, str(m, 'source_id')) : fake.model.messageId(source.id, str(m, 'source_id'));
      return { ns, id, values: obj(m.metadata) } as const;
    });
    for (const m of messages) {
      const isNew = fake.model.upsertMessage(m);
      fake.broadcastMessage(m);
      if (isNew && m.fromContact) {
        const unread = fake.model.unread.get(m.conversationId) ?? new Set<string>();
        unread.add(m.id);
        fake.model.unread.set(m.conversationId, unread);
        fake.broadcastMetadata('conversation', m.conversationId, { unread_count: unread.size });
      }
    }
    for (const m of meta) fake.broadcastMetadata(m.ns, m.id, m.values);
    return new HttpReply(200, undefined);
  },

  /** An Airy user (any authenticated caller) sends; the source's action endpoint does the rest. */
  async '/messages.send'(fake, caller, body) {
    const o = obj(body);
    if (o.message === undefined || o.message === null) return bad();
    const conversationId = optStr(o, 'conversation_id');
    const recipient = optStr(o, 'source_recipient_id');
    const channelId = optStr(o, 'channel_id');
    let conv = conversationId ? fake.model.conversations.get(conversationId) : undefined;
    if (conversationId && !conv) return new HttpReply(202, undefined);
    if (!conversationId && !(channelId && recipient)) return bad();
    const channel = fake.model.channels.get(conv?.channelId ?? channelId!);
    if (!channel || !channel.connected) return new HttpReply(403, undefined);
    const convId = conv?.id ?? fake.model.conversationId(channel.source, recipient!);
    conv ??= fake.model.conversations.get(convId);
    const prior = conv !== undefined;
    const m = fake.newOutbound({
      conversationId: convId,
      channelId: channel.id,
      source: channel.source,
      senderId: caller.kind === 'system' ? `system-token-${fake.systemToken.slice(0, 4)}` : 'airy-user',
      content: o.message,
      sourceRecipientId: recipient ?? conv?.sourceConversationId ?? null,
    });
    fake.model.upsertMessage(m);
    fake.broadcastMessage(m);
    fake.dispatch(m, prior);
    return new HttpReply(prior ? 200 : 202, { ...fake.model.messageEvent(m).payload.message, metadata: {} });
  },

  async '/messages.resend'(fake, _caller, body) {
    const m = fake.model.messages.get(str(obj(body), 'message_id'));
    if (!m) return new HttpReply(404, undefined);
    if (m.deliveryState !== 'FAILED') return new HttpReply(409, undefined);
    m.deliveryState = 'PENDING';
    fake.broadcastMessage(m);
    fake.dispatch(m, true);
    return new HttpReply(202, undefined);
  },

  async '/conversations.read'(fake, _caller, body) {
    const id = str(obj(body), 'conversation_id');
    if (!fake.model.conversations.has(id)) return new HttpReply(404, undefined);
    fake.model.unread.set(id, new Set());
    fake.broadcastMetadata('conversation', id, { unread_count: 0 });
    return new HttpReply(202, undefined);
  },

  async '/conversations.info'(fake, _caller, body) {
    const c = fake.model.conversations.get(str(obj(body), 'conversation_id'));
    if (!c) return new HttpReply(404, undefined);
    const channel = fake.model.channels.get(c.channelId);
    return new HttpReply(200, {
      id: c.id,
      channel: channel ? fake.model.channelPayload(channel) : null,
      created_at: new Date(c.createdAt).toISOString(),
      metadata: fake.model.metadataOf(`conversation:${c.id}`),
    });
  },

  async '/messages.list'(fake, _caller, body) {
    const id = str(obj(body), 'conversation_id');
    const data = fake.model
      .messagesIn(id)
      .reverse()
      .map((m) => ({ ...fake.model.messageEvent(m).payload.message, metadata: fake.model.metadataOf(`message:${m.id}`) }));
    return new HttpReply(200, { data });
  },
};
