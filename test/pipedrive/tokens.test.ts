import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLATFORM_PARTICIPANT_ID, standingConversationId } from '../../app/domain/standing.ts';
import type { Channel } from '../../app/ground/records.ts';
import type { ReceiveMessageBody } from '../../app/flows/channels-api/receive-job.ts';
import { findChannel } from '../../app/store/channels.ts';
import { findInstallation } from '../../app/store/installations.ts';
import type { Job } from '../../app/store/jobs.ts';
import { apiError } from '../../fakes/pipedrive/state.ts';
import { waitFor } from '../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive, type Installed } from '../support/install.ts';
import { TestPlatform } from '../support/test-provider.ts';

async function setup(fakeOpts: { expiresIn?: number } = {}) {
  const platform = new TestPlatform();
  const env = await startBridgeWithPipedrive({ platforms: { test: platform.factory() }, fake: fakeOpts });
  const installed = await installVia(env.bridge, env.fake);
  const synced = env.fake.next('sync');
  const res = await adminCall(env.bridge, installed.cookie, 'POST', '/channels', { provider: 'test', name: 'Support', config: { secret: 's' } });
  assert.equal(res.status, 201, await res.clone().text());
  await synced;
  const channel = (await findChannel(env.bridge.db, ((await res.json()) as any).channel.id))!;
  return { ...env, platform, installed, channel };
}

let n = 0;
function body(channel: Channel, installed: Installed, text = 'hi'): ReceiveMessageBody {
  return {
    id: `m-${++n}`,
    channel_id: channel.providerChannelId,
    sender_id: PLATFORM_PARTICIPANT_ID,
    conversation_id: standingConversationId(channel, installed.user.company_id, installed.user.id),
    message: text,
    status: 'sent',
    created_at: new Date().toISOString(),
    attachments: [],
  };
}

async function inbound(bridge: Awaited<ReturnType<typeof setup>>['bridge'], channel: Channel, installed: Installed, key: string) {
  const conv = (await bridge.inbox.findConversation(channel, { id: standingConversationId(channel, installed.user.company_id, installed.user.id) }))!;
  const r = await bridge.platform.recordInbound(channel, {
    dedupe: { source: 't', key },
    conversation: conv,
    senderId: PLATFORM_PARTICIPANT_ID,
    text: key,
    platformMessageId: key,
    createdAt: Date.now(),
  });
  assert.ok('message' in r);
  return r.message;
}

test('50 concurrent calls with an expiring token share one refresh', async () => {
  // Tokens that live 60 s are inside the refresh window from the start.
  const { bridge, fake, installed, channel, close } = await setup({ expiresIn: 60 });
  try {
    fake.settings.expiresIn = 3600;
    const before = fake.state.counters.refreshes;
    await Promise.all(Array.from({ length: 50 }, () => bridge.pipedrive.client.receiveMessage(installed.installation.id, body(channel, installed))));
    assert.equal(fake.state.counters.refreshes - before, 1);
    assert.equal(fake.state.messages.size, 50);
    // the refreshed token is stored (sealed) and reused: no further refresh
    await bridge.pipedrive.client.receiveMessage(installed.installation.id, body(channel, installed));
    assert.equal(fake.state.counters.refreshes - before, 1);
    const stored = (await findInstallation(bridge.db, installed.installation.id))!;
    assert.ok(stored.tokenExpiresAt! > Date.now() + 3000_000);
  } finally {
    await close();
  }
});

test('a 401 refreshes once and retries; a lapsed refresh token marks the installation needs_reinstall', async () => {
  const { bridge, fake, installed, channel, close } = await setup();
  try {
    fake.expireAccessTokens();
    const refreshes = fake.state.counters.refreshes;
    const unauthorized = fake.state.counters.unauthorized;
    await bridge.pipedrive.client.receiveMessage(installed.installation.id, body(channel, installed, 'after 401'));
    assert.equal(fake.state.counters.refreshes, refreshes + 1);
    assert.equal(fake.state.counters.unauthorized, unauthorized + 1);
    assert.ok([...fake.state.messages.values()].some((m) => m.message === 'after 401'));

    // Now the refresh token lapses too: the job dead-letters and the admin sees "needs reinstall".
    fake.expireAccessTokens();
    fake.lapseRefreshTokens();
    const dead = waitFor<[Job, string]>(bridge.outbox, 'dead', (j) => j.kind === 'pipedrive.receive');
    await inbound(bridge, channel, installed, 'lost-auth');
    const [, reason] = await dead;
    assert.match(reason, /reinstall/);
    const inst = (await findInstallation(bridge.db, installed.installation.id))!;
    assert.equal(inst.status, 'needs_reinstall');
    const api = (await (await adminCall(bridge, installed.cookie, 'GET', '/channels')).json()) as any;
    assert.equal(api.installation.status, 'needs_reinstall');
    assert.match(api.channels[0].last_error, /reinstall/);
    const page = await fetch(`${bridge.url}/admin`, { headers: { cookie: installed.cookie } });
    assert.match(await page.text(), /id="needs-reinstall"/);
    // Connecting is refused until the user installs again; reinstalling heals the installation.
    const refused = await adminCall(bridge, installed.cookie, 'POST', '/channels', { provider: 'test', name: 'X', config: { secret: 's' } });
    assert.equal(refused.status, 409);
    await installVia(bridge, fake);
    assert.equal((await findInstallation(bridge.db, installed.installation.id))!.status, 'active');
    await bridge.pipedrive.client.receiveMessage(installed.installation.id, body(channel, installed, 'healed'));
    assert.ok([...fake.state.messages.values()].some((m) => m.message === 'healed'));
  } finally {
    await close();
  }
});

test('receive failures: 429 and 5xx are retried, other 4xx dead-letter', async () => {
  const { bridge, fake, installed, channel, close } = await setup();
  try {
    fake.failNext('receive', { status: 429, headers: { 'retry-after': '0', 'x-ratelimit-remaining': '0' }, body: apiError('Request over limit', 'RATE_LIMIT_EXCEEDED') });
    fake.failNext('receive', { status: 503, body: apiError('unavailable', 'UNAVAILABLE') });
    const retries: string[] = [];
    // A wait for Pipedrive's window reschedules the job too (a deferral, not a failure): not counted.
    const onRetry = (_j: Job, reason: string) => !/^pacing toward/.test(reason) && retries.push(reason);
    bridge.outbox.on('retry', onRetry);
    const m = await inbound(bridge, channel, installed, 'busy');
    await fake.next('message', (r) => r.id === m.id);
    bridge.outbox.off('retry', onRetry);
    assert.equal(retries.length, 2);
    assert.match(retries[0]!, /HTTP 429/);
    assert.match(retries[1]!, /HTTP 503/);

    fake.failNext('receive', { status: 400, body: apiError('Invalid receive message payload', 'INVALID_RECEIVE_MESSAGE_PAYLOAD') });
    const dead = waitFor<[Job, string]>(bridge.outbox, 'dead', (j) => j.kind === 'pipedrive.receive');
    await inbound(bridge, channel, installed, 'rejected');
    assert.match((await dead)[1], /HTTP 400.*INVALID_RECEIVE_MESSAGE_PAYLOAD/);
  } finally {
    await close();
  }
});

test('the fake enforces the burst limit with x-ratelimit headers', async () => {
  const { bridge, fake, installed, channel, close } = await setup();
  try {
    fake.settings.burst = { limit: 2, windowMs: 60_000 };
    const token = [...fake.state.accessTokens.keys()].at(-1)!;
    const call = () =>
      fetch(`${fake.apiUrl}/api/v1/channels/messages/receive`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body(channel, installed)),
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await call());
    assert.deepEqual(statuses.map((r) => r.status).slice(-1), [429]);
    const limited = statuses.at(-1)!;
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(limited.headers.get('x-ratelimit-limit'), '2');
    assert.ok(Number(limited.headers.get('x-ratelimit-reset')) > 0);
    // and the gateway classifies it as retryable
    await assert.rejects(bridge.pipedrive.client.receiveMessage(installed.installation.id, body(channel, installed)), (err: any) => err.status === 429 && err.failure.name === 'RetryableError');
  } finally {
    await close();
  }
});

test('a channel without an installation dead-letters its receive jobs with the reason', async () => {
  const { bridge, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  try {
    const { seedChannel, seedConversation, seedInbound } = await import('../support/seed.ts');
    const ch = await seedChannel(bridge);
    const conv = await seedConversation(bridge, ch);
    const dead = waitFor<[Job, string]>(bridge.outbox, 'dead');
    await seedInbound(bridge, ch, conv, 'orphan');
    assert.match((await dead)[1], /not linked to a Pipedrive installation/);
  } finally {
    await close();
  }
});
