import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge } from './support/harness.ts';

test('the app starts on a fresh database and answers /healthz', async () => {
  const b = await startTestBridge();
  try {
    const res = await b.call('/healthz', { auth: false });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ok: boolean; checks: unknown; outbox: unknown };
    assert.equal(body.ok, true);
    assert.deepEqual(body.checks, { database: 'ok', files: 'ok' });
    assert.deepEqual(body.outbox, { oldest_pending_age_seconds: 0 });
  } finally {
    await b.close();
  }
});
