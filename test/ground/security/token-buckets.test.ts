import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBuckets, waitSeconds } from '../../../app/ground/security/token-buckets.ts';

test('a key spends its burst at once, then waits for the refill; other keys are unaffected', () => {
  let now = 0;
  const buckets = new TokenBuckets({ perMinute: 6, burst: 2 }, () => now);
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 10_000, 'one token every 10 s');
  assert.equal(buckets.take('b'), 0);
  now += 4_000;
  assert.equal(buckets.take('a'), 6_000, 'the wait shrinks as the bucket refills');
  now += 6_000;
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 10_000);
});

test('a refilled bucket never holds more than the burst', () => {
  let now = 0;
  const buckets = new TokenBuckets({ perMinute: 60, burst: 3 }, () => now);
  buckets.take('a');
  now += 3_600_000;
  for (let i = 0; i < 3; i++) assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 1_000);
});

test('perMinute 0 turns the limit off', () => {
  const buckets = new TokenBuckets({ perMinute: 0, burst: 0 });
  for (let i = 0; i < 100; i++) assert.equal(buckets.take('a'), 0);
});

test('the key table is bounded: idle full buckets are dropped, and past maxKeys the least recent key goes', () => {
  let now = 0;
  const buckets = new TokenBuckets({ perMinute: 1, burst: 1, maxKeys: 3 }, () => now);
  for (const key of ['a', 'b', 'c', 'd', 'e']) assert.equal(buckets.take(key), 0);
  assert.equal(buckets.size, 3, 'tenant input cannot grow the table past maxKeys');
  // 'a' was pushed out: it starts again with a full bucket, 'e' (recent) is still empty.
  assert.equal(buckets.take('a'), 0);
  assert.ok(buckets.take('e') > 0);
  // A minute later every bucket is full again, so none needs remembering.
  now += 60_000;
  assert.equal(buckets.take('z'), 0);
  assert.equal(buckets.size, 1);
});

test('waitSeconds rounds up to whole seconds, at least 1 (for Retry-After)', () => {
  assert.equal(waitSeconds(1), 1);
  assert.equal(waitSeconds(1_000), 1);
  assert.equal(waitSeconds(1_001), 2);
  assert.equal(waitSeconds(0), 1);
});
