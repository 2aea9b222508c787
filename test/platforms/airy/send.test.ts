import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import { seedConversation } from '../../support/seed.ts';
import { adapterConnectInput, postMessage, startAiryWorld, outboxEvent } from '../../support/airy.ts';
import { airyAdapterFactory } from '../../../app/platforms/airy/adapter.ts';
import { DIALECT, startTestBridge, waitFor } from '../../support/harness.ts';

test('Airy down during a send (503 twice): the outbox retries, then the message is delivered once', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    w.fake.failNext('/sources.webhook', 2, 503);
    const retries: string[] = [];
    w.b.outbox.on('retry', (job, reason) => job.kind === 'platform.send' && retries.push(reason));
    const done = outboxEvent(w.b, 'done', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, conv.id, 'Are you there?');
    await done;
    assert.equal(retries.length, 2);
    assert.match(retries[0]!, /Airy \/sources\.webhook: HTTP 503/);
    assert.ok(w.fake.model.messages.has(airyUuid(state.source_id, id)));
    assert.equal(w.fake.model.messagesIn(airyUuid(state.source_id, conv.id)).length, 1);
    const delivered = await w.gateway.next((b) => b.id === id);
    assert.equal(delivered.status, 'delivered');
  } finally {
    await w.close();
  }
});

test('Airy not answering in time: the send times out, is retried, and lands once', async () => {
  // The deadline covers a whole call (connect's too), so it leaves room for a loaded machine.
  const w = await startAiryWorld({}, { timeoutMs: 1500 });
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    w.fake.stallNext('/sources.webhook', 1, 4000);
    const retry = outboxEvent(w.b, 'retry', 'platform.send');
    const done = outboxEvent(w.b, 'done', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, conv.id, 'Slow network');
    assert.match((await retry).reason, /Airy \/sources\.webhook: the host did not answer in time/);
    await done;
    assert.equal(w.fake.model.messagesIn(airyUuid(state.source_id, conv.id)).length, 1);
    assert.ok(w.fake.model.messages.has(airyUuid(state.source_id, id)));
  } finally {
    await w.close();
  }
});

test('Airy rejecting a send (400) dead-letters it with the reason and Pipedrive hears `failed`', async () => {
  const w = await startAiryWorld();
  try {
    const { channel } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    w.fake.failNext('/sources.webhook', 1, 400);
    const dead = outboxEvent(w.b, 'dead', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, conv.id, 'Rejected');
    const { reason } = await dead;
    assert.match(reason, /HTTP 400/);
    const failed = await w.gateway.next((b) => b.id === id);
    assert.equal(failed.status, 'failed');
    const stored = await w.b.inbox.getMessage(channel, id);
    assert.match(stored.error ?? '', /HTTP 400/);
  } finally {
    await w.close();
  }
});

test('sending works while the WebSocket is down; the subscriber reconnects after a drop and can be stopped/started by a leadership hook', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);

    // Not the leader: no subscription, sending still works (no receipts meanwhile).
    const gone = once(w.fake.broker, 'disconnected');
    await w.adapter.realtime.stop();
    await gone;
    assert.equal(w.fake.broker.subscriberCount, 0);
    const done = outboxEvent(w.b, 'done', 'platform.send');
    const id = await postMessage(w.b, channel.providerChannelId, conv.id, 'While nobody listens');
    await done;
    assert.ok(w.fake.model.messages.has(airyUuid(state.source_id, id)));

    // Leadership regained: one subscription per host again.
    const subscribed = once(w.fake.broker, 'subscribed');
    await w.adapter.realtime.start();
    await subscribed;
    assert.equal(w.fake.broker.subscriberCount, 1);

    // The connection drops: it comes back with backoff and receipts flow again.
    const back = once(w.fake.broker, 'subscribed');
    w.fake.broker.dropAll();
    await back;
    await w.fake.read(airyUuid(state.source_id, conv.id));
    const read = await w.gateway.next((b) => b.id === id);
    assert.equal(read.status, 'read', 'a missed `delivered` is caught up by the next unread_count change');
  } finally {
    await w.close();
  }
});

test('a host announced while the subscriber is stopped (starting, just elected) is subscribed at start, before its channel is stored and without a rescan', async () => {
  const w = await startAiryWorld({}, { rescanMs: 3_600_000 });
  try {
    // The leader's hook starts the subscriber; stop it after that, as a lost election would.
    if (!w.b.singletons.isLeader) await waitFor(w.b.singletons, 'elected');
    await w.adapter.realtime.stop();
    // The adapter's connect announces the host; the flow stores the channel only after it
    // returns, so a start() reading the channels in between does not see it yet.
    await w.adapter.connect(adapterConnectInput(w, 'ch_announced', 'Announced'));
    assert.equal(w.fake.broker.subscriberCount, 0, 'nothing subscribes while stopped');
    const subscribed = waitFor(w.fake.broker, 'subscribed', () => true, 5_000);
    await w.adapter.realtime.start();
    await subscribed;
    assert.equal(w.fake.broker.subscriberCount, 1);
  } finally {
    await w.close();
  }
});

test(
  'a channel connected on a process that is not the leader is picked up by the leader’s subscription',
  { skip: DIALECT !== 'postgres' && 'leadership is a PostgreSQL advisory lock; sqlite runs one process' },
  async () => {
    const w = await startAiryWorld();
    if (!w.b.singletons.isLeader) await waitFor(w.b.singletons, 'elected');
    // Processes of one deployment share APP_SECRET (the channel's secrets are sealed with it).
    const other = await startTestBridge({ shareDb: w.b, env: { APP_SECRET: w.b.config.appSecret }, pipedrive: w.gateway, platforms: { airy: airyAdapterFactory({ realtime: { rescanMs: 50 } }) } });
    try {
      assert.equal(w.b.singletons.isLeader, true);
      assert.equal(other.singletons.isLeader, false);
      const subscribed = waitFor(w.fake.broker, 'subscribed');
      await other.flows.connectChannel({
        platform: 'airy',
        name: 'Connected elsewhere',
        avatarUrl: null,
        config: { api_url: w.fake.url, system_token: w.fake.systemToken },
        templates: [],
        installationId: null,
      });
      await subscribed;
      assert.equal(w.fake.broker.subscriberCount, 1, 'one subscription, held by the leader');
    } finally {
      await other.close();
      await w.close();
    }
  },
);
