import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge, waitFor, type TestBridge } from '../support/harness.ts';
import { RecordingGateway } from '../support/recording-gateway.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import type { Job } from '../../app/store/jobs.ts';
import { insertConversation } from '../../app/store/conversations.ts';

async function post(b: TestBridge, channel: Channel, conv: Conversation, text: string): Promise<string> {
  const fd = new FormData();
  fd.append('message', text);
  fd.append('conversationId', conv.id);
  const res = await b.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: fd });
  assert.equal(res.status, 200);
  return (await res.json()).data.id;
}

describe('an expired lease aborts the attempt', () => {
  const platform = new TestPlatform();
  let b: TestBridge;
  before(async () => {
    // One slot, one-second leases: a stuck attempt would hold the only slot forever.
    b = await startTestBridge({ platforms: { test: platform.factory() }, env: { WORKER_CONCURRENCY: '1', JOB_LEASE_SECONDS: '1', JOB_MAX_ATTEMPTS: '2' } });
  });
  after(() => b.close());

  test('a send that never answers is aborted when its lease runs out, and the slot serves the next job', async () => {
    const stuck = await seedChannel(b);
    const healthy = await seedChannel(b);
    platform.stallChannels.add(stuck.id);
    const parked = waitFor(platform.gateEvents, 'parked');
    const expired = waitFor<[Job]>(b.outbox, 'expired');
    const dead = waitFor<[Job]>(b.outbox, 'dead', (job: Job) => job.channelId === stuck.id, 60_000);
    const hung = await post(b, stuck, await seedConversation(b, stuck), 'into the void');
    await parked;
    const delivered = waitFor<[Job]>(b.outbox, 'done', (job: Job) => job.channelId === healthy.id);
    const ok = await post(b, healthy, await seedConversation(b, healthy), 'still goes out');
    const [job] = await expired;
    assert.equal((job.payload as { messageId: string }).messageId, hung);
    assert.equal(platform.stalled[0]!.signal?.aborted, true, 'the handler was given a signal and it was aborted');
    await delivered;
    assert.ok(platform.sent.some((s) => s.message.message.id === ok));
    // The stuck message keeps its place in the retry path and is dead-lettered at the cap, not lost.
    await dead;
    const row = await b.db('jobs').where({ status: 'dead' }).first();
    assert.match(row.last_error, /lease and was aborted/);
  });
});

describe('fair claims across tenants', () => {
  test("a tenant whose platform never answers cannot hold every worker slot: another tenant's reply is delivered", async () => {
    const platform = new TestPlatform();
    const b = await startTestBridge({ platforms: { test: platform.factory() }, env: { WORKER_CONCURRENCY: '4', JOB_LEASE_SECONDS: '60' } });
    try {
      const a = await seedChannel(b);
      const other = await seedChannel(b);
      platform.stallChannels.add(a.id);
      // Tenant A: eight conversations, each with a send that hangs (more than there are slots).
      for (let i = 0; i < 8; i++) await post(b, a, await seedConversation(b, a), `flood ${i}`);
      const delivered = waitFor<[Job]>(b.outbox, 'done', (job: Job) => job.channelId === other.id);
      const reply = await post(b, other, await seedConversation(b, other), 'reply from B');
      await delivered;
      assert.ok(platform.stalled.length >= 1 && platform.stalled.length < 4, `A holds ${platform.stalled.length} of 4 slots, never all`);
      assert.deepEqual(
        platform.sent.map((s) => s.message.message.id),
        [reply],
      );
    } finally {
      await b.close();
    }
  });

  test("a tenant's backlog of a thousand jobs does not delay another tenant's one: it is claimed next", async () => {
    const gateway = new RecordingGateway();
    const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, pipedrive: gateway, env: { WORKER_CONCURRENCY: '4' } });
    try {
      const a = await seedChannel(b);
      const other = await seedChannel(b);
      const flood = 1000;
      const bConv = await seedConversation(b, other, 'b-1');
      // A's inbound messages, each in its own new conversation, land in one commit.
      await b.db.transaction(async (tx) => {
        for (let i = 0; i < flood; i++) {
          const c = await insertConversation(tx, { id: `a-${i}`, channelId: a.id }, Date.now());
          await b.platform.recordInbound(
            a,
            { dedupe: { source: 'flood', key: `a-${i}` }, conversation: c, senderId: 'agent-1', text: `flood ${i}`, platformMessageId: null, createdAt: Date.now() },
            tx,
          );
        }
      });
      b.outbox.kick();
      const r = await b.platform.recordInbound(other, {
        dedupe: { source: 'b', key: 'b-1' },
        conversation: bConv,
        senderId: 'agent-1',
        text: 'reply from B',
        platformMessageId: null,
        createdAt: Date.now(),
      });
      assert.ok('message' in r);
      await gateway.next((body) => body.id === r.message.id, 60_000);
      const position = gateway.bodies.findIndex((body) => body.id === r.message.id);
      // Claimed by the first claim after it was stored: only what was already in flight or
      // claimed with it can go before it, never A's backlog.
      assert.ok(position >= 0 && position < 12, `B's reply was delivered after ${position} of A's ${flood} messages`);
    } finally {
      await b.close();
    }
  });
});
