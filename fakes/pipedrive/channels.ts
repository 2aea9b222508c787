import { randomUUID } from 'node:crypto';
import { assertMatchesSpec } from './contract.ts';
import { json, type Req, type Res } from './http.ts';
import { apiError, type FakeChannel, type FakeEmitter, type FakeState, type FakeUser, type ReceivedMessage } from './state.ts';

export interface CallbackSettings {
  basic: string;
  validate: boolean;
}

const STATUSES = ['sent', 'delivered', 'read', 'failed'];
const PROVIDER_TYPES = ['facebook', 'whatsapp', 'other'];
const isStr = (v: unknown): v is string => typeof v === 'string';
/** ISO-8601 with a zone, or the docs' `YYYY-MM-DD HH:MM` (both forms appear in Pipedrive's docs). */
const isDate = (v: unknown) =>
  isStr(v) && (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/.test(v) || (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v))));

/**
 * The Channels API (https://developers.pipedrive.com/docs/api/v1/Channels) and Pipedrive's
 * calls back to the app (https://pipedrive.readme.io/docs/implementing-messaging-app-extension).
 */
export function channelRoutes(st: FakeState, events: FakeEmitter, cb: CallbackSettings) {
  const problem = (text: string) => {
    st.problems.push(text);
    events.emit('problem', text);
  };

  /** Calls a manifest endpoint with basic auth and checks the answer against the published spec. */
  async function callApp(endpoint: string, params: Record<string, string>, query = ''): Promise<{ status: number; body: any }> {
    const template = st.manifest?.[endpoint];
    if (!template) throw new Error(`the app is not linked (no ${endpoint} in its manifest); call fake.linkApp(appUrl)`);
    const url = template.replace(/:([A-Za-z]\w*)/g, (_m, name: string) => encodeURIComponent(params[name] ?? `:${name}`)) + query;
    const res = await fetch(url, { headers: { authorization: cb.basic, accept: 'application/json' } });
    const body = await res.json().catch(() => undefined);
    if (cb.validate) {
      try {
        await assertMatchesSpec('GET', new URL(url).pathname, res.status, body);
      } catch (err) {
        problem(`${endpoint}: ${(err as Error).message}`);
      }
    }
    return { status: res.status, body };
  }

  /** Right after addChannel: page through getConversations, then getTemplates when templates are on. */
  async function initialSync(ch: FakeChannel): Promise<void> {
    const conversations: Array<Record<string, unknown>> = [];
    try {
      let after = '';
      for (let page = 0; page < 20; page++) {
        const r = await callApp('getConversations', { providerChannelId: ch.provider_channel_id }, `?conversations_limit=30&messages_limit=30${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        if (r.status !== 200 || !Array.isArray(r.body?.data)) throw new Error(`getConversations answered ${r.status}`);
        for (const c of r.body.data) {
          ch.conversations.set(c.id, c);
          conversations.push(c);
        }
        after = r.body.additional_data?.after ?? '';
        if (!after) break;
      }
      if (ch.template_support) {
        const t = await callApp('getTemplates', { providerChannelId: ch.provider_channel_id });
        ch.templates = t.body?.data?.templates ?? null;
      }
      const rec = { providerChannelId: ch.provider_channel_id, ok: true, conversations, templates: ch.templates };
      st.syncs.push(rec);
      events.emit('sync', rec);
    } catch (err) {
      problem(`initial sync of ${ch.provider_channel_id}: ${(err as Error).message}`);
      const rec = { providerChannelId: ch.provider_channel_id, ok: false, conversations, templates: null, error: (err as Error).message };
      st.syncs.push(rec);
      events.emit('sync', rec);
    }
  }

  function addChannel(req: Req, user: FakeUser): Res {
    const b = json(req) as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object') return { status: 400, body: apiError('Body must be JSON', 'INVALID_BODY') };
    const unknown = Object.keys(b).filter((k) => !['name', 'provider_channel_id', 'avatar_url', 'template_support', 'provider_type'].includes(k));
    if (unknown.length) return { status: 400, body: apiError(`Unknown fields: ${unknown.join(', ')}`, 'INVALID_BODY') };
    if (!isStr(b.name) || !b.name.trim()) return { status: 400, body: apiError('name is required', 'INVALID_BODY') };
    if (!isStr(b.provider_channel_id) || !b.provider_channel_id) return { status: 400, body: apiError('provider_channel_id is required', 'INVALID_BODY') };
    if (b.avatar_url !== undefined && !(isStr(b.avatar_url) && /^https?:\/\//.test(b.avatar_url))) return { status: 400, body: apiError('avatar_url must be a URL', 'INVALID_BODY') };
    if (b.template_support !== undefined && typeof b.template_support !== 'boolean') return { status: 400, body: apiError('template_support must be a boolean', 'INVALID_BODY') };
    if (b.provider_type !== undefined && !PROVIDER_TYPES.includes(b.provider_type as string)) return { status: 400, body: apiError('provider_type is invalid', 'INVALID_BODY') };
    if (!user.is_admin) return { status: 403, body: apiError('Only admins can register channels', 'ADMIN_ONLY') };
    if (st.channels.has(b.provider_channel_id)) return { status: 400, body: apiError('A channel with this provider_channel_id exists', 'INVALID_BODY') };
    const ch: FakeChannel = {
      id: randomUUID(),
      provider_channel_id: b.provider_channel_id,
      name: b.name,
      avatar_url: (b.avatar_url as string | undefined) ?? null,
      provider_type: (b.provider_type as FakeChannel['provider_type']) ?? 'other',
      template_support: Boolean(b.template_support),
      pd_company_id: user.company_id,
      pd_user_id: user.id,
      created_at: new Date().toISOString().slice(0, 19).replace('T', ' '),
      conversations: new Map(),
      templates: null,
    };
    st.channels.set(ch.provider_channel_id, ch);
    events.emit('channel-added', ch);
    // Pipedrive calls getConversations once the channel exists (after our answer is on its way).
    setImmediate(() => void initialSync(ch));
    const { conversations: _c, templates: _t, ...data } = ch;
    return { status: 200, body: { success: true, data: { ...data, marketplace_client_id: 'fake-client' } } };
  }

  function validateReceive(b: Record<string, unknown>): string | null {
    const known = ['id', 'channel_id', 'sender_id', 'conversation_id', 'message', 'status', 'created_at', 'reply_by', 'conversation_link', 'attachments'];
    const extra = Object.keys(b).filter((k) => !known.includes(k));
    if (extra.length) return `unknown fields ${extra.join(', ')}`;
    for (const k of ['id', 'channel_id', 'sender_id', 'conversation_id']) if (!isStr(b[k]) || !(b[k] as string).length) return `${k} is required`;
    if (!isStr(b.message)) return 'message must be a string';
    if (!STATUSES.includes(b.status as string)) return 'status is invalid';
    if (!isDate(b.created_at)) return 'created_at must be a UTC date-time';
    if (b.reply_by !== undefined && !isDate(b.reply_by)) return 'reply_by must be a UTC date-time';
    if (b.conversation_link !== undefined && !(isStr(b.conversation_link) && /^https?:\/\//.test(b.conversation_link))) return 'conversation_link must be a URL';
    if (!Array.isArray(b.attachments)) return 'attachments must be an array';
    for (const a of b.attachments as Array<Record<string, unknown>>) {
      if (!a || !isStr(a.id) || !isStr(a.type) || !isStr(a.url)) return 'attachments need id, type and url';
      if (a.size !== undefined && typeof a.size !== 'number') return 'attachment size must be a number';
      if (a.link_expires !== undefined && typeof a.link_expires !== 'boolean') return 'link_expires must be a boolean';
    }
    return null;
  }

  async function receive(req: Req, user: FakeUser): Promise<Res> {
    st.counters.receives++;
    const b = json(req) as Record<string, unknown> | undefined;
    const invalid = b && typeof b === 'object' ? validateReceive(b) : 'body must be JSON';
    if (invalid) return { status: 400, body: apiError(`Invalid receive message payload: ${invalid}`, 'INVALID_RECEIVE_MESSAGE_PAYLOAD') };
    const m = b as unknown as ReceivedMessage;
    const ch = st.channels.get(m.channel_id);
    if (!ch || ch.pd_company_id !== user.company_id) return { status: 404, body: apiError('Channel not found.', 'NOT_FOUND') };
    if (!ch.conversations.has(m.conversation_id)) {
      // An unknown conversation: Pipedrive asks the app for it before showing the message.
      let ok = false;
      try {
        const r = await callApp('getConversationById', { providerChannelId: ch.provider_channel_id, sourceConversationId: m.conversation_id });
        ok = r.status === 200 && r.body?.data?.id === m.conversation_id;
        if (ok) ch.conversations.set(m.conversation_id, r.body.data);
        else problem(`getConversationById(${m.conversation_id}) answered ${r.status}`);
      } catch (err) {
        problem(`getConversationById(${m.conversation_id}): ${(err as Error).message}`);
      }
      events.emit('conversation-fetched', { providerChannelId: ch.provider_channel_id, conversationId: m.conversation_id, ok });
    }
    const conv = ch.conversations.get(m.conversation_id) as { participants?: Array<{ id: string }> } | undefined;
    if (conv && !conv.participants?.some((p) => p.id === m.sender_id)) problem(`message ${m.id}: sender ${m.sender_id} is not a participant of ${m.conversation_id}`);
    const prev = st.messages.get(m.id);
    const stored: ReceivedMessage = { ...m, versions: (prev?.versions ?? 0) + 1, statuses: [...(prev?.statuses ?? []), m.status] };
    st.messages.set(m.id, stored);
    events.emit('message', stored);
    const { versions: _v, statuses: _s, ...echo } = stored;
    return { status: 200, body: { success: true, data: echo } };
  }

  function deleteChannel(id: string, user: FakeUser): Res {
    const ch = st.channels.get(id);
    if (!ch || ch.pd_company_id !== user.company_id) return { status: 404, body: apiError('Channel not found.', 'NOT_FOUND') };
    st.channels.delete(id);
    st.deletedChannels.push(id);
    events.emit('channel-deleted', id);
    return { status: 200, body: { success: true } };
  }

  function deleteConversation(channelId: string, conversationId: string, user: FakeUser): Res {
    const ch = st.channels.get(channelId);
    if (!ch || ch.pd_company_id !== user.company_id) return { status: 404, body: apiError('Channel not found.', 'NOT_FOUND') };
    if (ch.pd_user_id !== user.id) return { status: 403, body: apiError('Only the app owner can delete conversations', 'FORBIDDEN_USER_REQUEST') };
    ch.conversations.delete(conversationId);
    st.deletedConversations.push({ channelId, conversationId });
    return { status: 200, body: { success: true } };
  }

  return { addChannel, receive, deleteChannel, deleteConversation };
}
