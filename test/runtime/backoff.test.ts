import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../app/runtime/backoff.ts';

// The range and Retry-After cases are in outbox.test.ts; these pin the edges of the formula.

test('backoff: the ceiling doubles per attempt until the cap, and the draw scales it (full jitter)', () => {
  const opts = { baseMs: 100, capMs: 5000 };
  const top = () => 0.999_999;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, top)),
    [99, 199, 399, 799, 1599, 3199, 4999],
  );
  assert.equal(
    backoffDelay(5, opts, () => 0),
    0,
    'full jitter may retry at once',
  );
  assert.equal(
    backoffDelay(5, opts, () => 0.25),
    800,
  );
});

test('backoff: huge attempt counts stay finite and capped', () => {
  for (const n of [31, 64, 1024, Number.MAX_SAFE_INTEGER]) {
    const d = backoffDelay(n, { baseMs: 100, capMs: 60_000 }, () => 0.5);
    assert.equal(d, 30_000, `attempt ${n}`);
  }
});

test('backoff: Retry-After is a floor, not a replacement; an undefined one is ignored', () => {
  assert.equal(
    backoffDelay(6, { baseMs: 100, capMs: 5000, retryAfterMs: 1000 }, () => 0.9),
    4500,
    'a longer own delay wins',
  );
  assert.equal(
    backoffDelay(6, { baseMs: 100, capMs: 5000, retryAfterMs: 1000 }, () => 0.1),
    1000,
  );
  assert.equal(
    backoffDelay(2, { baseMs: 100, capMs: 5000, retryAfterMs: undefined }, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(0, { baseMs: 100, capMs: 5000, retryAfterMs: 0 }, () => 0),
    0,
  );
});
