import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBridge } from './support/harness.ts';

test('the app starts on a fresh database and answers /healthz', async () => {
  const b = await startTestBridge();
  try {
    const res = await b.call('/healthz', { auth: false });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  } finally {
    await b.close();
  }
});

test('GET /metrics speaks Prometheus text with requests, jobs and leadership', async () => {
  const b = await startTestBridge();
  try {
    await b.call('/healthz', { auth: false });
    await b.call('/api/channels/x/conversations', { auth: false });
    const res = await b.call('/metrics', { auth: false });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^bridge_http_requests_total\{family="other",status="2xx"\} \d+$/m);
    assert.match(text, /^bridge_http_requests_total\{family="manifest",status="4xx"\} 1$/m);
    assert.match(text, /^bridge_jobs\{status="pending"\} 0$/m);
    assert.match(text, /^bridge_leader [01]$/m);
  } finally {
    await b.close();
  }
});
