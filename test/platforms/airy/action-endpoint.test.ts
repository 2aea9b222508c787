import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import { seedConversation } from '../../support/seed.ts';
import { postMessage, startAiryWorld, type AiryWorld, outboxEvent } from '../../support/airy.ts';

const count = async (w: AiryWorld, table: string, where: Record<string, unknown> = {}) => Number(((await w.b.db(table).where(where).count({ n: '*' }).first()) as { n: number | string }).n);

async function hook(w: AiryWorld, channelId: string, body: string, signature: string | null) {
  const res = await w.b.call(`/webhooks/airy/${channelId}`, {
    auth: false,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== null ? { 'x-airy-content-signature': signature } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('the action endpoint rejects missing, malformed and wrong signatures with 401 {error} and stores nothing', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    await w.b.platform.updateConversation(conv, { platformRef: airyUuid(state.source_id, conv.id) });
    const body = JSON.stringify({
      type: 'message.send',
      payload: { message: { id: 'airy-msg-1', source_recipient_id: null, content: { text: 'forged' }, sent_at: new Date().toISOString() }, conversation: { id: airyUuid(state.source_id, conv.id) } },
    });
    const sign = (key: string, b = body) => createHmac('sha256', key).update(b).digest('hex');
    const before = { messages: await count(w, 'messages'), jobs: await count(w, 'jobs'), events: await count(w, 'inbound_events') };

    for (const [signature, why] of [
      [null, /Missing/],
      ['', /Missing/],
      ['abc123', /Malformed/],
      [sign(state.source_token).toUpperCase(), /Malformed/],
      [sign('some-other-token'), /Invalid/],
      [sign(state.source_token, body + ' '), /Invalid/],
    ] as const) {
      const r = await hook(w, channel.id, body, signature);
      assert.equal(r.status, 401, String(signature));
      assert.equal(typeof r.body.error, 'string');
      assert.match(r.body.error as string, why);
    }
    assert.deepEqual({ messages: await count(w, 'messages'), jobs: await count(w, 'jobs'), events: await count(w, 'inbound_events') }, before);

    // Correctly signed but unusable payloads: 400 with a string error (never an error-less non-200).
    for (const bad of ['not json', JSON.stringify({ type: 'message.delete', payload: { message: { id: 'x' } } }), JSON.stringify({ type: 'message.send' })]) {
      const r = await hook(w, channel.id, bad, sign(state.source_token, bad));
      assert.equal(r.status, 400, bad);
      assert.equal(typeof r.body.error, 'string');
    }
    // Unknown conversation, no recipient → 404 {error}.
    const orphan = JSON.stringify({ type: 'message.send', payload: { message: { id: 'x2', content: 'hi' }, conversation: { id: airyUuid('nope') } } });
    const r404 = await hook(w, channel.id, orphan, sign(state.source_token, orphan));
    assert.equal(r404.status, 404);
    assert.equal(typeof r404.body.error, 'string');
    // Unknown channel → 404 {error} from the router.
    const unknown = await hook(w, 'ch_nope', body, sign(state.source_token));
    assert.equal(unknown.status, 404);
    assert.equal(typeof unknown.body.error, 'string');

    // And the genuine article is accepted.
    const ok = await hook(w, channel.id, body, sign(state.source_token));
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(ok.body), ['source_message_id']);
  } finally {
    await w.close();
  }
});

test('oversized ids are refused with 400 on both databases; a sent_at outside the Date range falls back to now', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const action = (message: Record<string, unknown>) =>
      JSON.stringify({
        type: 'message.send',
        payload: { message: { id: 'm-1', source_recipient_id: 'pd-user-7', content: { text: 'hi' }, sent_at: new Date().toISOString(), ...message }, conversation: null },
      });
    const sign = (b: string) => createHmac('sha256', state.source_token).update(b).digest('hex');
    const before = { messages: await count(w, 'messages'), events: await count(w, 'inbound_events'), participants: await count(w, 'participants') };
    for (const bad of [action({ id: 'i'.repeat(256) }), action({ source_recipient_id: 'r'.repeat(129) })]) {
      const r = await hook(w, channel.id, bad, sign(bad));
      assert.equal(r.status, 400);
      assert.equal(typeof r.body.error, 'string');
    }
    assert.deepEqual({ messages: await count(w, 'messages'), events: await count(w, 'inbound_events'), participants: await count(w, 'participants') }, before);

    const t0 = Date.now();
    const odd = action({ id: 'm-far', sent_at: 1e20 });
    const r = await hook(w, channel.id, odd, sign(odd));
    assert.equal(r.status, 200);
    const got = await w.gateway.next((b) => b.id === r.body.source_message_id);
    assert.ok(Date.parse(got.created_at) >= t0 - 1000, got.created_at);
  } finally {
    await w.close();
  }
});

test('at-least-once delivery: a redelivered action is stored once and answered with the original id', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const sent = outboxEvent(w.b, 'done', 'platform.send');
    await postMessage(w.b, channel.providerChannelId, conv.id, 'Hi');
    await sent;
    await w.gateway.next((b) => b.status === 'delivered');

    w.fake.redeliverActions = true;
    const reply = await w.fake.userReply(airyUuid(state.source_id, conv.id), 'Plain string content');
    const calls = w.fake.actionCalls.filter((c) => c.messageId === reply.id);
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((c) => [c.status, c.outcome]),
      calls.map(() => [200, { state: 'DELIVERED', sourceMessageId: (JSON.parse(calls[0]!.response) as { source_message_id: string }).source_message_id }]),
    );
    const ourId = (JSON.parse(calls[0]!.response) as { source_message_id: string }).source_message_id;
    const got = await w.gateway.next((b) => b.id === ourId);
    assert.equal(got.message, 'Plain string content');
    assert.equal(await count(w, 'messages', { platform_message_id: reply.id }), 1);

    // A replay of the same signed bytes later on is still the same message.
    const replay = await hook(w, channel.id, calls[0]!.body, calls[0]!.signature);
    assert.deepEqual(replay, { status: 200, body: { source_message_id: ourId } });
    assert.equal(await count(w, 'messages', { platform_message_id: reply.id }), 1);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 2, 'one for `delivered` of our message, one for the reply');
  } finally {
    await w.close();
  }
});

test('a signed action replayed after the event keys were purged (Airy signatures carry no time) is still not stored again', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    await w.b.platform.updateConversation(conv, { platformRef: airyUuid(state.source_id, conv.id) });
    const body = JSON.stringify({
      type: 'message.send',
      payload: {
        message: { id: 'airy-replayed-1', source_recipient_id: null, content: { text: 'once' }, sent_at: new Date().toISOString() },
        conversation: { id: airyUuid(state.source_id, conv.id) },
      },
    });
    const signature = createHmac('sha256', state.source_token).update(body).digest('hex');
    const first = await hook(w, channel.id, body, signature);
    assert.equal(first.status, 200);
    await w.gateway.next((b) => b.id === first.body.source_message_id);

    // The retention sweep, run as if the dedupe window had passed.
    const { sweep, RETENTION } = await import('../../../app/runtime/retention-task.ts');
    await sweep(w.b.db, Date.now() + RETENTION.eventKeysMs + 60_000);
    assert.equal(await count(w, 'inbound_events', { event_key: 'airy-replayed-1' }), 0, 'the event key is gone');

    const replay = await hook(w, channel.id, body, signature);
    assert.deepEqual(replay, { status: 200, body: { source_message_id: first.body.source_message_id } });
    assert.equal(await count(w, 'messages', { platform_message_id: 'airy-replayed-1' }), 1);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 1, 'nothing new for Pipedrive');
  } finally {
    await w.close();
  }
});

test('an Airy user opening a new conversation (conversation: null) creates one; replies from Pipedrive land in the same Airy conversation', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    // Airy users address a person: the Pipedrive user's participant id.
    const reply = await w.fake.userReplyNew(state.channel_id, 'pd-user-42', { text: 'Hello, can we talk?', attachments: [{ type: 'image', url: 'https://cdn.example.com/p/photo.png' }] });
    assert.equal(reply.deliveryState, 'DELIVERED');
    assert.equal(JSON.parse(w.fake.actionCalls.at(-1)!.body).payload.conversation, null);
    const got = await w.gateway.next();
    const airyConversationId = airyUuid(state.source_id, 'pd-user-42');
    assert.equal(got.conversation_id, `airy-${airyConversationId}`);
    assert.equal(got.sender_id, 'airy-agent');
    assert.equal(got.message, 'Hello, can we talk?');
    assert.deepEqual(
      got.attachments.map((a) => [a.type, a.url, a.name]),
      [['image/png', 'https://cdn.example.com/p/photo.png', 'photo.png']],
    );

    const sent = outboxEvent(w.b, 'done', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, got.conversation_id, 'Sure!');
    await sent;
    const m = w.fake.model.messages.get(airyUuid(state.source_id, id));
    assert.equal(m?.conversationId, airyConversationId);
    assert.equal(m?.senderId, 'pd-user-42');

    // The next Airy reply arrives with the conversation and finds the same one.
    await w.fake.userReply(airyConversationId, { text: 'Great' });
    const second = await w.gateway.next((b) => b.message === 'Great');
    assert.equal(second.conversation_id, got.conversation_id);
  } finally {
    await w.close();
  }
});
