import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Channel, Conversation } from '../../../app/ground/records.ts';
import { seedChannel, seedConversation } from '../../support/seed.ts';
import { startTestBridge, waitFor, type TestBridge } from '../../support/harness.ts';
import { TestPlatform } from '../../support/test-provider.ts';

/**
 * Group commit of postMessage (Inbox.postMessage, app/domain/group-commit.ts), through the
 * Channels API: concurrent posts share one transaction, each answered only after it
 * committed, with the results the same posts would get one after the other.
 */

function form(fields: Record<string, string>, files: Array<{ name: string; type: string; data: string }> = []): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const f of files) fd.append('files', new Blob([f.data], { type: f.type }), f.name);
  return fd;
}

interface Rig {
  b: TestBridge;
  platform: TestPlatform;
  channel: Channel;
  post(conv: Conversation, text: string, files?: Array<{ name: string; type: string; data: string }>): Promise<{ status: number; body: { success: boolean; data: { id: string; code?: string } } }>;
  /** The size of every storing transaction, as the stored-message hook (once per transaction) sees them. */
  sizes: number[];
}

async function rig(env: Record<string, string> = {}): Promise<Rig> {
  const platform = new TestPlatform();
  // No per-minute quota: the tests post faster than a company may.
  const b = await startTestBridge({ platforms: { test: platform.factory() }, env: { QUOTA_MESSAGES_PER_MINUTE: '0', ...env } });
  const channel = await seedChannel(b);
  const sizes: number[] = [];
  b.inbox.onStored(async (_tx, stored) => {
    sizes.push(stored.length);
  });
  const path = `/api/channels/${channel.providerChannelId}/messages`;
  return {
    b,
    platform,
    channel,
    sizes,
    async post(conv, text, files = []) {
      const res = await b.call(path, { method: 'POST', body: form({ conversationId: conv.id, message: text }, files) });
      return { status: res.status, body: await res.json() };
    },
  };
}

const textsOf = async (b: TestBridge, conv: Conversation) => ((await b.db('messages').select('text').where({ conversation_pk: conv.pk }).orderBy('seq')) as Array<{ text: string }>).map((m) => m.text);

/** The messages each of the conversation's delivery jobs sends, in job id order. */
const queuedOf = async (b: TestBridge, conv: Conversation) =>
  (
    (await b
      .db('jobs')
      .select('payload')
      .where({ kind: 'platform.send', ordering_key: `send:${conv.id}` })
      .orderBy('id')) as Array<{ payload: string }>
  ).map((j) => (JSON.parse(j.payload) as { messageId: string }).messageId);

const idsOf = async (b: TestBridge, conv: Conversation) => ((await b.db('messages').select('id').where({ conversation_pk: conv.pk }).orderBy('seq')) as Array<{ id: string }>).map((m) => m.id);

/**
 * Holds the next storing transaction inside its stored-message hook (so, before its commit)
 * until `release()`, and counts the posts that are ready to be written (postMessage called,
 * and the files of a post with files adopted), so a test can line up posts behind the held
 * transaction and know when they are all waiting.
 */
function holdNextTransaction(r: Rig) {
  const events = new EventEmitter<{ held: []; entered: []; adopted: [] }>();
  let open: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let armed = true;
  r.b.inbox.onStored(async () => {
    if (!armed) return;
    armed = false;
    events.emit('held');
    await gate;
  });
  let entered = 0;
  let adopted = 0;
  const postMessage = r.b.inbox.postMessage.bind(r.b.inbox);
  r.b.inbox.postMessage = (...args) => {
    entered++;
    events.emit('entered');
    return postMessage(...args);
  };
  const adopt = r.b.files.adopt.bind(r.b.files);
  r.b.files.adopt = async (...args) => {
    await adopt(...args);
    adopted++;
    events.emit('adopted');
  };
  return {
    held: once(events, 'held'),
    /** Resolves once `posts` posts in all have reached postMessage and `files` files were adopted. */
    async ready(posts: number, files = 0) {
      while (entered < posts) await once(events, 'entered');
      while (adopted < files) await once(events, 'adopted');
    },
    release: () => open!(),
  };
}

/** Whether the promise has settled by the time the event loop has run one more turn. */
async function settledNow(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

test('concurrent posts: each answered with its own id, stored once, queued once, each conversation in the order it posted, delivered in that order', async () => {
  const r = await rig();
  try {
    const convs = await Promise.all([1, 2, 3, 4].map(() => seedConversation(r.b, r.channel)));
    const perConv = 10;
    // Each conversation posts its lines one after the other; the conversations run side by
    // side, so batches mix conversations.
    const answers = await Promise.all(
      convs.map(async (c, ci) => {
        const ids: string[] = [];
        for (let k = 0; k < perConv; k++) {
          const a = await r.post(c, `c${ci} line ${k}`);
          assert.equal(a.status, 200, JSON.stringify(a.body));
          ids.push(a.body.data.id);
        }
        return ids;
      }),
    );
    const total = convs.length * perConv;
    assert.equal(new Set(answers.flat()).size, total, 'each post has its own message id');
    assert.equal(
      r.sizes.reduce((a, b) => a + b, 0),
      total,
      'every message was stored by exactly one committed transaction',
    );
    for (const [ci, c] of convs.entries()) {
      const lines = Array.from({ length: perConv }, (_, k) => `c${ci} line ${k}`);
      assert.deepEqual(await textsOf(r.b, c), lines, `conversation ${ci} stored in the order it posted`);
      assert.deepEqual(await idsOf(r.b, c), answers[ci], 'the id answered is the message stored for that post');
      assert.deepEqual(await queuedOf(r.b, c), answers[ci], `conversation ${ci}: one delivery job per message, ids in the order of its messages`);
      const row = (await r.b.db('conversations').where({ pk: c.pk }).first()) as { last_seq: number | string; seen: unknown };
      const last = (await r.b.db('messages').where({ conversation_pk: c.pk }).max({ seq: 'seq' }).first()) as { seq: number | string };
      assert.equal(Number(row.last_seq), Number(last.seq), 'its activity points at its latest message');
      assert.equal(Boolean(row.seen), false, 'unseen');
    }
    // The platform receives each conversation's messages once, in the order they were posted.
    // The worker may have delivered them all while the checks above ran: look before waiting.
    if (r.platform.sent.length < total) await waitFor(r.b.outbox, 'done', () => r.platform.sent.length >= total);
    assert.equal(r.platform.sent.length, total);
    for (const [ci, c] of convs.entries()) {
      const sent = r.platform.sent.filter((s) => s.message.conversation.id === c.id).map((s) => s.message.message.id);
      assert.deepEqual(sent, answers[ci], `conversation ${ci} delivered in order`);
    }
  } finally {
    await r.b.close();
  }
});

test('posts that arrive while a transaction is written share the next one, at most INGEST_BATCH_MAX_EVENTS each; none is answered before its commit', async () => {
  const r = await rig({ INGEST_BATCH_MAX_EVENTS: '4', WORKER_CONCURRENCY: '0' });
  try {
    const conv = await seedConversation(r.b, r.channel);
    // Known conversation (the lookup cache), so the posts below reach the batch without a read.
    assert.equal((await r.post(conv, 'warm-up')).status, 200);
    r.sizes.length = 0;
    const hold = holdNextTransaction(r);
    const first = r.post(conv, 'first');
    await hold.held;
    // The first post's transaction is open and waits before its commit: six more posts line up.
    const rest = [1, 2, 3, 4, 5, 6].map((k) => r.post(conv, `next ${k}`));
    await hold.ready(7);
    assert.equal(await settledNow(first), false, 'not answered before its transaction committed');
    assert.deepEqual(await textsOf(r.b, conv), ['warm-up'], 'nothing of the open transaction is visible');
    hold.release();
    const answers = await Promise.all([first, ...rest]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200, 200],
    );
    assert.deepEqual(r.sizes, [1, 4, 2], 'the six waiting posts went in two transactions, four and two');
    // Concurrent requests have no order between them; the held one came first.
    const texts = await textsOf(r.b, conv);
    assert.deepEqual(texts.slice(0, 2), ['warm-up', 'first']);
    assert.deepEqual(texts.slice(2).sort(), ['next 1', 'next 2', 'next 3', 'next 4', 'next 5', 'next 6']);
    const stored = await idsOf(r.b, conv);
    assert.deepEqual(stored.slice(1).sort(), answers.map((a) => a.body.data.id).sort(), 'each answer names its stored message');
    assert.deepEqual(await queuedOf(r.b, conv), stored, 'delivery jobs in the order the messages were stored');
  } finally {
    await r.b.close();
  }
  const alone = await rig({ INGEST_BATCH_MAX_EVENTS: '1', WORKER_CONCURRENCY: '0' });
  try {
    const conv = await seedConversation(alone.b, alone.channel);
    const answers = await Promise.all([0, 1, 2].map((k) => alone.post(conv, `line ${k}`)));
    assert.ok(answers.every((a) => a.status === 200));
    assert.deepEqual(alone.sizes, [1, 1, 1], '1 turns grouping off');
  } finally {
    await alone.b.close();
  }
});

test('a batch with a post that cannot be stored: only that post fails (500, nothing of it kept, its file removed), its neighbours are stored and answered', async () => {
  const r = await rig({ WORKER_CONCURRENCY: '0' });
  try {
    const conv = await seedConversation(r.b, r.channel);
    assert.equal((await r.post(conv, 'warm-up')).status, 200);
    let broken = true;
    const attempts: number[] = [];
    // A stored-message hook (it runs in the storing transaction) that fails for one message.
    r.b.inbox.onStored(async (_tx, stored) => {
      attempts.push(stored.length);
      if (broken && stored.some((s) => s.message.text === 'bad')) throw new Error('hook failed for this message');
    });
    const hold = holdNextTransaction(r);
    const opener = r.post(conv, 'opener');
    await hold.held;
    const batch = [
      r.post(conv, 'good 0'),
      r.post(conv, 'good 1'),
      r.post(conv, 'bad', [{ name: 'bad.txt', type: 'text/plain', data: 'never kept' }]),
      r.post(conv, 'good 2', [{ name: 'good.txt', type: 'text/plain', data: 'kept' }]),
    ];
    await hold.ready(5, 2);
    hold.release();
    assert.equal((await opener).status, 200);
    const answers = await Promise.all(batch);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 500, 200],
    );
    assert.deepEqual(answers[2]!.body, { success: false, data: { message: 'Internal error', code: 'INTERNAL_ERROR' } });
    assert.deepEqual(attempts.slice(1), [4, 1, 1, 1, 1], 'the batch of four failed whole, then each post was written alone');
    const texts = await textsOf(r.b, conv);
    assert.deepEqual(texts.slice(0, 2), ['warm-up', 'opener']);
    assert.deepEqual(texts.slice(2).sort(), ['good 0', 'good 1', 'good 2']);
    const stored = await idsOf(r.b, conv);
    assert.deepEqual(await queuedOf(r.b, conv), stored, 'one delivery job per stored message, none for the failed one');
    const attachments = (await r.b.db('attachments').select('id', 'name')) as Array<{ id: string; name: string }>;
    assert.deepEqual(
      attachments.map((a) => a.name),
      ['good.txt'],
    );
    assert.deepEqual(
      readdirSync(join(r.b.dir, 'files')).filter((n) => n.startsWith('a_')),
      [attachments[0]!.id],
      "the failed post's adopted file is removed again",
    );
    // Pipedrive posts it again once the cause is gone: stored.
    broken = false;
    assert.equal((await r.post(conv, 'bad')).status, 200);
    assert.deepEqual((await textsOf(r.b, conv)).at(-1), 'bad');
  } finally {
    await r.b.close();
  }
});
