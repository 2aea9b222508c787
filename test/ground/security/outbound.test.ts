import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { airyAdapterFactory } from '../../../app/platforms/airy/adapter.ts';
import { alvariaAdapterFactory } from '../../../app/platforms/alvaria/adapter.ts';
import { pipedriveAxios } from '../../../app/pipedrive/oauth-client.ts';
import { OutboundPolicy } from '../../../app/ground/security/outbound-policy.ts';
import { listChannels } from '../../../app/store/channels.ts';
import { apiError } from '../../../fakes/pipedrive/state.ts';
import { FakeAlvaria } from '../../../fakes/alvaria/server.ts';
import { HostilePlatform } from '../../../fakes/hostile.ts';
import { postMessage } from '../../support/airy.ts';
import { CLIENT_SECRET, freePort, waitFor } from '../../support/harness.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';
import { seedConversation } from '../../support/seed.ts';
import { createLogger, type Logger } from '../../../app/ground/log.ts';

/** The bridge with the real Airy and Alvaria adapters (short deadlines), a fake Pipedrive and an admin session. */
async function world(env: Record<string, string> = {}, timeoutMs = 1000, logger?: Logger) {
  const w = await startBridgeWithPipedrive({
    env,
    ...(logger ? { logger } : {}),
    platforms: {
      airy: airyAdapterFactory({ timeoutMs, realtime: { backoff: { baseMs: 20, capMs: 100 }, rescanMs: 50 } }),
      alvaria: alvariaAdapterFactory({ timeoutMs }),
    },
  });
  try {
    const { cookie, user } = await installVia(w.bridge, w.fake);
    const connect = async (config: Record<string, unknown>, provider = 'airy') => {
      const res = await adminCall(w.bridge, cookie, 'POST', '/channels', { provider, name: `Hostile ${provider}`, config });
      return { status: res.status, body: (await res.json()) as any, headers: res.headers };
    };
    return { ...w, cookie, user, connect };
  } catch (err) {
    await w.close();
    throw err;
  }
}

async function tcpServer(onConnection: (s: import('node:net').Socket) => void): Promise<{ port: number; server: TcpServer }> {
  const server = createTcpServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

test('outbound policy: private, loopback, link-local, CGNAT, unique-local, multicast and their IPv4-mapped forms are refused unless allowed', () => {
  const strict = new OutboundPolicy({ allow: [], maxResponseBytes: 1024 });
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
  ]) {
    assert.equal(strict.permits('h.example', a), false, a);
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) assert.equal(strict.permits('h.example', a), true, a);

  const allowed = new OutboundPolicy({ allow: ['10.0.0.0/8', 'airy.internal', '::1'], maxResponseBytes: 1024 });
  assert.equal(allowed.permits('x', '10.9.8.7'), true);
  assert.equal(allowed.permits('x', '::ffff:10.9.8.7'), true, 'a mapped address matches its IPv4 CIDR');
  assert.equal(allowed.permits('x', '::1'), true);
  assert.equal(allowed.permits('x', '192.168.1.1'), false);
  assert.equal(allowed.permits('AIRY.internal', '192.168.1.1'), true, 'an allowed host name may resolve anywhere');
  assert.throws(() => new OutboundPolicy({ allow: ['not a host!'], maxResponseBytes: 1 }), /neither a host name nor a CIDR/);
});

test('SSRF: connect refuses loopback hosts (literal, by name, IPv4-mapped, unspecified) without sending them anything; OUTBOUND_ALLOW lets them in', async () => {
  const hostile = await HostilePlatform.start();
  const w = await world({ OUTBOUND_ALLOW: '' });
  try {
    const port = new URL(hostile.url).port;
    for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', '0.0.0.0', '[::1]']) {
      const r = await w.connect({ api_url: `http://${host}:${port}`, system_token: 't' });
      assert.equal(r.status, 400, host);
      assert.deepEqual(
        r.body.error.fields.map((f: { field: string }) => f.field),
        ['config.api_url'],
        host,
      );
      assert.match(r.body.error.fields[0].message, /private or internal network/, host);
    }
    assert.equal(hostile.requests.length, 0, 'no request reached the internal host');
    assert.deepEqual(await listChannels(w.bridge.db, { includeDeleted: true }), []);
  } finally {
    await w.close();
  }
  const allowed = await world({ OUTBOUND_ALLOW: '127.0.0.1/32' });
  try {
    const r = await allowed.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(hostile.requests.includes('/sources.create'));
  } finally {
    await allowed.close();
    await hostile.close();
  }
});

test("SSRF: a platform URL on an internal address is the admin's input to correct: 400 naming the field, in plain words, logged below error level", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const raw of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(raw) as Record<string, unknown>);
      done();
    },
  });
  const alvaria = await FakeAlvaria.start();
  const w = await world({}, 1000, createLogger('debug', sink));
  try {
    const fieldsOf = (r: { body: any }) => r.body.error.fields as Array<{ field: string; message: string }>;
    // The cloud metadata address: refused before any connection is made.
    const airy = await w.connect({ api_url: 'http://169.254.169.254', system_token: 't' });
    assert.equal(airy.status, 400);
    assert.equal(airy.body.error.code, 'INVALID_BODY');
    assert.deepEqual(
      fieldsOf(airy).map((f) => f.field),
      ['config.api_url'],
    );
    assert.match(fieldsOf(airy)[0]!.message, /^This address is on a private or internal network, which this server does not call\./);
    assert.match(airy.body.error.message, /config\.api_url/);
    // Plain words: no address, no setting of the operator's, no step of ours.
    assert.doesNotMatch(JSON.stringify(airy.body), /169\.254|OUTBOUND_ALLOW|EOUTBOUND|Creating the Airy/);
    // Alvaria names whichever of its two URLs was refused.
    const token = await w.connect(alvaria.channelConfig({ token_url: 'http://10.0.0.1/oauth2/token' }), 'alvaria');
    assert.equal(token.status, 400);
    assert.deepEqual(
      fieldsOf(token).map((f) => f.field),
      ['config.token_url'],
    );
    const api = await w.connect(alvaria.channelConfig({ api_url: 'http://10.0.0.1' }), 'alvaria');
    assert.equal(api.status, 400);
    assert.deepEqual(
      fieldsOf(api).map((f) => f.field),
      ['config.api_url'],
    );
    // The workspace settings page connects through the same flow: the same answer.
    const uiToken = await mintUiToken({ userId: w.user.id, companyId: w.user.company_id, secret: CLIENT_SECRET });
    const settings = await fetch(`${w.bridge.url}/ui/api/settings/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${uiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'airy', name: 'Internal', config: { api_url: 'http://169.254.169.254', system_token: 't' } }),
    });
    assert.equal(settings.status, 400);
    assert.deepEqual(fieldsOf({ body: await settings.json() }), fieldsOf(airy));
    assert.deepEqual(await listChannels(w.bridge.db, { includeDeleted: true }), []);

    assert.deepEqual(
      lines.filter((l) => (l.level as number) >= 50),
      [],
      'no error-level line',
    );
    assert.equal(lines.filter((l) => l.level === 20 && l.msg === 'request rejected' && l.status === 400).length, 4);
  } finally {
    await w.close();
    await alvaria.stop();
  }
});

test('SSRF: the destination is checked again at each call, not only at connect', async () => {
  const hostile = await HostilePlatform.start();
  const first = await world({ OUTBOUND_ALLOW: '127.0.0.0/8' });
  try {
    const r = await first.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(r.status, 201);
    const channel = (await listChannels(first.bridge.db))[0]!;
    const conversation = await seedConversation(first.bridge, channel);
    // The operator narrows the allow-list: a process started with the new setting sends nothing there.
    const { startTestBridge } = await import('../../support/harness.ts');
    const strict = await startTestBridge({
      shareDb: first.bridge,
      env: { OUTBOUND_ALLOW: '', APP_SECRET: first.bridge.config.appSecret, PIPEDRIVE_OAUTH_URL: first.fake.oauthUrl, PIPEDRIVE_API_URL: first.fake.apiUrl, WORKER_CONCURRENCY: '2' },
      platforms: { airy: airyAdapterFactory({ timeoutMs: 1000 }) },
    });
    try {
      await first.bridge.outbox.stop();
      const before = hostile.requests.length;
      const retried = waitFor<[unknown, string]>(strict.outbox, 'retry', (j: any) => j.kind === 'platform.send');
      await postMessage(strict, channel.providerChannelId, conversation.id, 'hello');
      const [, reason] = await retried;
      assert.match(reason, /Airy \/sources\.webhook: .*private, loopback or otherwise internal address/);
      assert.equal(hostile.requests.slice(before).filter((p) => p === '/sources.webhook').length, 0);
    } finally {
      await strict.close();
    }
  } finally {
    await first.close();
    await hostile.close();
  }
});

test('SSRF: base URLs with a query, fragment, credentials or another scheme are refused before any call', async () => {
  const hostile = await HostilePlatform.start();
  const w = await world();
  try {
    for (const api_url of [`${hostile.url}/internal/admin?`, `${hostile.url}/internal#`, `http://user:pw@${new URL(hostile.url).host}`, `ftp://${new URL(hostile.url).host}`, `file:///etc/passwd`]) {
      const r = await w.connect({ api_url, system_token: 't' });
      assert.equal(r.status, 400, api_url);
      assert.match(r.body.error.message, /config\.api_url/, api_url);
    }
    const fake = await FakeAlvaria.start();
    try {
      const r = await w.connect({ ...fake.channelConfig(), api_url: `${hostile.url}/internal?` }, 'alvaria');
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, /config\.api_url: must not contain a query/i);
    } finally {
      await fake.stop();
    }
    assert.equal(hostile.requests.length, 0);
  } finally {
    await w.close();
    await hostile.close();
  }
});

test('SSRF: a closed port, a reset, a non-HTTP service and a silent one all give the admin the same connect error', async () => {
  const closedPort = await freePort();
  const reset = await tcpServer((s) => s.resetAndDestroy());
  const banner = await tcpServer((s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'));
  const silent = await tcpServer(() => {});
  const w = await world({}, 500);
  try {
    const messages = new Set<string>();
    for (const port of [closedPort, reset.port, banner.port, silent.port]) {
      const r = await w.connect({ api_url: `http://127.0.0.1:${port}`, system_token: 't' });
      assert.equal(r.status, 502, String(port));
      messages.add(r.body.error.message);
    }
    assert.equal(messages.size, 1, [...messages].join(' | '));
    assert.doesNotMatch([...messages][0]!, /ECONN|ETIMEDOUT|parse|socket|refused|reset/i);
  } finally {
    await w.close();
    for (const s of [reset, banner, silent]) {
      s.server.close();
    }
  }
});

test('SSRF: a platform answer body never reaches the admin (connect error, dead-letter reason, last_error); it goes to the log', async () => {
  const hostile = await HostilePlatform.start();
  const secret = 'INTERNAL-ADMIN-PANEL-TOKEN-42';
  const w = await world();
  try {
    hostile.behaviours['/sources.create'] = { kind: 'status', status: 500, secret };
    const refused = await w.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(refused.status, 502);
    assert.doesNotMatch(JSON.stringify(refused.body), new RegExp(secret));
    assert.match(refused.body.error.message, /HTTP 500/);

    delete hostile.behaviours['/sources.create'];
    hostile.behaviours['/sources.webhook'] = { kind: 'status', status: 400, secret };
    const ok = await w.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(ok.status, 201);
    const channel = (await listChannels(w.bridge.db)).find((c) => c.platform === 'airy')!;
    const conversation = await seedConversation(w.bridge, channel);
    const dead = waitFor<[unknown, string]>(w.bridge.outbox, 'dead', (j: any) => j.kind === 'platform.send');
    await postMessage(w.bridge, channel.providerChannelId, conversation.id, 'hi');
    const [, reason] = await dead;
    assert.match(reason, /HTTP 400/);
    assert.doesNotMatch(reason, new RegExp(secret));
    const letters = await (await adminCall(w.bridge, w.cookie, 'GET', '/dead-letters')).text();
    assert.doesNotMatch(letters, new RegExp(secret));
    const list = await (await adminCall(w.bridge, w.cookie, 'GET', '/channels')).text();
    assert.doesNotMatch(list, new RegExp(secret));
    assert.match(list, /HTTP 400/);
  } finally {
    await w.close();
    await hostile.close();
  }
});

test("SSRF: Alvaria's api_url is verified at connect with an authenticated call", async () => {
  const fake = await FakeAlvaria.start();
  const hostile = await HostilePlatform.start();
  const w = await world();
  try {
    // Some internal service that answers 200 to anything is not Alvaria.
    const r = await w.connect({ ...fake.channelConfig(), api_url: hostile.url }, 'alvaria');
    assert.equal(r.status, 502);
    assert.match(r.body.error.message, /api_url did not answer like Alvaria/);
    assert.ok(
      hostile.requests.some((p) => p.endsWith('/serverMessaging/session')),
      'the check called api_url',
    );
    // A wrong api_key is caught now, not at the first message.
    const badKey = await w.connect({ ...fake.channelConfig(), api_key: 'wrong' }, 'alvaria');
    assert.equal(badKey.status, 502);
    assert.match(badKey.body.error.message, /api_url refused the token or api_key/);
    const good = await w.connect(fake.channelConfig(), 'alvaria');
    assert.equal(good.status, 201, JSON.stringify(good.body));
  } finally {
    await w.close();
    await hostile.close();
    await fake.stop();
  }
});

test('SSRF: connect attempts are rate-limited per installation with a clear 429', async () => {
  const w = await world({ CONNECT_ATTEMPTS_PER_MINUTE: '3' });
  try {
    // A form the app refuses before calling anyone costs no attempt; calls that go out do.
    assert.equal((await w.connect({ api_url: 'http://127.0.0.1:1?', system_token: 't' })).status, 400);
    for (let i = 0; i < 3; i++) assert.equal((await w.connect({ api_url: 'http://127.0.0.1:1', system_token: 't' })).status, 502);
    const limited = await w.connect({ api_url: 'http://127.0.0.1:1', system_token: 't' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'RATE_LIMIT_EXCEEDED');
    assert.match(limited.body.error.message, /Too many connect attempts; try again in \d+ s/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  } finally {
    await w.close();
  }
});

test('SSRF: the Airy WebSocket subscription ends with its last channel, and when a connect is rolled back', async () => {
  const hostile = await HostilePlatform.start();
  hostile.ws = { kind: 'endless', chunkBytes: 16, maxBytes: 16 };
  const w = await world();
  try {
    // Rolled back: Pipedrive refuses the channel. A dial in flight may or may not have completed.
    w.fake.failNext('addChannel', { status: 500, body: apiError('Internal server error', 'INTERNAL') });
    const failed = await w.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(failed.status, 502);
    if (hostile.openWs > 0) await waitFor(hostile, 'wsClosed', () => hostile.openWs === 0, 30_000);
    // Several rescans of the leader (every 50 ms here) pass without a new dial.
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(hostile.openWs, 0, 'no subscription left after the rollback');

    // Deleted: the subscription goes with the last channel on that host and does not come back.
    const again = waitFor(hostile, 'wsConnected', () => true, 30_000);
    const r = await w.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(r.status, 201);
    await again;
    // Bounded generously: the disconnect job runs through the outbox, slow on a loaded machine.
    const closed = waitFor(hostile, 'wsClosed', () => true, 30_000);
    assert.equal((await adminCall(w.bridge, w.cookie, 'DELETE', `/channels/${r.body.channel.id}`)).status, 200);
    await closed;
    let redialled = false;
    hostile.once('wsConnected', () => (redialled = true));
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(redialled, false);
    assert.equal(hostile.openWs, 0);
  } finally {
    await w.close();
    await hostile.close();
  }
});

test('slow host: a call that receives one byte every 2 s fails at its total deadline (connect, send, Pipedrive transport)', async () => {
  const hostile = await HostilePlatform.start();
  hostile.behaviours['/sources.create'] = { kind: 'drip', dripMs: 2000, dripBytes: 15 };
  // The deadline is longer than the gap between bytes, so only a total deadline ends the call.
  const w = await world({}, 3000);
  const bounded = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => {
        setTimeout(() => reject(new Error(`${what} still running after ${ms} ms`)), ms).unref();
      }),
    ]);
  try {
    const r = await bounded(w.connect({ api_url: hostile.url, system_token: 't' }), 8000, 'connect');
    assert.equal(r.status, 502);
    assert.match(r.body.error.message, /the host did not answer in time or could not be reached/);

    delete hostile.behaviours['/sources.create'];
    assert.equal((await w.connect({ api_url: hostile.url, system_token: 't' })).status, 201);
    hostile.behaviours['/sources.webhook'] = { kind: 'drip', dripMs: 2000, dripBytes: 15 };
    const channel = (await listChannels(w.bridge.db)).find((c) => c.platform === 'airy')!;
    const conversation = await seedConversation(w.bridge, channel);
    const retried = waitFor<[unknown, string]>(w.bridge.outbox, 'retry', (j: any) => j.kind === 'platform.send', 15_000);
    await postMessage(w.bridge, channel.providerChannelId, conversation.id, 'hello');
    const [, reason] = await retried;
    assert.match(reason, /Airy \/sources\.webhook: the host did not answer in time/);

    const pd = pipedriveAxios(3000);
    await assert.rejects(bounded(pd.get(`${hostile.url}/sources.webhook`), 8000, 'pipedrive call'), (err: any) => err.code === 'ETIMEDOUT');
  } finally {
    await w.close();
    await hostile.close();
  }
});

test('huge answer: a 50 MB platform answer is refused at the size cap without buffering it', async () => {
  const hostile = await HostilePlatform.start();
  hostile.behaviours['/sources.create'] = { kind: 'huge', hugeBytes: 50 * 1024 * 1024 };
  const w = await world({}, 20_000);
  try {
    const rssBefore = process.memoryUsage().rss;
    const r = await w.connect({ api_url: hostile.url, system_token: 't' });
    assert.equal(r.status, 502);
    assert.match(r.body.error.message, /the answer was larger than 1048576 bytes/);
    assert.ok(process.memoryUsage().rss - rssBefore < 40 * 1024 * 1024, 'the body was not buffered');
  } finally {
    await w.close();
    await hostile.close();
  }
});

test('never-ending STOMP frame: the Airy WebSocket is closed once a frame outgrows the cap', async () => {
  const hostile = await HostilePlatform.start();
  hostile.ws = { kind: 'endless', chunkBytes: 64 * 1024, maxBytes: 8 * 1024 * 1024 };
  const w = await world({ OUTBOUND_MAX_RESPONSE_BYTES: String(256 * 1024) });
  try {
    const closed = waitFor<[number]>(hostile, 'wsClosed', () => true, 15_000);
    assert.equal((await w.connect({ api_url: hostile.url, system_token: 't' })).status, 201);
    const [sent] = await closed;
    assert.ok(sent < 2 * 1024 * 1024, `closed after ${sent} bytes`);
  } finally {
    await w.close();
    await hostile.close();
  }
});

test('bounded maps: Airy WebSocket hosts and Alvaria token caches keyed by tenant input are LRU-capped', async () => {
  const hosts = await Promise.all([HostilePlatform.start(), HostilePlatform.start(), HostilePlatform.start()]);
  for (const h of hosts) h.ws = { kind: 'endless', chunkBytes: 16, maxBytes: 16 };
  const fake = await FakeAlvaria.start();
  const w = await startBridgeWithPipedrive({
    platforms: {
      airy: airyAdapterFactory({ timeoutMs: 2000, realtime: { backoff: { baseMs: 20, capMs: 100 }, rescanMs: 60_000, maxHosts: 2 } }),
      alvaria: alvariaAdapterFactory({ timeoutMs: 2000, maxTokenClients: 1 }),
    },
  });
  try {
    const { cookie } = await installVia(w.bridge, w.fake);
    const connect = async (provider: string, config: Record<string, unknown>) => (await adminCall(w.bridge, cookie, 'POST', '/channels', { provider, name: provider, config })).status;
    for (const h of hosts.slice(0, 2)) {
      const up = waitFor(h, 'wsConnected');
      assert.equal(await connect('airy', { api_url: h.url, system_token: 't' }), 201);
      await up;
    }
    // A third host pushes out the least recently used subscription.
    const evicted = waitFor(hosts[0]!, 'wsClosed');
    const third = waitFor(hosts[2]!, 'wsConnected');
    assert.equal(await connect('airy', { api_url: hosts[2]!.url, system_token: 't' }), 201);
    await Promise.all([evicted, third]);
    assert.equal(
      hosts.reduce((n, h) => n + h.openWs, 0),
      2,
    );

    // Two credential sets (token URLs differ) with room for one cache: the first one's token is fetched again.
    const a = { ...fake.channelConfig(), token_url: `${fake.tokenUrl}?set=a` };
    const b = { ...fake.channelConfig(), token_url: `${fake.tokenUrl}?set=b` };
    assert.equal(await connect('alvaria', a), 201);
    assert.equal(fake.tokenCalls, 1);
    assert.equal(await connect('alvaria', a), 201);
    assert.equal(fake.tokenCalls, 1, 'cached while it fits');
    assert.equal(await connect('alvaria', b), 201);
    assert.equal(await connect('alvaria', a), 201);
    assert.equal(fake.tokenCalls, 3, 'the evicted cache fetched a new token');
  } finally {
    await w.close();
    await fake.stop();
    for (const h of hosts) await h.close();
  }
});
