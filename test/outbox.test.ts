import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge, waitFor, type TestBridge } from './support/harness.ts';
import { seedChannel, seedConversation } from './support/seed.ts';
import { TestPlatform } from './support/test-provider.ts';
import { backoffDelay } from '../app/outbox/backoff.ts';
import { parseRetryAfter } from '../app/outbox/errors.ts';
import type { Channel, Conversation } from '../app/inbox/types.ts';
import type { Job } from '../app/store/jobs.ts';

const isSend = (id?: string) => (job: Job) => job.kind === 'provider.send' && (!id || (job.payload as { messageId: string }).messageId === id);

describe('outbox', () => {
  const platform = new TestPlatform();
  let b: TestBridge;
  let channel: Channel;
  let conv: Conversation;

  before(async () => {
    b = await startTestBridge({ providers: { test: platform.factory() }, env: { JOB_MAX_ATTEMPTS: '4', JOB_LEASE_SECONDS: '1' } });
    channel = await seedChannel(b);
    conv = await seedConversation(b, channel);
  });
  after(() => b.close());

  async function post(text: string): Promise<string> {
    const fd = new FormData();
    fd.append('message', text);
    fd.append('conversationId', conv.id);
    const res = await b.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: fd });
    assert.equal(res.status, 200);
    return (await res.json()).data.id;
  }
  const status = async (id: string) => (await (await b.call(`/api/channels/${channel.providerChannelId}/messages/${id}`)).json()).status;

  test('a send that fails twice is retried and then delivered once', async () => {
    platform.script = ['retry', 'retry'];
    const done = waitFor(b.outbox, 'done', isSend());
    const id = await post('retry me');
    const [job] = await done;
    assert.equal(job.attempts, 3);
    assert.equal(platform.sent.filter((s) => s.message.message.id === id).length, 1);
    assert.equal(await status(id), 'sent');
  });

  test('a permanent failure goes straight to the dead letters and the message is failed', async () => {
    platform.script = ['permanent'];
    const dead = waitFor<[Job, string]>(b.outbox, 'dead', isSend());
    const id = await post('reject me');
    const [job, reason] = await dead;
    assert.equal(job.attempts, 1);
    assert.match(reason, /rejected/);
    assert.equal(await status(id), 'failed');
    const row = await b.db('jobs').where({ id: job.id }).first();
    assert.equal(row.status, 'dead');
    assert.match(row.last_error, /rejected/);
  });

  test('retries stop at the attempt cap with the reason kept', async () => {
    platform.script = ['retry', 'retry', 'retry', 'retry'];
    const dead = waitFor<[Job, string]>(b.outbox, 'dead', isSend());
    const id = await post('never works');
    const [job, reason] = await dead;
    assert.equal(job.attempts, 4);
    assert.match(reason, /gave up after 4 attempts: platform busy/);
    assert.equal(await status(id), 'failed');
  });

  test('messages of one conversation go out in order even when the first is retried', async () => {
    platform.script = ['retry', 'retry'];
    let sends = 0;
    const bothDone = waitFor(b.outbox, 'done', (job: Job) => isSend()(job) && ++sends === 2);
    const first = await post('one');
    const second = await post('two');
    await bothDone;
    const order = platform.sent.map((s) => s.message.message.id).filter((x) => x === first || x === second);
    assert.deepEqual(order, [first, second]);
  });

  test('a worker that dies mid-job loses its lease; the job is re-claimed and a late finish is refused', async () => {
    platform.script = ['gate'];
    const parked = waitFor(platform.gateEvents, 'parked');
    const reclaimedDone = waitFor(b.outbox, 'done', isSend());
    const id = await post('stuck');
    await parked;
    // The first attempt is stuck; after the 1 s lease another claim runs it to completion.
    const [job] = await reclaimedDone;
    assert.equal(job.attempts, 2);
    assert.equal(platform.sent.filter((s) => s.message.message.id === id).length, 1);
    const lost = waitFor(b.outbox, 'lost', (j: Job) => j.id === job.id);
    platform.openGates();
    await lost;
    const row = await b.db('jobs').where({ id: job.id }).first();
    assert.equal(row.status, 'done');
  });
});

describe('backoff', () => {
  test('full jitter stays within [0, min(cap, base·2^n)] and honours Retry-After', () => {
    for (let n = 0; n < 20; n++) {
      const d = backoffDelay(n, { baseMs: 100, capMs: 5000 });
      assert.ok(d >= 0 && d <= Math.min(5000, 100 * 2 ** n));
    }
    assert.equal(backoffDelay(1, { baseMs: 100, capMs: 5000, retryAfterMs: 30_000 }, () => 0.5), 30_000);
    assert.equal(backoffDelay(3, { baseMs: 100, capMs: 5000 }, () => 0.5), 400);
  });

  test('Retry-After in seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7000);
    const now = Date.now();
    const ms = parseRetryAfter(new Date(now + 60_000).toUTCString(), now);
    assert.ok(ms !== undefined && ms > 58_000 && ms <= 60_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
