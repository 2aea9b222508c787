import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge, waitFor, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import { backoffDelay } from '../../app/runtime/backoff.ts';
import { parseRetryAfter } from '../../app/ground/failures.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import type { Job } from '../../app/store/jobs.ts';

const isSend = (id?: string) => (job: Job) => job.kind === 'platform.send' && (!id || (job.payload as { messageId: string }).messageId === id);

describe('outbox', () => {
  const platform = new TestPlatform();
  let b: TestBridge;
  let channel: Channel;
  let conv: Conversation;

  before(async () => {
    b = await startTestBridge({ platforms: { test: platform.factory() }, env: { JOB_MAX_ATTEMPTS: '4', JOB_LEASE_SECONDS: '1' } });
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

  test('a worker stuck mid-job is aborted when its lease ends; the job runs again and the stuck attempt changes nothing', async () => {
    platform.script = ['gate'];
    const parked = waitFor(platform.gateEvents, 'parked');
    const expired = waitFor(b.outbox, 'expired', isSend());
    const reclaimedDone = waitFor(b.outbox, 'done', isSend());
    const id = await post('stuck');
    await parked;
    // The first attempt is stuck; after the 1 s lease it is aborted and a new claim runs the job to completion.
    await expired;
    const [job] = await reclaimedDone;
    assert.equal(job.attempts, 2);
    assert.equal(platform.sent.filter((s) => s.message.message.id === id).length, 1);
    platform.openGates();
    const row = await b.db('jobs').where({ id: job.id }).first();
    assert.equal(row.status, 'done');
  });

  test('a finish from a claim that no longer holds the job is refused', async () => {
    const { claimJobs, finishJob } = await import('../../app/store/jobs.ts');
    await b.outbox.stop(); // this test plays both claims itself (the last test of the suite)
    const jobId = (await b.db('jobs').max({ m: 'id' }).first())!.m as number;
    await b.db('jobs').where({ id: jobId }).update({ status: 'pending', run_at: 0, locked_by: null, locked_until: null });
    const now = Date.now();
    const [first] = await claimJobs(b.db, 'late-claim', 1, now, 1, 1);
    const [second] = await claimJobs(b.db, 'new-claim', 1, now + 10, 60_000, 1);
    assert.equal(first?.id, jobId);
    assert.equal(second?.id, jobId, 'the expired lease was re-claimed');
    assert.equal(await finishJob(b.db, jobId, 'late-claim', { status: 'done' }, now + 20), false);
    assert.equal(await finishJob(b.db, jobId, 'new-claim', { status: 'done' }, now + 20), true);
  });
});

describe('backoff', () => {
  test('full jitter stays within [0, min(cap, base·2^n)] and honours Retry-After', () => {
    for (let n = 0; n < 20; n++) {
      const d = backoffDelay(n, { baseMs: 100, capMs: 5000 });
      assert.ok(d >= 0 && d <= Math.min(5000, 100 * 2 ** n));
    }
    assert.equal(
      backoffDelay(1, { baseMs: 100, capMs: 5000, retryAfterMs: 30_000 }, () => 0.5),
      30_000,
    );
    assert.equal(
      backoffDelay(3, { baseMs: 100, capMs: 5000 }, () => 0.5),
      400,
    );
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
