import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertMatchesSpec } from '../../fakes/pipedrive/contract.ts';
import { BASIC, CLIENT_ID, startTestBridge, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../support/seed.ts';
import { sign, TestPlatform } from '../support/test-provider.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';

describe('auth and error shapes', () => {
  let b: TestBridge;
  let channel: Channel;
  let conv: Conversation;
  let paths: Array<[string, string]>;

  before(async () => {
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
    channel = await seedChannel(b, { secret: 'hook-secret' });
    conv = await seedConversation(b, channel);
    const m = await seedInbound(b, channel, conv, 'hello');
    const ch = `/api/channels/${channel.providerChannelId}`;
    paths = [
      ['GET', `${ch}/conversations`],
      ['GET', `${ch}/conversations/${conv.id}`],
      ['POST', `${ch}/messages`],
      ['GET', `${ch}/messages/${m.id}`],
      ['GET', `${ch}/conversations/${conv.id}/messages/${m.id}`],
      ['GET', `${ch}/senders/agent-1`],
      ['GET', `${ch}/templates`],
      ['DELETE', ch],
    ];
  });
  after(() => b.close());

  test('every manifest route answers 401 UNAUTHORIZED without or with wrong credentials', async () => {
    const wrong = [
      false,
      `Basic ${Buffer.from(`${CLIENT_ID}:wrong`).toString('base64')}`,
      `Basic ${Buffer.from(`${CLIENT_ID}:test-client-secretX`).toString('base64')}`,
      'Basic !!!notbase64',
      'Bearer abc',
      BASIC.toLowerCase(),
    ];
    for (const [method, path] of paths) {
      for (const auth of wrong) {
        const res = await b.call(path, { method, auth });
        const body = await res.json();
        assert.equal(res.status, 401, `${method} ${path} ${auth}`);
        assert.deepEqual(body, { success: false, data: { message: 'Invalid or missing basic credentials', code: 'UNAUTHORIZED' } });
        await assertMatchesSpec(method, path.replace(/\/conversations\/[^/]+\/messages\//, '/messages/'), 401, body);
      }
    }
    // Nothing changed: the channel is still there.
    assert.equal((await b.call(paths[0]![1])).status, 200);
  });

  test('the credentials check holds whatever the case of the path (the router matches case-insensitively)', async () => {
    for (const [method, path] of paths) {
      for (const variant of [path.replace('/api/', '/API/'), path.replace('/api/channels/', '/Api/Channels/')]) {
        const res = await b.call(variant, { method, auth: false });
        assert.equal(res.status, 401, `${method} ${variant}`);
      }
    }
    assert.equal((await b.call(paths[0]![1])).status, 200);
  });

  test('unknown routes and wrong methods answer in Pipedrive shape, never HTML', async () => {
    const cases: Array<[string, string, number, boolean]> = [
      ['GET', '/nope', 404, false],
      ['GET', '/api/nope', 404, true],
      ['GET', '/api/channels', 404, true],
      ['PUT', `/api/channels/${channel.providerChannelId}/messages`, 405, true],
      ['PROPFIND', `/api/channels/${channel.providerChannelId}/templates`, 405, true],
      ['MKCOL', `/api/channels/${channel.providerChannelId}/conversations`, 405, true],
      ['GET', '/api/channels/x/conversations/y/messages/z/extra', 404, true],
    ];
    for (const [method, path, status, auth] of cases) {
      const res = await b.call(path, { method, auth });
      assert.equal(res.status, status, `${method} ${path}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = await res.json();
      assert.equal(body.success, false);
      assert.equal(typeof body.data.code, 'string');
      assert.equal(typeof body.data.message, 'string');
    }
  });

  test('path tricks in ids are plain lookups: 404, nothing leaks', async () => {
    const ch = `/api/channels/${channel.providerChannelId}`;
    const tricks = [
      `${ch}/conversations/..%2F..%2Fetc%2Fpasswd`,
      `${ch}/conversations/%00`,
      `${ch}/conversations/${'x'.repeat(300)}`,
      `${ch}/messages/..%2F${conv.id}`,
      `${ch}/senders/%27%20OR%201%3D1--`,
      `/api/channels/..%2F${channel.providerChannelId}/conversations`,
      `/api/channels/%252e%252e/templates`,
    ];
    for (const path of tricks) {
      const res = await b.call(path);
      const body = await res.json();
      assert.equal(res.status, 404, `${path.slice(0, 100)}: ${JSON.stringify(body)}`);
      assert.equal(body.data.code, 'NOT_FOUND');
    }
    const files = await fetch(`${b.url}/files/..%2F..%2Fapp.sqlite?exp=9999999999&sig=x`);
    assert.equal(files.status, 403);
  });

  test('webhooks verify the raw bytes first and answer errors as {error}', async () => {
    const path = `/webhooks/test/${channel.id}`;
    const payload = JSON.stringify({ eventId: 'e-1', conversationId: conv.id, text: 'from the platform' });
    const bad = await fetch(`${b.url}${path}`, { method: 'POST', body: payload, headers: { 'x-test-signature': sign('wrong', payload) } });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { error: 'bad signature' });
    const before = Number((await b.db('messages').count({ n: '*' }).first())?.n);

    const ok = await fetch(`${b.url}${path}`, { method: 'POST', body: payload, headers: { 'x-test-signature': sign('hook-secret', payload) } });
    assert.equal(ok.status, 200);
    const again = await fetch(`${b.url}${path}`, { method: 'POST', body: payload, headers: { 'x-test-signature': sign('hook-secret', payload) } });
    assert.deepEqual(await again.json(), { duplicate: true });
    assert.equal(Number((await b.db('messages').count({ n: '*' }).first())?.n), before + 1, 'stored exactly once');

    for (const id of ['ch_nope', `${channel.id}%00`, '%00', `${channel.id}%0a`, 'c'.repeat(300)]) {
      const unknown = await fetch(`${b.url}/webhooks/test/${id}`, { method: 'POST', body: payload });
      assert.equal(unknown.status, 404, id);
      assert.equal(typeof (await unknown.json()).error, 'string');
    }
    const huge = await fetch(`${b.url}${path}`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    assert.equal(typeof (await huge.json()).error, 'string');
  });

  test('GET /healthz reports the database, the version and the revision', async () => {
    const res = await b.call('/healthz', { auth: false });
    const body = (await res.json()) as { ok: boolean; version: string; revision: string; checks: unknown; outbox: unknown };
    assert.equal(body.ok, true);
    assert.deepEqual(body.checks, { database: 'ok', files: 'ok' });
    assert.deepEqual(body.outbox, { oldest_pending_age_seconds: 0 });
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.match(body.revision, /^([0-9a-f]{7,40}|unknown)$/);
  });
});
