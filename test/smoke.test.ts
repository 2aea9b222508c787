import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge } from './support/harness.ts';

test('the app starts on a fresh database and answers /healthz', async () => {
  const b = await startTestBridge();
  try {
    const res = await b.call('/healthz', { auth: false });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { ok: boolean }).ok, true);
  } finally {
    await b.close();
  }
});
