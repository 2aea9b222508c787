import type { Bridge } from '../../app/bridge.ts';
import type { Channel, Conversation, Template } from '../../app/ground/records.ts';

/** Connects a channel through the domain's connect flow (without the admin API: no install or session needed). */
export async function seedChannel(b: Bridge, opts: { platform?: string; secret?: string; templates?: Template[] } = {}): Promise<Channel> {
  const { channel } = await b.flows.connectChannel({
    platform: opts.platform ?? 'test',
    name: 'Test channel',
    avatarUrl: null,
    config: { secret: opts.secret ?? 's3cret' },
    templates: opts.templates ?? [],
    installationId: null,
  });
  return channel;
}

let n = 0;
/** A conversation between a Pipedrive user (source_user) and a platform agent (end_user). */
export async function seedConversation(b: Bridge, channel: Channel, id = `conv-${++n}-${Date.now()}`): Promise<Conversation> {
  return b.inbox.ensureConversation(channel, {
    id,
    participants: [
      { id: `pd-user-${id}`, role: 'source_user', name: 'Pat Pipedrive', avatarUrl: null, email: 'pat@example.com' },
      { id: 'agent-1', role: 'end_user', name: 'Agent One', avatarUrl: 'https://example.com/a.png', email: null },
    ],
  });
}

/** Stores a message from the platform side (as a webhook would). */
export async function seedInbound(b: Bridge, channel: Channel, conversation: Conversation, text: string, key = `${text}-${Math.random()}`) {
  const r = await b.platform.recordInbound(channel, {
    dedupe: { source: 'seed', key },
    conversation,
    senderId: 'agent-1',
    text,
    platformMessageId: key,
    createdAt: Date.now(),
  });
  if ('duplicate' in r) throw new Error('unexpected duplicate');
  return r.message;
}
