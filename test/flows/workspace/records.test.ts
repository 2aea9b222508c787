import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { airyAdapterFactory } from '../../../app/platforms/airy/adapter.ts';
import { alvariaAdapterFactory } from '../../../app/platforms/alvaria/adapter.ts';
import type { Job } from '../../../app/store/jobs.ts';
import { FakeAiry } from '../../../fakes/airy/index.ts';
import { FakeAlvaria } from '../../../fakes/alvaria/server.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET, waitFor } from '../../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';

/** An installed bridge with an Airy and an Alvaria channel, each against its fake. */
export async function startWorkspaceWorld(env: Record<string, string> = {}) {
  const airy = await FakeAiry.start();
  const alvaria = await FakeAlvaria.start();
  const world = await startBridgeWithPipedrive({
    env: { OUTBOUND_ALLOW: '127.0.0.0/8', ...env },
    platforms: { airy: airyAdapterFactory({ timeoutMs: 2000, realtime: { backoff: { baseMs: 20, capMs: 100 }, rescanMs: 50 } }), alvaria: alvariaAdapterFactory({ now: alvaria.clock.now }) },
  });
  const installed = await installVia(world.bridge, world.fake);
  const connect = async (body: unknown) => {
    const res = await adminCall(world.bridge, installed.cookie, 'POST', '/channels', body);
    if (res.status !== 201) throw new Error(`connect answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { channel: { id: string; urls: Record<string, string> } }).channel;
  };
  const airyChannel = await connect({ provider: 'airy', name: 'Airy desk', config: { api_url: airy.url, system_token: airy.systemToken } });
  const alvariaChannel = await connect({ provider: 'alvaria', name: 'Alvaria desk', config: alvaria.channelConfig() });
  alvaria.deliveries.callbackUrl = alvariaChannel.urls.callback_url!;
  const token = () => mintUiToken({ userId: installed.user.id, companyId: installed.user.company_id, secret: CLIENT_SECRET });
  const call = async (method: string, path: string, body?: unknown, as?: string) => {
    const res = await fetch(`${world.bridge.url}/ui/api${path}`, {
      method,
      headers: { authorization: `Bearer ${as ?? (await token())}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
  };
  return {
    ...world,
    ...installed,
    airy,
    alvaria,
    airyChannel,
    alvariaChannel,
    call,
    async close() {
      await world.close();
      await airy.close();
      await alvaria.stop();
    },
  };
}

const sendDone = (b: { outbox: any }) => waitFor<[Job]>(b.outbox, 'done', (j) => j.kind === 'platform.send');

test('a conversation about a deal: its own platform conversation, the platform told who, which company and which deal', async () => {
  const w = await startWorkspaceWorld();
  try {
    w.fake.addRecord('deal', 5, 'Big deal');
    const started = await w.call('POST', '/conversations', { channelId: w.airyChannel.id, record: { type: 'deal', id: 5 } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const conv = started.body.conversation;
    assert.equal(conv.title, 'Big deal');
    assert.deepEqual(conv.record, { type: 'deal', id: 5, title: 'Big deal', url: 'https://acme.pipedrive.com/deal/5' });
    assert.deepEqual(conv.transcript, { pending: false });
    const again = await w.call('POST', '/conversations', { channelId: w.airyChannel.id, record: { type: 'deal', id: 5 } });
    assert.equal(again.status, 200);
    assert.equal(again.body.conversation.id, conv.id);

    const about = (await w.call('GET', '/conversations?record=deal:5')).body.conversations;
    assert.deepEqual(
      about.map((c: any) => c.id),
      [conv.id],
    );
    const mine = (await w.call('GET', '/conversations')).body.conversations;
    assert.equal(mine.length, 3, 'two standing conversations and the one about the deal');

    // Airy: the conversation's metadata names the user, the company and the deal.
    let done = sendDone(w.bridge);
    assert.equal((await w.call('POST', `/conversations/${conv.id}/messages`, { text: 'About the offer' })).status, 201);
    await done;
    const stored = await w.bridge.db('conversations').where({ id: conv.id }).first();
    const meta = w.airy.model.metadataOf(`conversation:${stored.platform_ref}`) as any;
    assert.equal(meta.contact.display_name, w.user.name);
    assert.deepEqual(
      { title: meta.pipedrive.record_title, url: meta.pipedrive.record_url, email: meta.pipedrive.user_email, company: meta.pipedrive.company },
      { title: 'Big deal', url: 'https://acme.pipedrive.com/deal/5', email: w.user.email, company: 'Acme Ltd' },
    );
    const standing = mine.find((c: any) => !c.record && c.channelId === w.airyChannel.id);
    assert.notEqual(stored.platform_ref, (await w.bridge.db('conversations').where({ id: standing.id }).first()).platform_ref, 'a separate Airy conversation');

    // Alvaria: a session of its own, opened with a context line.
    const alv = (await w.call('POST', '/conversations', { channelId: w.alvariaChannel.id, record: { type: 'deal', id: 5 } })).body.conversation;
    done = sendDone(w.bridge);
    assert.equal((await w.call('POST', `/conversations/${alv.id}/messages`, { text: 'Hello about the deal' })).status, 201);
    await done;
    done = sendDone(w.bridge);
    assert.equal((await w.call('POST', `/conversations/${alv.id}/messages`, { text: 'And a second line' })).status, 201);
    await done;
    const sessions = [...w.alvaria.sessions.values()];
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.contactName, w.user.name);
    const texts = sessions[0]!.messages.map((m) => m.text);
    assert.equal(texts.length, 3);
    assert.match(texts[0]!, /Big deal/);
    assert.match(texts[0]!, /https:\/\/acme\.pipedrive\.com\/deal\/5/);
    assert.match(texts[0]!, new RegExp(w.user.email.replace('.', '\\.')));
    assert.match(texts[0]!, /Acme Ltd/);
    assert.deepEqual(texts.slice(1), ['Hello about the deal', 'And a second line']);

    // Bad input and foreign or unknown records.
    assert.equal((await w.call('POST', '/conversations', { channelId: w.airyChannel.id, record: { type: 'deal', id: 999 } })).status, 404);
    assert.equal((await w.call('POST', '/conversations', { channelId: 'ch_nope', record: { type: 'deal', id: 5 } })).status, 404);
    assert.equal((await w.call('POST', '/conversations', { channelId: w.airyChannel.id, record: { type: 'lead', id: 5 } })).status, 400);
    assert.equal((await w.call('POST', '/conversations', { channelId: w.airyChannel.id })).status, 400);
    w.fake.addRecord('deal', 6, 'Their deal', 88);
    assert.equal((await w.call('POST', '/conversations', { channelId: w.airyChannel.id, record: { type: 'deal', id: 6 } })).status, 404);

    // A colleague sees the conversation on the deal's panel, but only its starter writes in it.
    const colleague = w.fake.addUser({ id: 1002, name: 'Cory Colleague', email: 'cory@acme.example', is_admin: false, company_id: w.user.company_id });
    const as = await mintUiToken({ userId: colleague.id, companyId: w.user.company_id, secret: CLIENT_SECRET });
    const panel = (await w.call('GET', '/conversations?record=deal:5', undefined, as)).body.conversations;
    assert.deepEqual(panel.map((c: any) => c.id).sort(), [conv.id, alv.id].sort());
    assert.equal((await w.call('GET', `/conversations/${conv.id}/messages`, undefined, as)).body.messages.length, 1);
    assert.equal((await w.call('POST', `/conversations/${conv.id}/messages`, { text: 'hijack' }, as)).status, 403);
    // Refused after the upload was received: the file does not outlive the request.
    const form = new FormData();
    form.append('text', 'hijack');
    form.append('files', new Blob(['%PDF-1.4 not yours'], { type: 'application/pdf' }), 'hijack.pdf');
    const withFile = await fetch(`${w.bridge.url}/ui/api/conversations/${conv.id}/messages`, { method: 'POST', headers: { authorization: `Bearer ${as}` }, body: form });
    assert.equal(withFile.status, 403);
    assert.deepEqual(readdirSync(w.bridge.files.stagingDir), [], 'nothing left staged');
  } finally {
    await w.close();
  }
});

test('an Alvaria session end writes the transcript at once, without waiting for the idle time', async () => {
  const w = await startWorkspaceWorld({ TRANSCRIPT_FLUSH_SECONDS: '3600' });
  try {
    w.fake.addRecord('deal', 7, 'Renewal');
    const alv = (await w.call('POST', '/conversations', { channelId: w.alvariaChannel.id, record: { type: 'deal', id: 7 } })).body.conversation;
    const done = sendDone(w.bridge);
    assert.equal((await w.call('POST', `/conversations/${alv.id}/messages`, { text: 'Can we renew?' })).status, 201);
    await done;
    const session = [...w.alvaria.sessions.values()][0]!;
    const replied = waitFor(w.bridge.outbox, 'done', (j: Job) => j.kind === 'pipedrive.receive');
    w.alvaria.agentMessage(session.id, { text: 'Yes, sent the offer' });
    await replied;
    assert.equal(w.fake.notesOf('deal', 7).length, 0, 'idle time not over: nothing written yet');
    const written = w.fake.next('note', (n) => n.deal_id === 7 && n.content.includes('The session was closed by Alvaria'));
    w.alvaria.endSession(session.id);
    const note = await written;
    const lines = [...note.content.matchAll(/<b>(.*?)<\/b>: (.*?)<\/p>/g)].map((m) => m[2]);
    assert.deepEqual(lines, ['Can we renew?', 'Yes, sent the offer', 'The session was closed by Alvaria']);
    assert.equal(w.fake.notesOf('deal', 7).length, 1);
  } finally {
    await w.close();
  }
});
