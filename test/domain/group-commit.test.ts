import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReceiveMessageBody } from '../../app/flows/channels-api/receive-job.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import { airyUuid } from '../../app/platforms/airy/ids.ts';
import type { AiryState } from '../../app/platforms/airy/schema.ts';
import { startAiryWorld, type AiryWorld } from '../support/airy.ts';
import { startAlvariaRig } from '../support/alvaria.ts';
import { waitFor } from '../support/harness.ts';
import { seedConversation } from '../support/seed.ts';
import type { FakeSession } from '../../fakes/alvaria/server.ts';

/**
 * Group commit of inbound events (app/domain/group-commit.ts), proved through the webhooks:
 * concurrent events share one transaction, each acknowledged only after it committed, with the
 * results sequential calls would give.
 */

const count = async (w: AiryWorld, table: string, where: Record<string, unknown> = {}) => Number(((await w.b.db(table).where(where).count({ n: '*' }).first()) as { n: number | string }).n);

interface AiryChannel {
  channel: Channel;
  state: AiryState;
}

/** A conversation of the channel that Airy knows (its platformRef set). */
async function airyConversation(w: AiryWorld, { channel, state }: AiryChannel): Promise<Conversation> {
  const conv = await seedConversation(w.b, channel);
  await w.b.platform.updateConversation(conv, { platformRef: airyUuid(state.source_id, conv.id) });
  return (await w.b.platform.findConversation(channel, { id: conv.id }))!;
}

/** Posts a signed Airy `message.send` action for one of our conversations. */
async function airyAction(w: AiryWorld, { channel, state }: AiryChannel, conv: Conversation, messageId: string, text: string) {
  const body = JSON.stringify({
    type: 'message.send',
    payload: { message: { id: messageId, source_recipient_id: null, content: { text }, sent_at: new Date().toISOString() }, conversation: { id: airyUuid(state.source_id, conv.id) } },
  });
  const res = await w.b.call(`/webhooks/airy/${channel.id}`, {
    auth: false,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-airy-content-signature': createHmac('sha256', state.source_token).update(body).digest('hex') },
    body,
  });
  return { status: res.status, body: (await res.json()) as { source_message_id?: string; error?: string } };
}

const textsOf = async (w: AiryWorld, conv: Conversation) =>
  ((await w.b.db('messages').select('text').where({ conversation_pk: conv.pk }).orderBy('seq')) as Array<{ text: string }>).map((m) => m.text);

test('concurrent Airy actions are each stored exactly once, queued once and acknowledged with their own id', async () => {
  // A wide window, so that the concurrent requests really share transactions.
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '64', INGEST_BATCH_WAIT_MS: '50' });
  try {
    const ch = await w.connect();
    const convs = await Promise.all([1, 2, 3, 4].map(() => airyConversation(w, ch)));
    // The storing transactions, as the stored-message hooks see them.
    const transactions = new Set<unknown>();
    w.b.inbox.onStored(async (tx) => {
      transactions.add(tx);
    });
    const sends = Array.from({ length: 40 }, (_, i) => ({ conv: convs[i % convs.length]!, id: `airy-${randomUUID()}`, text: `hello ${i}` }));
    const answers = await Promise.all(sends.map((s) => airyAction(w, ch, s.conv, s.id, s.text)));

    assert.deepEqual(
      answers.map((a) => a.status),
      sends.map(() => 200),
    );
    const ids = answers.map((a) => a.body.source_message_id!);
    assert.equal(new Set(ids).size, sends.length, 'each caller has its own message id');
    for (const [i, s] of sends.entries()) {
      const row = (await w.b.db('messages').where({ id: ids[i] }).first()) as { text: string; platform_message_id: string };
      assert.deepEqual({ text: row.text, platform: row.platform_message_id }, { text: s.text, platform: s.id }, 'the id answered is the message stored for that request');
    }
    assert.equal(await count(w, 'messages', { channel_id: ch.channel.id }), sends.length);
    assert.ok(transactions.size < sends.length, `the events shared transactions (${transactions.size} for ${sends.length})`);
    assert.equal(await count(w, 'inbound_events', { source: `airy:${ch.channel.id}` }), sends.length);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), sends.length);
    // Each conversation's activity points at its latest message.
    for (const c of convs) {
      const last = (await w.b.db('messages').where({ conversation_pk: c.pk }).max({ seq: 'seq' }).first()) as { seq: number | string };
      const row = (await w.b.db('conversations').where({ pk: c.pk }).first()) as { last_seq: number | string };
      assert.equal(Number(row.last_seq), Number(last.seq));
    }
    // And every one reaches Pipedrive once.
    for (const id of ids) await w.gateway.next((b: ReceiveMessageBody) => b.id === id);
    assert.equal(w.gateway.received.length, sends.length);
  } finally {
    await w.close();
  }
});

test('a redelivery inside the same batch is a duplicate answered with the stored id', async () => {
  // A batch of two is written as soon as it is full; alone, an event waits up to 100 ms for a
  // second one, so the two concurrent deliveries almost always share a transaction (the test
  // through the port below proves the same deterministically).
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '2', INGEST_BATCH_WAIT_MS: '100' });
  try {
    const ch = await w.connect();
    const conv = await airyConversation(w, ch);
    const duplicates: string[] = [];
    w.b.inbox.on('duplicate', (source) => duplicates.push(source));
    const [a, b] = await Promise.all([airyAction(w, ch, conv, 'airy-twice', 'once only'), airyAction(w, ch, conv, 'airy-twice', 'once only')]);
    assert.deepEqual([a.status, b.status], [200, 200]);
    assert.equal(a.body.source_message_id, b.body.source_message_id, 'the redelivery is answered with the stored id');
    assert.deepEqual(await textsOf(w, conv), ['once only']);
    assert.deepEqual(duplicates, [`airy:${ch.channel.id}`]);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 1);
  } finally {
    await w.close();
  }
});

test('through the port: the same event key or the same platform id twice in one batch stores once, as in sequence', async () => {
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '64', INGEST_BATCH_WAIT_MS: '50' });
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const inbound = (key: string, platformMessageId: string, text: string) =>
      w.b.platform.recordInbound(channel, { dedupe: { source: 'batch-test', key }, conversation: conv, senderId: 'agent-1', text, platformMessageId, createdAt: Date.now() });
    // Submitted in one tick: one batch, in this order.
    const results = await Promise.all([inbound('k1', 'p1', 'first'), inbound('k1', 'p-other', 'same key'), inbound('k2', 'p1', 'same platform id'), inbound('k3', 'p3', 'third')]);
    assert.deepEqual(
      results.map((r) => ('duplicate' in r ? 'duplicate' : r.message.text)),
      ['first', 'duplicate', 'duplicate', 'third'],
    );
    assert.deepEqual(await textsOf(w, conv), ['first', 'third']);
  } finally {
    await w.close();
  }
});

test('one event that fails in a batch fails alone: its neighbours are stored and acknowledged, and its redelivery lands later', async () => {
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '64', INGEST_BATCH_WAIT_MS: '50' });
  try {
    const ch = await w.connect();
    const [bad, ...good] = await Promise.all([1, 2, 3, 4].map(() => airyConversation(w, ch)));
    // A stored-message hook (run in the storing transaction) that fails for one conversation.
    let broken = true;
    w.b.inbox.onStored(async (_tx, conversation) => {
      if (broken && conversation.pk === bad!.pk) throw new Error('hook failed for this conversation');
    });
    const sends = [...good.flatMap((c, i) => [0, 1, 2].map((k) => ({ conv: c, id: `airy-good-${i}-${k}`, text: `good ${i}.${k}` }))), { conv: bad!, id: 'airy-bad', text: 'bad' }];
    // The failing one in the middle of the batch.
    sends.splice(4, 0, sends.pop()!);
    const answers = await Promise.all(sends.map((s) => airyAction(w, ch, s.conv, s.id, s.text)));

    for (const [i, s] of sends.entries()) {
      if (s.conv === bad) assert.ok(answers[i]!.status >= 500, `the failed event is not acknowledged (got ${answers[i]!.status})`);
      else assert.equal(answers[i]!.status, 200, s.text);
    }
    assert.deepEqual(await textsOf(w, bad!), [], 'nothing of the failed event is stored');
    assert.equal(await count(w, 'inbound_events', { source: `airy:${ch.channel.id}`, event_key: 'airy-bad' }), 0, 'nor its event key');
    // Concurrent requests have no order between them: each is stored once, in whatever order they came.
    for (const [i, c] of good.entries())
      assert.deepEqual(
        (await textsOf(w, c)).sort(),
        [0, 1, 2].map((k) => `good ${i}.${k}`),
      );
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), good.length * 3);

    // Airy redelivers the refused action once the cause is gone: stored once.
    broken = false;
    const again = await airyAction(w, ch, bad!, 'airy-bad', 'bad');
    assert.equal(again.status, 200);
    assert.deepEqual(await textsOf(w, bad!), ['bad']);
  } finally {
    await w.close();
  }
});

test('order per conversation: stored and delivered to Pipedrive in the order each conversation sent, across batches', async () => {
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '8', INGEST_BATCH_WAIT_MS: '5' });
  try {
    const ch = await w.connect();
    const convs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => airyConversation(w, ch)));
    const perConv = 8;
    // Each conversation sends its lines one after the other; the conversations run side by side,
    // so every batch mixes conversations.
    await Promise.all(
      convs.map(async (c, ci) => {
        for (let k = 0; k < perConv; k++) assert.equal((await airyAction(w, ch, c, `airy-o-${ci}-${k}`, `c${ci} line ${k}`)).status, 200);
      }),
    );
    // Lines submitted in one tick to the port keep their submission order inside one batch too.
    const burst = convs[0]!;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, k) =>
        w.b.platform.recordInbound(ch.channel, {
          dedupe: { source: 'burst', key: `b${k}` },
          conversation: burst,
          senderId: 'agent-1',
          text: `c0 burst ${k}`,
          platformMessageId: `b${k}`,
          createdAt: Date.now(),
        }),
      ),
    );
    assert.ok(results.every((r) => 'message' in r));

    for (const [ci, c] of convs.entries()) {
      const expected = [...Array.from({ length: perConv }, (_, k) => `c${ci} line ${k}`), ...(ci === 0 ? Array.from({ length: 6 }, (_, k) => `c0 burst ${k}`) : [])];
      assert.deepEqual(await textsOf(w, c), expected, `conversation ${ci} in seq order`);
    }
    // Pipedrive receives each conversation's lines in the same order.
    for (let i = 0; i < 400 && w.gateway.received.length < convs.length * perConv + 6; i++) await sleep(25);
    for (const [ci, c] of convs.entries()) {
      const got = w.gateway.received.filter((r) => r.body.conversation_id === c.id).map((r) => r.body.message);
      assert.deepEqual(got, await textsOf(w, c), `conversation ${ci} delivered in order`);
    }
  } finally {
    await w.close();
  }
});

test('concurrent Alvaria callbacks (default batching) are each stored once and acknowledged', async () => {
  const r = await startAlvariaRig();
  try {
    const sent = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
    const done = waitFor(r.b.outbox, 'done', (j: { kind: string }) => j.kind === 'platform.send');
    await r.post('hello');
    const [session] = await sent;
    await done;
    const payloads = Array.from({ length: 30 }, (_, i) => ({ sessionId: session.id, senderId: 'agent', message: { text: `agent line ${i}` }, eventId: randomUUID() }));
    // Every payload delivered twice at once: the second of each is a duplicate.
    const answers = await Promise.all([...payloads, ...payloads].map((p) => r.callback(p)));
    assert.ok(
      answers.every((a) => a.status === 200),
      JSON.stringify(answers.filter((a) => a.status !== 200)),
    );
    assert.equal(answers.filter((a) => a.body?.duplicate === true).length, payloads.length);
    const texts = ((await r.b.db('messages').select('text').where({ channel_id: r.channel.id, origin: 'platform' })) as Array<{ text: string }>).map((m) => m.text);
    assert.deepEqual(texts.sort(), payloads.map((p) => p.message.text).sort());
  } finally {
    await r.close();
  }
});
