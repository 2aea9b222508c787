import type { Channel, Conversation } from '../../app/ground/records.ts';
import { alvariaAdapterFactory, type AlvariaOptions } from '../../app/platforms/alvaria/adapter.ts';
import { FakeAlvaria } from '../../fakes/alvaria/server.ts';
import { startTestBridge, type TestBridge } from './harness.ts';
import { RecordingGateway } from './recording-gateway.ts';
import { seedConversation } from './seed.ts';

export interface AlvariaRig {
  b: TestBridge;
  fake: FakeAlvaria;
  gateway: RecordingGateway;
  channel: Channel;
  conversation: Conversation;
  notes: Record<string, string>;
  /** Posts a Pipedrive user's message (multipart, like Pipedrive) and returns our message id. */
  post(text: string, files?: Array<{ name: string; type: string; bytes: Uint8Array }>, conversationId?: string): Promise<string>;
  /** Signs a payload like Alvaria and posts it to the channel's callback URL. */
  callback(payload: Record<string, unknown>, auth?: string | null): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** The app wired to a fake Alvaria (shared fake clock) and a recording Pipedrive gateway, with one channel and conversation. */
export async function startAlvariaRig(opts: { adapter?: AlvariaOptions; config?: (fake: FakeAlvaria) => Record<string, unknown> } = {}): Promise<AlvariaRig> {
  const fake = await FakeAlvaria.start();
  const gateway = new RecordingGateway();
  const b = await startTestBridge({ platforms: { alvaria: alvariaAdapterFactory({ now: fake.clock.now, ...opts.adapter }) }, pipedrive: gateway });
  const { channel, notes } = await b.flows.connectChannel({
    platform: 'alvaria',
    name: 'Alvaria',
    avatarUrl: null,
    config: fake.channelConfig(opts.config?.(fake)),
    templates: [],
    installationId: null,
  });
  fake.deliveries.callbackUrl = notes.callback_url;
  const conversation = await seedConversation(b, channel);
  return {
    b,
    fake,
    gateway,
    channel,
    conversation,
    notes,
    async post(text, files = [], conversationId = conversation.id) {
      const form = new FormData();
      form.set('conversationId', conversationId);
      form.set('message', text);
      for (const f of files) form.append('files', new Blob([Buffer.from(f.bytes)], { type: f.type }), f.name);
      const res = await b.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: form });
      const json = (await res.json()) as { data: { id: string } };
      if (res.status !== 200) throw new Error(`postMessage answered ${res.status}: ${JSON.stringify(json)}`);
      return json.data.id;
    },
    async callback(payload, auth) {
      const header = auth === undefined ? await fake.signer.authorization() : auth;
      const res = await fetch(notes.callback_url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(header ? { authorization: header } : {}) },
        body: JSON.stringify(payload),
      });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await fake.stop();
      await b.close();
    },
  };
}
