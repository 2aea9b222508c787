import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listChannels } from '../../../app/store/channels.ts';
import type { Job } from '../../../app/store/jobs.ts';
import { apiError } from '../../../fakes/pipedrive/state.ts';
import { waitFor } from '../../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';
import { TestPlatform } from '../../support/test-provider.ts';

test('the admin API answers 401 without a session and takes writes only as JSON', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  try {
    for (const [method, path] of [
      ['GET', '/channels'],
      ['POST', '/channels'],
      ['DELETE', '/channels/ch_x'],
    ] as const) {
      const res = await fetch(`${bridge.url}/admin/api${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(((await res.json()) as any).error.code, 'UNAUTHORIZED');
    }
    const { cookie } = await installVia(bridge, fake);
    const form = await fetch(`${bridge.url}/admin/api/channels`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'provider=test&name=x',
    });
    assert.equal(form.status, 415);
    assert.equal(((await form.json()) as any).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const text = await fetch(`${bridge.url}/admin/api/channels/ch_x`, { method: 'DELETE', headers: { cookie, 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    const noType = await fetch(`${bridge.url}/admin/api/channels/ch_x`, { method: 'DELETE', headers: { cookie } });
    assert.equal(noType.status, 415);
    assert.equal((await adminCall(bridge, cookie, 'DELETE', '/channels/ch_unknown')).status, 404);
    const unknownRoute = await adminCall(bridge, cookie, 'GET', '/nope');
    assert.equal(unknownRoute.status, 404);
    assert.equal(((await unknownRoute.json()) as any).error.code, 'NOT_FOUND');
  } finally {
    await close();
  }
});

test('connect validates input before touching the platform or Pipedrive', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const cases: Array<[unknown, RegExp]> = [
      [{ provider: 'airy', name: 'A', config: {} }, /Unknown provider "airy"; available: test/],
      [{ provider: 'test', name: '', config: { secret: 's' } }, /name/],
      [{ provider: 'test', name: 'A', config: {} }, /config\.secret/],
      [{ provider: 'test', name: 'A', avatar_url: 'javascript:alert(1)', config: { secret: 's' } }, /avatar_url/],
      [{ provider: 'test', name: 'A', config: { secret: 's' }, templates: [{ id: 't' }] }, /templates/],
    ];
    for (const [body, message] of cases) {
      const res = await adminCall(bridge, cookie, 'POST', '/channels', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(((await res.json()) as any).error.message, message);
    }
    const broken = await fetch(`${bridge.url}/admin/api/channels`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"provider":' });
    assert.equal(broken.status, 400);
    assert.deepEqual(platform.connected, []);
    assert.equal(fake.state.channels.size, 0);
  } finally {
    await close();
  }
});

test("when Pipedrive refuses addChannel the platform side is rolled back and the admin sees Pipedrive's message", async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    // Pipedrive refuses with 403 ADMIN_ONLY (as it does when the user lost admin rights since signing in)
    const { cookie } = await installVia(bridge, fake);
    fake.failNext('addChannel', { status: 403, body: apiError('Only admins can register channels', 'ADMIN_ONLY') });
    const res = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Nope', config: { secret: 's' } });
    assert.equal(res.status, 403);
    const err = ((await res.json()) as any).error;
    assert.match(err.message, /Only admins can register channels/);
    assert.equal(err.pipedrive_code, 'ADMIN_ONLY');
    assert.equal(platform.connected.length, 1);
    assert.deepEqual(platform.disconnected, platform.connected);
    assert.deepEqual(await listChannels(bridge.db, { includeDeleted: true }), []);

    // a server error is a 502 with the same rollback
    const admin = await installVia(bridge, fake, { userId: 1001 });
    fake.failNext('addChannel', { status: 500, body: apiError('Internal server error', 'INTERNAL') });
    const failed = await adminCall(bridge, admin.cookie, 'POST', '/channels', { provider: 'test', name: 'Later', config: { secret: 's' } });
    assert.equal(failed.status, 502);
    assert.match(((await failed.json()) as any).error.message, /Internal server error/);
    assert.equal(platform.disconnected.length, 2);
    assert.deepEqual(await listChannels(bridge.db, { includeDeleted: true }), []);

    // the platform refusing is a 502 and Pipedrive is never called
    platform.failConnect = 'bad credentials for the platform';
    const refused = await adminCall(bridge, admin.cookie, 'POST', '/channels', { provider: 'test', name: 'X', config: { secret: 's' } });
    assert.equal(refused.status, 502);
    assert.match(((await refused.json()) as any).error.message, /bad credentials/);
    assert.equal(fake.state.channels.size, 0);
  } finally {
    await close();
  }
});

test('admin delete removes the channel in Pipedrive and on the platform; the list shows counts and backlog', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const res = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Support', config: { secret: 's' } });
    const { channel } = (await res.json()) as any;
    const list = (await (await adminCall(bridge, cookie, 'GET', '/channels')).json()) as any;
    assert.deepEqual(
      { conversations: list.channels[0].conversations, backlog: list.channels[0].backlog, status: list.channels[0].status, last_error: list.channels[0].last_error },
      { conversations: 1, backlog: { pending: 0, dead: 0 }, status: 'active', last_error: null },
    );

    const done = waitFor<[Job]>(bridge.outbox, 'done', (j) => j.kind === 'platform.disconnect');
    const del = await adminCall(bridge, cookie, 'DELETE', `/channels/${channel.id}`);
    assert.equal(del.status, 200);
    await done;
    assert.deepEqual(fake.state.deletedChannels, [channel.provider_channel_id]);
    assert.deepEqual(platform.disconnected, [channel.id]);
    assert.deepEqual(((await (await adminCall(bridge, cookie, 'GET', '/channels')).json()) as any).channels, []);
    // Pipedrive's manifest endpoints no longer know the channel
    assert.equal((await bridge.call(`/api/channels/${channel.provider_channel_id}/conversations`)).status, 404);
    // deleting again: already gone
    assert.equal((await adminCall(bridge, cookie, 'DELETE', `/channels/${channel.id}`)).status, 404);
  } finally {
    await close();
  }
});

test('another installation cannot see or delete my channels', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const mine = await installVia(bridge, fake);
    const { channel } = (await (await adminCall(bridge, mine.cookie, 'POST', '/channels', { provider: 'test', name: 'Mine', config: { secret: 's' } })).json()) as any;
    fake.addUser({ id: 5005, company_id: 999, company_name: 'Other Co' });
    const theirs = await installVia(bridge, fake, { userId: 5005 });
    assert.deepEqual(((await (await adminCall(bridge, theirs.cookie, 'GET', '/channels')).json()) as any).channels, []);
    assert.equal((await adminCall(bridge, theirs.cookie, 'DELETE', `/channels/${channel.id}`)).status, 404);
    assert.equal(fake.state.channels.size, 1);
  } finally {
    await close();
  }
});

test('PATCH /channels/:id edits a channel in place: re-verified on the platform, secrets kept unless given, never shown; only its owner', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const mine = await installVia(bridge, fake);
    const created = await adminCall(bridge, mine.cookie, 'POST', '/channels', { provider: 'test', name: 'Before', config: { secret: 'first-secret' } });
    const { channel } = (await created.json()) as any;
    assert.deepEqual(channel.settings, {}, 'secrets are not part of the visible settings');

    // Every invalid field at once, in plain words; nothing reaches the platform.
    const bad = await adminCall(bridge, mine.cookie, 'PATCH', `/channels/${channel.id}`, { name: ' ', avatar_url: 'ftp://x', config: { secret: '' } });
    assert.equal(bad.status, 400);
    const badBody = (await bad.json()) as any;
    assert.deepEqual(
      badBody.error.fields.map((f: any) => f.field),
      ['name', 'avatar_url'],
    );
    assert.equal(badBody.error.fields[0].message, 'Give the channel a name.');
    const badConfig = await adminCall(bridge, mine.cookie, 'PATCH', `/channels/${channel.id}`, { name: 'After', config: { secret: '' } });
    assert.deepEqual(((await badConfig.json()) as any).error.fields, [{ field: 'config.secret', message: 'This is required.' }]);
    assert.equal(platform.connected.length, 1);

    // The platform refuses: the channel stays as it was.
    platform.failConnect = 'credentials refused';
    const refused = await adminCall(bridge, mine.cookie, 'PATCH', `/channels/${channel.id}`, { name: 'After', config: { secret: 'x' } });
    assert.equal(refused.status, 502);
    platform.failConnect = null;
    assert.equal((await listChannels(bridge.db, { installationId: mine.installation.id }))[0]!.name, 'Before');

    // A new name with no secret keeps the stored secret; the platform checks it again.
    const renamed = await adminCall(bridge, mine.cookie, 'PATCH', `/channels/${channel.id}`, { name: 'After', config: {} });
    assert.equal(renamed.status, 200, await renamed.clone().text());
    const body = (await renamed.json()) as any;
    assert.equal(body.channel.id, channel.id);
    assert.equal(body.channel.name, 'After');
    assert.deepEqual(platform.connected, [channel.id, channel.id]);
    const listed = ((await (await adminCall(bridge, mine.cookie, 'GET', '/channels')).json()) as any).channels;
    assert.equal(listed.length, 1);
    assert.ok(!JSON.stringify(listed).includes('first-secret'));
    const [stored] = await listChannels(bridge.db, { installationId: mine.installation.id });
    assert.equal(JSON.parse(bridge.secrets.decrypt(stored!.configEnc)).secret, 'first-secret');

    // Someone else's channel, or one that is gone, is a 404.
    fake.addUser({ id: 5006, company_id: 998, company_name: 'Other Co' });
    const theirs = await installVia(bridge, fake, { userId: 5006 });
    assert.equal((await adminCall(bridge, theirs.cookie, 'PATCH', `/channels/${channel.id}`, { name: 'Taken', config: {} })).status, 404);
    assert.equal((await adminCall(bridge, mine.cookie, 'PATCH', '/channels/ch_nope', { name: 'X', config: {} })).status, 404);
  } finally {
    await close();
  }
});

test('the admin page escapes what it shows', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const evil = '<script>alert("x")</script>';
    const res = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: evil, config: { secret: 's' } });
    assert.equal(res.status, 201);
    const page = await fetch(`${bridge.url}/admin`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await page.text();
    assert.ok(!html.includes(evil));
    assert.ok(html.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;'));
    // Fields come from the platform's schema; with no `.meta()` the key is made readable.
    assert.match(html, /<label for="cfg-test-secret">Secret<\/label>/);
    const anonymous = await fetch(`${bridge.url}/admin`);
    assert.equal(anonymous.status, 401);
    assert.match(await anonymous.text(), /href="\/auth\/pipedrive"/);
  } finally {
    await close();
  }
});

test('uninstalling from the admin API revokes the refresh token at Pipedrive and disconnects the channels', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { cookie, installation } = await installVia(bridge, fake);
    const { channel } = (await (await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Gone', config: { secret: 's' } })).json()) as any;
    const done = waitFor<[Job]>(bridge.outbox, 'done', (j) => j.kind === 'platform.disconnect');
    const res = await adminCall(bridge, cookie, 'DELETE', '/installation');
    assert.equal(res.status, 200);
    assert.ok(res.headers.getSetCookie().some((c) => /^pdb_session=;.*Max-Age=0/.test(c)));
    await done;
    assert.equal(fake.state.counters.revokes, 1);
    assert.ok([...fake.state.refreshTokens.values()].every((r) => r.lapsed));
    assert.deepEqual(platform.disconnected, [channel.id]);
    const { findInstallation } = await import('../../../app/store/installations.ts');
    assert.equal((await findInstallation(bridge.db, installation.id))!.status, 'uninstalled');
    assert.equal((await adminCall(bridge, cookie, 'GET', '/channels')).status, 401);
  } finally {
    await close();
  }
});
