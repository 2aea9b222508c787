import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PACING, msUntilUtcMidnight, PipedrivePacer, type PacingConfig } from '../../app/pipedrive/pacing.ts';

// The pacer's arithmetic on a hand-driven clock. pacing.test.ts proves the same rules end to
// end against the fake Pipedrive; here every branch is pinned without waiting.

function rig(cfg: Partial<PacingConfig> = {}) {
  let now = Date.UTC(2026, 0, 15, 10, 0, 0);
  const pacer = new PipedrivePacer({ ...DEFAULT_PACING, maxInlineWaitMs: 0, ...cfg }, () => now);
  return {
    pacer,
    advance: (ms: number) => (now += ms),
    now: () => now,
    /** The delay of the deferral admit throws (admit never sleeps: maxInlineWaitMs is 0). */
    async deferredBy(id = 'i1'): Promise<number> {
      try {
        await pacer.admit(id);
      } catch (e) {
        const delay = (e as { delayMs?: unknown }).delayMs;
        assert.equal(typeof delay, 'number', `a deferral carries its delay: ${String(e)}`);
        return delay as number;
      }
      assert.fail('admit let the call through');
    },
  };
}

test('pacer: a rolling window of burstLimit calls; the next slot opens when the oldest call leaves the window (+10 %)', async () => {
  const r = rig({ burstLimit: 3, windowMs: 2000 });
  for (let i = 0; i < 3; i++) {
    await r.pacer.admit('i1');
    r.advance(100);
  }
  // Oldest sent at t0; the window with its margin ends at t0 + 2200; now is t0 + 300.
  assert.equal(await r.deferredBy(), 1900);
  await r.pacer.admit('other'); // installations are paced separately
  r.advance(1900);
  await r.pacer.admit('i1');
  assert.equal(r.pacer.counts.deferred, 1);
});

test('pacer: the limit is learned from x-ratelimit-limit, and remaining 0 blocks until x-ratelimit-reset', async () => {
  const r = rig({ burstLimit: 80 });
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 200, headers: { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' } });
  assert.equal(r.pacer.stateOf('i1').limit, 2);
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3' } });
  assert.equal(await r.deferredBy(), 3000);
  // Header values may come as arrays (repeated headers): the first counts.
  const a = rig();
  await a.pacer.admit('i1');
  a.pacer.observe('i1', { status: 200, headers: { 'x-ratelimit-limit': ['5', '9'] } });
  assert.equal(a.pacer.stateOf('i1').limit, 5);
});

test('pacer: calls still on the wire spend what Pipedrive says is left', async () => {
  const r = rig();
  await r.pacer.admit('i1');
  await r.pacer.admit('i1');
  // One answer says one call is left, but the other admitted call has not answered yet.
  r.pacer.observe('i1', { status: 200, headers: { 'x-ratelimit-remaining': '1' } });
  assert.equal(await r.deferredBy(), 2000, 'the default reset is the window, in whole seconds');
});

test('pacer: a 429 with room left in the burst window parks the installation for the day; a burst 429 only blocks', async () => {
  const r = rig();
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 429, headers: { 'x-ratelimit-remaining': '40' } });
  const parked = r.pacer.stateOf('i1').parkedUntil;
  assert.equal(parked, r.now() + msUntilUtcMidnight(r.now()));
  const hold = r.pacer.holdOf('i1');
  assert.match(String(hold?.message), /daily API budget is spent until 2026-01-16T00:00:00.000Z/);
  assert.deepEqual(r.pacer.figures(), { burst429: 0, daily429: 1, deferred: 1, breakerOpened: 0, parked: 1, openCircuits: 0 });

  const d = rig();
  await d.pacer.admit('i1');
  d.pacer.observe('i1', { status: 429, headers: { 'x-daily-ratelimit-token-remaining': '0', 'retry-after': '60' } });
  assert.equal(d.pacer.stateOf('i1').parkedUntil, d.now() + 60_000, 'Retry-After bounds the parking');

  const b = rig();
  await b.pacer.admit('i1');
  b.pacer.observe('i1', { status: 429, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' } });
  assert.equal(b.pacer.holdOf('i1'), null, 'a burst 429 is short: no long hold');
  assert.equal(b.pacer.stateOf('i1').parkedUntil, null);
  assert.equal(b.pacer.counts.burst429, 1);
  assert.equal(await b.deferredBy(), 2000);
});

test('pacer: consecutive failures open the circuit; one probe decides; a failed probe doubles the cooldown', async () => {
  const r = rig({ breakerThreshold: 3, breakerBaseMs: 5000, breakerMaxMs: 12_000 });
  for (const status of [503, null, 500]) {
    await r.pacer.admit('i1');
    r.pacer.observe('i1', { status });
  }
  assert.equal(r.pacer.stateOf('i1').breaker, 'open');
  assert.equal(r.pacer.stateOf('i1').breakerOpenUntil, r.now() + 5000);
  assert.match(String(r.pacer.holdOf('i1')?.message), /3 failures in a row/);
  assert.equal(await r.deferredBy(), 5000);

  r.advance(5000);
  await r.pacer.admit('i1'); // the probe
  assert.equal(r.pacer.stateOf('i1').breaker, 'half-open');
  assert.equal(await r.deferredBy(), 1000, 'others wait for the probe');
  r.pacer.observe('i1', { status: 502 });
  assert.equal(r.pacer.stateOf('i1').breakerOpenUntil, r.now() + 10_000);

  r.advance(10_000);
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 500 });
  assert.equal(r.pacer.stateOf('i1').breakerOpenUntil, r.now() + 12_000, 'capped at breakerMaxMs');

  r.advance(12_000);
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 404 }); // an answer, even a 4xx, proves Pipedrive is up
  assert.equal(r.pacer.stateOf('i1').breaker, 'closed');
  assert.equal(r.pacer.figures().breakerOpened, 3);
});

test('pacer: a failure below the threshold, then a success, starts the count again', async () => {
  const r = rig({ breakerThreshold: 2 });
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 500 });
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 200 });
  await r.pacer.admit('i1');
  r.pacer.observe('i1', { status: 500 });
  assert.equal(r.pacer.stateOf('i1').breaker, 'closed');
});

test('msUntilUtcMidnight: the time left in the UTC day', () => {
  assert.equal(msUntilUtcMidnight(Date.UTC(2026, 0, 15, 23, 59, 59, 0)), 1000);
  assert.equal(msUntilUtcMidnight(Date.UTC(2026, 0, 15, 0, 0, 0, 0)), 86_400_000);
  assert.equal(msUntilUtcMidnight(Date.UTC(2026, 11, 31, 12, 0, 0, 0)), 12 * 3_600_000, 'across the year end');
});
