import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge, type TestBridge } from '../../support/harness.ts';
import { seedChannel, seedConversation } from '../../support/seed.ts';
import { sign, TestPlatform } from '../../support/test-provider.ts';
import type { Channel, Conversation } from '../../../app/ground/records.ts';
import { TokenBuckets } from '../../../app/ground/security/token-buckets.ts';

describe('inbound webhooks are limited per channel', () => {
  let b: TestBridge;
  let noisy: Channel;
  let quiet: Channel;
  let noisyConv: Conversation;
  let quietConv: Conversation;
  before(async () => {
    // A bucket of 3 refilled at 1 per minute: the 4th call in a burst is over the budget.
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, env: { WEBHOOK_RATE_PER_MINUTE: '1', WEBHOOK_BURST: '3' } });
    noisy = await seedChannel(b, { secret: 'noisy' });
    quiet = await seedChannel(b, { secret: 'quiet' });
    noisyConv = await seedConversation(b, noisy);
    quietConv = await seedConversation(b, quiet);
  });
  after(() => b.close());

  const hook = (channel: Channel, conv: Conversation, secret: string, eventId: string) => {
    const body = JSON.stringify({ eventId, conversationId: conv.id, text: eventId });
    return fetch(`${b.url}/webhooks/test/${channel.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-signature': sign(secret, body) }, body });
  };

  test('a flood from one channel gets 429 + Retry-After in the webhook shape; another channel is unaffected', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await hook(noisy, noisyConv, 'noisy', `n-${i}`)).status, 200);
    const over = await hook(noisy, noisyConv, 'noisy', 'n-3');
    assert.equal(over.status, 429);
    assert.match(over.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.deepEqual(Object.keys((await over.json()) as object), ['error']);
    assert.equal((await hook(quiet, quietConv, 'quiet', 'q-0')).status, 200);
    // Nothing of the refused call was stored: the platform's retry is the first delivery.
    const stored = await b.db('messages').where({ channel_id: noisy.id, text: 'n-3' });
    assert.equal(stored.length, 0);
  });

  test('the bucket refills at the configured rate', () => {
    let now = 0;
    const limiter = new TokenBuckets({ perMinute: 120, burst: 2 }, () => now);
    assert.equal(limiter.take('c'), 0);
    assert.equal(limiter.take('c'), 0);
    assert.equal(limiter.take('c'), 500, 'one token every 500 ms');
    now += 500;
    assert.equal(limiter.take('c'), 0);
    assert.equal(limiter.take('other'), 0, 'buckets are per channel');
    assert.equal(new TokenBuckets({ perMinute: 0, burst: 1 }).take('c'), 0, '0 turns the limit off');
  });
});
