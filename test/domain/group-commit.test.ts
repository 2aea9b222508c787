import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { ReceiveMessageBody } from '../../app/flows/channels-api/receive-job.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import type { InboundMessage } from '../../app/domain/platform-port.ts';
import { airyUuid } from '../../app/platforms/airy/ids.ts';
import type { AiryState } from '../../app/platforms/airy/schema.ts';
import { startAiryWorld, type AiryWorld } from '../support/airy.ts';
import { startAlvariaRig } from '../support/alvaria.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { DIALECT, startTestBridge, waitFor } from '../support/harness.ts';
import { TestPlatform } from '../support/test-provider.ts';
import { upsertInstallation } from '../../app/store/installations.ts';
import type { FakeSession } from '../../fakes/alvaria/server.ts';
import { watchStatements } from '../../scripts/lib/statements.ts';

/**
 * Group commit of inbound events (app/domain/group-commit.ts, PlatformInbox.recordInbound),
 * through the webhooks and the platform port: concurrent events share one transaction, each
 * acknowledged only after it committed, with the results sequential calls would give.
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

/** The size of every storing transaction, as the stored-message hook (once per transaction) sees them. */
function transactionSizes(w: AiryWorld): number[] {
  const sizes: number[] = [];
  w.b.inbox.onStored(async (_tx, stored) => {
    sizes.push(stored.length);
  });
  return sizes;
}

const inbound = (conversation: Conversation, key: string, platformMessageId: string | null, text: string): InboundMessage => ({
  dedupe: { source: 'batch-test', key },
  conversation,
  senderId: 'agent-1',
  text,
  platformMessageId,
  createdAt: Date.now(),
});

test('many concurrent signed Airy actions: each stored once, queued once, acknowledged with its own id, delivered once in stored order', async () => {
  const w = await startAiryWorld();
  try {
    const ch = await w.connect();
    const convs = await Promise.all([1, 2, 3, 4].map(() => airyConversation(w, ch)));
    const sizes = transactionSizes(w);
    const sends = Array.from({ length: 60 }, (_, i) => ({ conv: convs[i % convs.length]!, id: `airy-${randomUUID()}`, text: `hello ${i}` }));
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
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      sends.length,
      'every message was stored by exactly one committed transaction',
    );
    assert.equal(await count(w, 'inbound_events', { source: `airy:${ch.channel.id}` }), sends.length);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), sends.length);
    // Each conversation's activity points at its latest message.
    for (const c of convs) {
      const last = (await w.b.db('messages').where({ conversation_pk: c.pk }).max({ seq: 'seq' }).first()) as { seq: number | string };
      const row = (await w.b.db('conversations').where({ pk: c.pk }).first()) as { last_seq: number | string };
      assert.equal(Number(row.last_seq), Number(last.seq));
    }
    // Every one reaches Pipedrive once, each conversation's in the order they were stored.
    for (const id of ids) await w.gateway.next((b: ReceiveMessageBody) => b.id === id);
    assert.equal(w.gateway.received.length, sends.length);
    for (const c of convs) {
      const delivered = w.gateway.bodies.filter((b) => b.conversation_id === c.id).map((b) => b.message);
      assert.deepEqual(delivered, await textsOf(w, c));
    }
  } finally {
    await w.close();
  }
});

test('events submitted together share one transaction, at most INGEST_BATCH_MAX_EVENTS each, in submission order', async () => {
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '2' });
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const sizes = transactionSizes(w);
    // Submitted in one tick: the first starts a transaction, which takes the first two when it
    // begins; the rest follow two by two.
    const results = await Promise.all([0, 1, 2, 3, 4].map((k) => w.b.platform.recordInbound(channel, inbound(conv, `k${k}`, `p${k}`, `line ${k}`))));
    assert.ok(results.every((r) => 'message' in r));
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(await textsOf(w, conv), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  } finally {
    await w.close();
  }
  const alone = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '1' });
  try {
    const { channel } = await alone.connect();
    const conv = await seedConversation(alone.b, channel);
    const sizes = transactionSizes(alone);
    await Promise.all([0, 1, 2].map((k) => alone.b.platform.recordInbound(channel, inbound(conv, `k${k}`, `p${k}`, `line ${k}`))));
    assert.deepEqual(sizes, [1, 1, 1], '1 turns grouping off');
  } finally {
    await alone.close();
  }
});

test('a batch costs the same statements whatever its size; on PostgreSQL one statement writes it (BEGIN, the batch, COMMIT)', async () => {
  const w = await startAiryWorld();
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const sizes = transactionSizes(w);
    // The statements of each transaction (BEGIN and COMMIT included), by knex's transaction id.
    const byTx = new Map<string, string[]>();
    watchStatements(w.b.db, (q) => {
      if (q.__knexTxId) byTx.set(q.__knexTxId, [...(byTx.get(q.__knexTxId) ?? []), String(q.sql)]);
    });
    const batch = async (keys: string[]) => {
      byTx.clear();
      const results = await Promise.all(keys.map((k) => w.b.platform.recordInbound(channel, inbound(conv, k, `p-${k}`, `line ${k}`))));
      assert.ok(results.every((r) => 'message' in r));
      const writes = [...byTx.values()].filter((list) => list.some((sql) => /inbound_events/.test(sql)));
      assert.equal(writes.length, 1, 'one transaction wrote the batch');
      return writes[0]!;
    };
    const one = await batch(['s1']);
    const eight = await batch(['s2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    assert.deepEqual(sizes, [1, 8], 'each call was one transaction');
    assert.equal(eight.length, one.length, 'eight events cost what one costs');
    // The transcript hook learns from the batch statement which conversations are about a record.
    if (DIALECT === 'postgres') assert.equal(one.length, 3, `BEGIN, the batch, COMMIT; ran: ${one.join(' | ')}`);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 9);
  } finally {
    await w.close();
  }
});

test('the same event key or the same platform id twice in one batch: the first is stored, the later ones answer as duplicates', async () => {
  const w = await startAiryWorld();
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const sizes = transactionSizes(w);
    const duplicates: string[] = [];
    w.b.inbox.on('duplicate', (source) => duplicates.push(source));
    const results = await Promise.all([
      w.b.platform.recordInbound(channel, inbound(conv, 'k1', 'p1', 'first')),
      w.b.platform.recordInbound(channel, inbound(conv, 'k1', 'p-other', 'same key')),
      w.b.platform.recordInbound(channel, inbound(conv, 'k2', 'p1', 'same platform id')),
      w.b.platform.recordInbound(channel, inbound(conv, 'k3', 'p3', 'third')),
      w.b.platform.recordInbound(channel, inbound(conv, 'k3', 'p3', 'third again')),
    ]);
    assert.deepEqual(sizes, [2], 'one transaction stored the two new ones');
    assert.deepEqual(
      results.map((r) => ('duplicate' in r ? 'duplicate' : r.message.text)),
      ['first', 'duplicate', 'duplicate', 'third', 'duplicate'],
    );
    assert.deepEqual(await textsOf(w, conv), ['first', 'third']);
    assert.deepEqual(duplicates, ['batch-test', 'batch-test', 'batch-test']);
    // The key of the event whose platform id was taken is recorded, as it would be in sequence.
    assert.equal(await count(w, 'inbound_events', { source: 'batch-test' }), 3);
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 2);
  } finally {
    await w.close();
  }
});

test('an Airy action delivered twice at once is stored once, and both deliveries are answered with the stored id', async () => {
  const w = await startAiryWorld();
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

test('a batch with a failing member: the others are stored and acknowledged, only that one fails, and nothing of it is stored', async () => {
  const w = await startAiryWorld();
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const attempts: number[] = [];
    // A stored-message hook (it runs in the storing transaction) that fails for one message.
    w.b.inbox.onStored(async (_tx, stored) => {
      attempts.push(stored.length);
      if (stored.some((s) => s.message.text === 'bad')) throw new Error('hook failed for this message');
    });
    const events = [inbound(conv, 'g0', 'g0', 'good 0'), inbound(conv, 'g1', 'g1', 'good 1'), inbound(conv, 'b0', 'b0', 'bad'), inbound(conv, 'g2', 'g2', 'good 2')];
    const settled = await Promise.allSettled(events.map((e) => w.b.platform.recordInbound(channel, e)));
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((settled[2] as PromiseRejectedResult).reason), /hook failed/);
    assert.deepEqual(attempts, [4, 1, 1, 1, 1], 'the batch of four failed whole, then each was written alone, in order');
    assert.deepEqual(await textsOf(w, conv), ['good 0', 'good 1', 'good 2']);
    assert.equal(await count(w, 'inbound_events', { source: 'batch-test', event_key: 'b0' }), 0, 'nor its event key: a redelivery will be stored');
    assert.equal(await count(w, 'jobs', { kind: 'pipedrive.receive' }), 3);
  } finally {
    await w.close();
  }
});

test('concurrent Airy actions with one that cannot be stored: its webhook is refused (Airy redelivers it), its neighbours are acknowledged', async () => {
  const w = await startAiryWorld();
  try {
    const ch = await w.connect();
    const [bad, ...good] = await Promise.all([1, 2, 3, 4].map(() => airyConversation(w, ch)));
    let broken = true;
    w.b.inbox.onStored(async (_tx, stored) => {
      if (broken && stored.some((s) => s.conversation.pk === bad!.pk)) throw new Error('hook failed for this conversation');
    });
    const sends = [...good.flatMap((c, i) => [0, 1, 2].map((k) => ({ conv: c, id: `airy-good-${i}-${k}`, text: `good ${i}.${k}` }))), { conv: bad!, id: 'airy-bad', text: 'bad' }];
    // The failing one in the middle.
    sends.splice(4, 0, sends.pop()!);
    const answers = await Promise.all(sends.map((s) => airyAction(w, ch, s.conv, s.id, s.text)));

    for (const [i, s] of sends.entries()) {
      if (s.conv === bad) assert.ok(answers[i]!.status >= 500, `the failed event is not acknowledged (got ${answers[i]!.status})`);
      else assert.equal(answers[i]!.status, 200, s.text);
    }
    assert.deepEqual(await textsOf(w, bad!), [], 'nothing of the failed event is stored');
    assert.equal(await count(w, 'inbound_events', { source: `airy:${ch.channel.id}`, event_key: 'airy-bad' }), 0, 'nor its event key');
    // Concurrent requests have no order between them: each is stored once.
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
  const w = await startAiryWorld({ INGEST_BATCH_MAX_EVENTS: '8' });
  try {
    const ch = await w.connect();
    const convs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => airyConversation(w, ch)));
    const perConv = 8;
    // Each conversation sends its lines one after the other; the conversations run side by
    // side, so batches mix conversations.
    await Promise.all(
      convs.map(async (c, ci) => {
        for (let k = 0; k < perConv; k++) assert.equal((await airyAction(w, ch, c, `airy-o-${ci}-${k}`, `c${ci} line ${k}`)).status, 200);
      }),
    );
    // Lines submitted in one tick keep their submission order inside and across batches too.
    const burst = convs[0]!;
    const results = await Promise.all(Array.from({ length: 12 }, (_, k) => w.b.platform.recordInbound(ch.channel, inbound(burst, `b${k}`, `b${k}`, `c0 burst ${k}`))));
    assert.ok(results.every((r) => 'message' in r));

    for (const [ci, c] of convs.entries()) {
      const expected = [...Array.from({ length: perConv }, (_, k) => `c${ci} line ${k}`), ...(ci === 0 ? Array.from({ length: 12 }, (_, k) => `c0 burst ${k}`) : [])];
      assert.deepEqual(await textsOf(w, c), expected, `conversation ${ci} in seq order`);
    }
    // Pipedrive receives each conversation's lines in the same order.
    const total = convs.length * perConv + 12;
    for (let i = 0; i < total; i++) await w.gateway.next();
    for (const [ci, c] of convs.entries()) {
      const got = w.gateway.bodies.filter((b) => b.conversation_id === c.id).map((b) => b.message);
      assert.deepEqual(got, await textsOf(w, c), `conversation ${ci} delivered in order`);
    }
  } finally {
    await w.close();
  }
});

test('concurrent Alvaria callbacks, each delivered twice at once: each stored once, every delivery acknowledged', async () => {
  const r = await startAlvariaRig();
  try {
    const sent = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
    const done = waitFor(r.b.outbox, 'done', (j: { kind: string }) => j.kind === 'platform.send');
    await r.post('hello');
    const [session] = await sent;
    await done;
    const payloads = Array.from({ length: 30 }, (_, i) => ({ sessionId: session.id, senderId: 'agent', message: { text: `agent line ${i}` }, eventId: randomUUID() }));
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

test("a batch across channels: each delivery job carries its channel's tenant (the owning company, else the channel)", async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, env: { WORKER_CONCURRENCY: '0' } });
  try {
    const profile = (userId: number) => ({
      companyId: 42,
      userId,
      apiDomain: 'https://acme.pipedrive.com',
      userName: `admin ${userId}`,
      userEmail: null,
      companyName: 'Acme',
      companyDomain: 'acme',
      isAdmin: true,
      iconUrl: null,
    });
    const sealed = { accessTokenEnc: 'x', refreshTokenEnc: 'y', expiresAt: Date.now() + 3_600_000 };
    // Two admins of one company (one tenant), and a channel of no company.
    const [first, second] = [await upsertInstallation(b.db, 'inst-1', profile(1), sealed, Date.now()), await upsertInstallation(b.db, 'inst-2', profile(2), sealed, Date.now())];
    const connect = async (installationId: string) =>
      (await b.flows.connectChannel({ platform: 'test', name: 'Company channel', avatarUrl: null, config: { secret: 's3cret' }, templates: [], installationId })).channel;
    const channels = [await connect(first.id), await connect(second.id), await seedChannel(b)];
    const conversations = await Promise.all(channels.map((c) => seedConversation(b, c)));
    const results = await Promise.all(channels.flatMap((c, i) => [0, 1].map((k) => b.platform.recordInbound(c, inbound(conversations[i]!, `t${i}-${k}`, `t${i}-${k}`, `line ${i}.${k}`)))));
    assert.ok(results.every((r) => 'message' in r));
    const jobs = (await b.db('jobs').where({ kind: 'pipedrive.receive' }).orderBy('id')) as Array<{ channel_id: string; tenant: string; payload: string }>;
    assert.deepEqual(
      jobs.map((j) => [j.channel_id, j.tenant]),
      [
        [channels[0]!.id, 'company:42'],
        [channels[0]!.id, 'company:42'],
        [channels[1]!.id, 'company:42'],
        [channels[1]!.id, 'company:42'],
        [channels[2]!.id, `channel:${channels[2]!.id}`],
        [channels[2]!.id, `channel:${channels[2]!.id}`],
      ],
    );
    // Job ids follow the order the events came in.
    assert.deepEqual(
      jobs.map((j) => (JSON.parse(j.payload) as { messageId: string }).messageId),
      results.map((r) => ('message' in r ? r.message.id : '')),
    );
  } finally {
    await b.close();
  }
});
