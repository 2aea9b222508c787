import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import { StompSubscriber } from '../../../app/platforms/airy/websocket.ts';
import { createLogger } from '../../../app/ground/log.ts';
import { FakeAiry, fakeAiryUuid } from '../../../fakes/airy/index.ts';

/**
 * Contract cases taken from Airy's own tests (sources-api, auth, uuid and websocket tests in
 * https://github.com/airyhq/airy), run against the
 * fake, so the fake is known to behave like Airy before the bridge is tested against it.
 */
const SYSTEM = 'user-generated-api-token';

async function withFake(fn: (fake: FakeAiry) => Promise<void>) {
  const fake = await FakeAiry.start({ systemToken: SYSTEM });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

async function raw(fake: FakeAiry, path: string, auth: string | null, body: unknown = {}) {
  const res = await fetch(`${fake.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth !== null ? { authorization: auth } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function mySource(fake: FakeAiry, extra: Record<string, unknown> = {}) {
  const r = await fake.post('/sources.create', { source_id: 'my-source', ...extra });
  assert.equal(r.status, 200);
  return r.body.token as string;
}

const WEBHOOK_JSON = {
  messages: [
    {
      source_message_id: 'source-message-id',
      source_conversation_id: 'source-conversation-id',
      source_channel_id: 'source-channel-id',
      source_sender_id: 'source-sender-id',
      content: 'Hello world',
      from_contact: true,
      sent_at: 1603661094560,
    },
  ],
  metadata: [
    { namespace: 'conversation', source_id: 'source-conversation-id', metadata: { contact: { display_name: 'Margaret Hamilton' } } },
    { namespace: 'message', source_id: 'source-message-id', metadata: { reaction: { emoji: '❤️' } } },
  ],
};

test('case 1: missing auth → 403 empty; wrong token → 403; system token → 200; raw and Bearer both work', () =>
  withFake(async (fake) => {
    const none = await raw(fake, '/sources.list', null);
    assert.deepEqual(none, { status: 403, text: '' });
    assert.equal((await raw(fake, '/sources.list', 'Bearer wrong')).status, 403);
    assert.equal((await raw(fake, '/sources.list', `Bearer ${SYSTEM}`)).status, 200);
    assert.equal((await raw(fake, '/sources.list', SYSTEM)).status, 200);
    // "bearer" is not stripped (case-sensitive startsWith), so this is a wrong token.
    assert.equal((await raw(fake, '/sources.list', `bearer ${SYSTEM}`)).status, 403);
  }));

test('case 2: /sources.create → 200 with a token; /sources.list shows it without the token; 409 on repeat', () =>
  withFake(async (fake) => {
    const token = await mySource(fake);
    assert.ok(token);
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    assert.equal(claims.sub, 'source_app:my-source');
    assert.equal(claims.exp, undefined);
    assert.equal(JSON.parse(claims.principal).data.source, 'my-source');
    const list = await fake.post('/sources.list', {});
    assert.deepEqual(
      list.body.data.map((s: { source_id: string; token: unknown }) => [s.source_id, s.token]),
      [['my-source', null]],
    );
    const again = await fake.post('/sources.create', { source_id: 'my-source' });
    assert.deepEqual(again, { status: 409, body: { message: 'Source already exists' } });
    // The source token cannot manage sources.
    assert.equal((await fake.post('/sources.list', {}, token)).status, 403);
  }));

test('case 3: /sources.channels.create needs the source token (none/system → 403) and answers 201', () =>
  withFake(async (fake) => {
    const token = await mySource(fake);
    const body = { name: 'source channel', source_channel_id: 'my-source-channel-1', metadata: { my_key: 'my value' } };
    assert.equal((await raw(fake, '/sources.channels.create', null, body)).status, 403);
    assert.equal((await fake.post('/sources.channels.create', body)).status, 403);
    const r = await fake.post('/sources.channels.create', body, token);
    assert.equal(r.status, 201);
    assert.equal(r.body.metadata.name, 'source channel');
    assert.equal(r.body.metadata.my_key, 'my value');
    assert.equal(r.body.source, 'my-source');
    assert.equal(r.body.id, airyUuid('my-source', 'my-source-channel-1'));
    assert.equal(r.body.connected, true);
  }));

test('case 4: a metadata namespace other than conversation/message → 400 and nothing written', () =>
  withFake(async (fake) => {
    const token = await mySource(fake);
    const r = await fake.post('/sources.webhook', { ...WEBHOOK_JSON, metadata: [{ namespace: 'channel', source_id: 'source-id', metadata: {} }] }, token);
    assert.equal(r.status, 400);
    assert.equal(fake.model.messages.size, 0);
  }));

test('case 5: webhook.json → 200 empty; one message and two metadata records under the derived ids', () =>
  withFake(async (fake) => {
    const token = await mySource(fake);
    const r = await raw(fake, '/sources.webhook', `Bearer ${token}`, WEBHOOK_JSON);
    assert.deepEqual(r, { status: 200, text: '' });
    assert.equal(fake.model.messages.size, 1);
    const m = [...fake.model.messages.values()][0]!;
    assert.equal(m.id, 'c07cc157-17dc-5ce1-98e4-30eeb69fd8d4');
    assert.equal(m.conversationId, '99cfd340-25e8-54e1-baec-7f6559fee6f6');
    assert.equal(m.channelId, 'b5335efe-2449-5d17-8a75-956dda49b665');
    assert.equal(m.source, 'my-source');
    assert.equal(m.content, 'Hello world');
    assert.equal(new Date(m.sentAt).toISOString(), '2020-10-25T21:24:54.560Z');
    assert.deepEqual(fake.model.metadataOf(`conversation:${m.conversationId}`).contact, { display_name: 'Margaret Hamilton' });
    assert.deepEqual(fake.model.metadataOf(`message:${m.id}`), { reaction: { emoji: '❤️' } });
    // Idempotent upsert: the same webhook twice is still one message, counted unread once.
    await fake.post('/sources.webhook', WEBHOOK_JSON, token);
    assert.equal(fake.model.messages.size, 1);
    assert.equal(fake.model.metadataOf(`conversation:${m.conversationId}`).unread_count, 1);
    // sent_at rules: ISO with an offset works; without one Airy fails with 500.
    const iso = { messages: [{ ...WEBHOOK_JSON.messages[0], source_message_id: 'm2', sent_at: '2025-01-01T10:00:00+02:00' }] };
    assert.equal((await fake.post('/sources.webhook', iso, token)).status, 200);
    const noOffset = { messages: [{ ...WEBHOOK_JSON.messages[0], source_message_id: 'm3', sent_at: '2025-01-01T10:00:00' }] };
    assert.equal((await fake.post('/sources.webhook', noOffset, token)).status, 500);
    const missing = { messages: [{ ...WEBHOOK_JSON.messages[0], source_sender_id: undefined }] };
    assert.equal((await fake.post('/sources.webhook', missing, token)).status, 400);
    assert.equal((await fake.post('/sources.webhook', { messages: null }, token)).status, 400);
  }));

test('case 6 (+ derived): /messages.send → exactly one signed POST to the action endpoint; outcome from the reply', async () => {
  const calls: Array<{ body: string; signature: string }> = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { source_message_id: 'm1' } };
  const endpoint = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      calls.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-airy-content-signature']) });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  try {
    await withFake(async (fake) => {
      const token = await mySource(fake, { action_endpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/action` });
      await fake.post('/sources.channels.create', { name: 'c', source_channel_id: 'source-channel-id' }, token);
      await fake.post('/sources.webhook', WEBHOOK_JSON, token);

      const delivered = await fake.userReply('99cfd340-25e8-54e1-baec-7f6559fee6f6', { text: 'Hi' });
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.signature, createHmac('sha256', token).update(calls[0]!.body).digest('hex'));
      const action = JSON.parse(calls[0]!.body);
      assert.equal(action.type, 'message.send');
      assert.equal(action.payload.conversation.source_conversation_id, 'source-sender-id');
      assert.equal(action.payload.message.source_recipient_id, 'source-sender-id');
      assert.equal(action.payload.conversation.source_channel_id, 'source-channel-id');
      assert.equal(action.payload.conversation.created_at, '2020-10-25T21:24:54.560Z');
      assert.match(action.payload.message.sent_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(action.payload.message.content, { text: 'Hi' });
      assert.equal(delivered.deliveryState, 'DELIVERED');
      assert.deepEqual(fake.model.metadataOf(`message:${delivered.id}`), { source: { id: 'm1' } });

      answer = { status: 400, body: { error: 'bad' } };
      const failed = await fake.userReply('99cfd340-25e8-54e1-baec-7f6559fee6f6', { text: 'Again' });
      assert.equal(failed.deliveryState, 'FAILED');
      assert.deepEqual(fake.model.metadataOf(`message:${failed.id}`), { error: 'bad' });
      assert.equal(calls.length, 2);

      // 201 is not success either (only exactly 200 counts).
      answer = { status: 201, body: { source_message_id: 'x' } };
      assert.equal((await fake.userReply('99cfd340-25e8-54e1-baec-7f6559fee6f6', 'x')).deliveryState, 'FAILED');
    });
  } finally {
    endpoint.closeAllConnections();
    await new Promise<void>((r) => endpoint.close(() => r()));
  }
});

test('case 7: the id vectors hold for the app and the fake (not RFC-4122 v5)', () => {
  const vectors: Array<[string, string, string]> = [
    ['test', 'test', '51abb963-6078-5efb-b888-d8457a7c76f8'],
    ['my-source', 'source-channel-id', 'b5335efe-2449-5d17-8a75-956dda49b665'],
    ['my-source', 'source-conversation-id', '99cfd340-25e8-54e1-baec-7f6559fee6f6'],
    ['my-source', 'source-message-id', 'c07cc157-17dc-5ce1-98e4-30eeb69fd8d4'],
    ['', '99cfd340-25e8-54e1-baec-7f6559fee6f6', 'ec01c0c0-28a7-51b5-b0a7-c25bf81a56ce'],
  ];
  for (const [ns, name, expected] of vectors) {
    assert.equal(airyUuid(ns, name), expected, `app ${ns}+${name}`);
    assert.equal(fakeAiryUuid(ns, name), expected, `fake ${ns}+${name}`);
  }
});

test('case 8: the WebSocket (STOMP, /ws.communication, auth on the upgrade) broadcasts message, metadata and channel events', () =>
  withFake(async (fake) => {
    const token = await mySource(fake);
    const log = createLogger('silent');
    // A refused upgrade: wrong token → the subscriber never subscribes (and keeps retrying).
    const refused = new StompSubscriber({ apiUrl: fake.url, token: 'wrong', log, backoff: { baseMs: 1000, capMs: 1000 }, onEvent: () => {} });
    const closed = new Promise<void>((r) => refused.once('closed', () => r()));
    refused.start();
    await closed;
    await refused.stop();
    assert.equal(fake.broker.subscriberCount, 0);

    const events: any[] = [];
    const bus = new EventEmitter();
    const sub = new StompSubscriber({
      apiUrl: fake.url,
      token: SYSTEM,
      log,
      onEvent: (b) => {
        events.push(JSON.parse(b));
        bus.emit('event');
      },
    });
    const subscribed = new Promise<void>((r) => sub.once('subscribed', () => r()));
    sub.start();
    await subscribed;
    try {
      const got = async (type: string): Promise<any> => {
        for (;;) {
          const e = events.find((x) => x.type === type);
          if (e) return e;
          await once(bus, 'event');
        }
      };
      await fake.post('/sources.channels.create', { name: 'c', source_channel_id: 'source-channel-id' }, token);
      const ch = await got('channel.updated');
      assert.equal(ch.payload.id, 'b5335efe-2449-5d17-8a75-956dda49b665');
      assert.equal(ch.payload.metadata, null);
      await fake.post('/sources.webhook', { ...WEBHOOK_JSON, messages: [{ ...WEBHOOK_JSON.messages[0], content: { text: 'Hello' } }] }, token);
      const msg = await got('message.created');
      assert.equal(msg.payload.channel_id, 'b5335efe-2449-5d17-8a75-956dda49b665');
      assert.equal(msg.payload.message.id, 'c07cc157-17dc-5ce1-98e4-30eeb69fd8d4');
      assert.equal(msg.payload.message.content.text, 'Hello');
      assert.equal(msg.payload.message.delivery_state, 'delivered');
      const meta = await got('metadata.updated');
      assert.equal(meta.payload.subject, 'conversation');
      assert.equal(meta.payload.identifier, '99cfd340-25e8-54e1-baec-7f6559fee6f6');
    } finally {
      await sub.stop();
    }
  }));

test('derived: disconnect another source’s channel → 403, unknown → 404, twice → 204, not a UUID → 400', () =>
  withFake(async (fake) => {
    const mine = await mySource(fake);
    const other = (await fake.post('/sources.create', { source_id: 'other' })).body.token as string;
    const ch = (await fake.post('/sources.channels.create', { name: 'c', source_channel_id: 'x' }, mine)).body.id as string;
    assert.equal((await fake.post('/sources.channels.disconnect', { channel_id: ch }, other)).status, 403);
    assert.equal((await fake.post('/sources.channels.disconnect', { channel_id: airyUuid('nope') }, mine)).status, 404);
    assert.equal((await fake.post('/sources.channels.disconnect', { channel_id: 'nope' }, mine)).status, 400);
    assert.equal((await fake.post('/sources.channels.disconnect', { channel_id: ch }, mine)).status, 204);
    assert.equal((await fake.post('/sources.channels.disconnect', { channel_id: ch }, mine)).status, 204);
    assert.deepEqual((await fake.post('/sources.channels.list', {}, mine)).body, { data: [] });
    // A deleted source's token gets 404 "Source not found".
    await fake.post('/sources.delete', { source_id: 'other' });
    assert.equal((await fake.post('/sources.channels.list', {}, other)).status, 404);
  }));
