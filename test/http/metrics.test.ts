import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../app/ground/log.ts';
import { JOB } from '../../app/ground/job-kinds.ts';
import { outboxEvent } from '../support/airy.ts';
import { startTestBridge } from '../support/harness.ts';
import { startPipedriveRig } from '../support/pipedrive-rig.ts';
import { sign } from '../support/test-provider.ts';

const metric = (text: string, line: RegExp) => {
  const m = line.exec(text);
  assert.ok(m, `no line matching ${line} in\n${text}`);
  return Number(m[1]);
};

test('GET /metrics: requests by route and status, webhook rejections, duplicates, outbox depth and age, 429s, call latency', async () => {
  const rig = await startPipedriveRig({ fake: { burst: { limit: 3, windowMs: 2000 } }, env: { PIPEDRIVE_BURST_LIMIT: '100' } });
  try {
    const { bridge, channel } = rig;
    // The job's own finish, not the fake's receipt: the worker records it done just after the call.
    const finished = outboxEvent(bridge, 'done', JOB.pipedriveReceive);
    const first = await rig.inbound('hello', 'ev-dup');
    assert.equal(first.status, 200);
    assert.deepEqual((await rig.inbound('hello', 'ev-dup')).body, { duplicate: true });
    const body = JSON.stringify({ eventId: 'ev-x', conversationId: rig.conversationId, text: 'forged' });
    const forged = await fetch(`${bridge.url}/webhooks/test/${channel.id}`, { method: 'POST', headers: { 'x-test-signature': sign('wrong', body) }, body });
    assert.equal(forged.status, 401);
    await fetch(`${bridge.url}/api/channels/${channel.provider_channel_id}/conversations`);
    if (!rig.fake.state.messages.has(first.body.id!)) await rig.fake.next('message', (m) => m.id === first.body.id);
    await finished;

    const res = await fetch(`${bridge.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.equal(metric(text, /^bridge_http_requests_total\{method="POST",route="\/webhooks\/:platform\/:channelId",status="200"\} (\d+)$/m), 2);
    assert.equal(metric(text, /^bridge_http_requests_total\{method="POST",route="\/webhooks\/:platform\/:channelId",status="401"\} (\d+)$/m), 1);
    // Basic auth runs before routing, so a refused manifest call never reaches a route.
    assert.equal(metric(text, /^bridge_http_requests_total\{method="GET",route="unmatched",status="401"\} (\d+)$/m), 1);
    assert.equal(metric(text, /^bridge_http_requests_total\{method="GET",route="\/api\/channels\/:providerChannelId\/conversations",status="200"\} (\d+)$/m), 1);
    assert.equal(metric(text, /^bridge_webhook_verification_failures_total\{provider="test"\} (\d+)$/m), 1);
    assert.equal(metric(text, /^bridge_inbound_duplicates_total\{provider="test"\} (\d+)$/m), 1);
    assert.ok(metric(text, /^bridge_provider_call_duration_seconds_count\{target="pipedrive",op="receiveMessage",outcome="ok"\} (\d+)$/m) >= 1);
    assert.ok(metric(text, /^bridge_provider_call_duration_seconds_count\{target="pipedrive",op="addChannel",outcome="ok"\} (\d+)$/m) === 1);
    assert.ok(metric(text, /^bridge_http_request_duration_seconds_count\{family="webhook"\} (\d+)$/m) === 3);
    assert.equal(metric(text, /^bridge_jobs\{status="dead"\} (\d+)$/m), 0);
    assert.equal(metric(text, /^bridge_outbox_oldest_pending_age_seconds (\S+)$/m), 0);
    assert.match(text, /^bridge_leader [01]$/m);

    // A Pipedrive outage: depth and the age of the oldest waiting job grow; 429s are counted.
    rig.fake.settings.burst.limit = 0;
    const waiting = rig.receiveRetry(/HTTP 429/);
    await rig.inbound('into the storm');
    await waiting;
    const during = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.ok(metric(during, /^bridge_jobs\{status="pending"\} (\d+)$/m) + metric(during, /^bridge_jobs\{status="running"\} (\d+)$/m) >= 1);
    assert.ok(metric(during, /^bridge_outbox_oldest_pending_age_seconds (\S+)$/m) > 0);
    assert.ok(metric(during, /^bridge_pipedrive_rate_limited_total\{limit="burst"\} (\d+)$/m) >= 1);
  } finally {
    await rig.close();
  }
});

test('logs are JSON with a request id per request, echoed in x-request-id; secrets are redacted', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const b = await startTestBridge({ logger: createLogger('debug', sink) });
  try {
    const secret = 'Basic c2VjcmV0LXVzZXI6c2VjcmV0LXBhc3N3b3Jk';
    const mine = await b.call('/api/channels/nope/templates', { auth: secret, headers: { 'x-request-id': 'trace-123', cookie: 'pdb_session=very-secret-cookie' } });
    assert.equal(mine.status, 401);
    assert.equal(mine.headers.get('x-request-id'), 'trace-123');
    const fresh = await b.call('/healthz', { auth: false, headers: { 'x-request-id': 'bad id with spaces' } });
    const freshId = fresh.headers.get('x-request-id') ?? '';
    assert.match(freshId, /^[0-9a-f-]{36}$/, 'a malformed incoming id is replaced');
    await b.call('/files/a_1?exp=1&sig=topsecret-signature', { auth: false });
  } finally {
    await b.close();
  }
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const access = parsed.filter((l) => l.msg === 'request');
  assert.ok(access.some((l) => l.reqId === 'trace-123' && l.path === '/api/channels/nope/templates' && l.status === 401));
  assert.ok(access.every((l) => typeof l.reqId === 'string' && typeof l.ms === 'number'));
  const all = lines.join('\n');
  for (const secret of ['c2VjcmV0LXVzZXI6c2VjcmV0LXBhc3N3b3Jk', 'very-secret-cookie', 'topsecret-signature']) assert.ok(!all.includes(secret), `${secret} leaked into the logs`);
});
