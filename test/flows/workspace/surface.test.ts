import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../app/store/jobs.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET, waitFor } from '../../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';
import { startPipedriveRig } from '../../support/pipedrive-rig.ts';
import { sign, TestPlatform } from '../../support/test-provider.ts';

function caller(url: string, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/ui/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
  };
}

const count = async (q: any) => Number((await q.count({ n: '*' }).first()).n);

test('Channels API removed: connecting from the settings page still succeeds on the workspace surface; nothing is sent to the removed API, nothing dead-letters', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { user, cookie } = await installVia(bridge, fake);
    fake.removeChannelsApi(410);
    const call = caller(bridge.url, await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET, ttl: 3600 }));
    const connected = await call('POST', '/settings/channels', { provider: 'test', name: 'Support', config: { secret: 'hook-secret' } });
    assert.equal(connected.status, 201, JSON.stringify(connected.body));
    assert.equal(connected.body.surface, 'workspace');
    assert.match(connected.body.surface_reason, /Channels API .* gone/);
    assert.equal(fake.state.counters.channelsRemovedAnswers, 1);
    const channelId = connected.body.channel.id;
    assert.equal((await call('GET', '/me')).body.surface, 'workspace');
    assert.deepEqual((await call('GET', '/settings/surface')).body.surface, 'workspace');
    const admin = (await (await adminCall(bridge, cookie, 'GET', '/channels')).json()) as any;
    assert.equal(admin.installation.surface, 'workspace');
    assert.match(admin.installation.surface_reason, /removed on 2026-02-01/);
    assert.deepEqual(
      admin.channels.map((c: any) => c.id),
      [channelId],
    );

    // A reply from the platform: stored, shown in the window, never sent to the removed API.
    const conversationId = (await call('GET', '/conversations')).body.conversations[0].id;
    const done = waitFor<[Job]>(bridge.outbox, 'done', (j) => j.kind === 'pipedrive.receive');
    const body = JSON.stringify({ eventId: 'e1', conversationId, text: 'hello from the platform' });
    const hook = await fetch(`${bridge.url}/webhooks/test/${channelId}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) }, body });
    assert.equal(hook.status, 200);
    await done;
    assert.equal((await call('GET', '/conversations')).body.conversations[0].unread, 1);
    assert.equal(fake.state.counters.channelsRemovedAnswers, 1, 'no call to the removed API');
    assert.equal(fake.state.counters.receives, 0);
    assert.equal(await count(bridge.db('jobs').where({ status: 'dead' })), 0);
    assert.deepEqual((await call('GET', '/settings/dead-letters')).body.dead_letters, []);

    // Deleting does not call the removed API either.
    assert.equal((await call('DELETE', `/settings/channels/${channelId}`)).status, 200);
    assert.equal(fake.state.counters.channelsRemovedAnswers, 1);
    assert.deepEqual(
      (await call('GET', '/settings/channels')).body.channels.filter((c: any) => c.status === 'active'),
      [],
    );
  } finally {
    await close();
  }
});

test('the Channels API answering 404 to a receive moves the installation to the workspace without a dead letter; only admins change settings', async () => {
  const rig = await startPipedriveRig();
  try {
    const call = caller(rig.bridge.url, await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET, ttl: 3600 }));
    assert.equal((await call('GET', '/settings/surface')).body.surface, 'both');
    rig.fake.removeChannelsApi(404);
    const done = waitFor<[Job]>(rig.bridge.outbox, 'done', (j) => j.kind === 'pipedrive.receive');
    await rig.inbound('after the sunset');
    await done;
    assert.equal((await call('GET', '/settings/surface')).body.surface, 'workspace');
    assert.equal(await count(rig.bridge.db('jobs').where({ status: 'dead' })), 0);
    // Later messages do not try again.
    const next = waitFor<[Job]>(rig.bridge.outbox, 'done', (j) => j.kind === 'pipedrive.receive');
    await rig.inbound('and later');
    await next;
    assert.equal(rig.fake.state.counters.channelsRemovedAnswers, 1);

    // The admin can choose; bad values are 400.
    assert.equal((await call('PUT', '/settings/surface', { surface: 'sideways' })).status, 400);
    assert.deepEqual((await call('PUT', '/settings/surface', { surface: 'both' })).body, { surface: 'both', reason: null });
    assert.equal((await call('GET', '/me')).body.surface, 'both');

    const colleague = rig.fake.addUser({ id: 1002, name: 'Cory Colleague', email: 'cory@acme.example', is_admin: false, company_id: rig.user.company_id });
    const c = caller(rig.bridge.url, await mintUiToken({ userId: colleague.id, companyId: rig.user.company_id, secret: CLIENT_SECRET }));
    assert.equal((await c('GET', '/settings/channels')).status, 200);
    const before = await count(rig.bridge.db('channels'));
    for (const [method, path, body] of [
      ['POST', '/settings/channels', { provider: 'test', name: 'Sneaky', config: { secret: 's' } }],
      ['DELETE', `/settings/channels/${rig.channel.id}`],
      ['PUT', '/settings/surface', { surface: 'channels' }],
      ['POST', '/settings/dead-letters/1/replay'],
    ] as Array<[string, string, unknown?]>) {
      const res = await c(method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    }
    assert.equal(await count(rig.bridge.db('channels')), before);
    assert.equal((await call('GET', '/settings/surface')).body.surface, 'both');
    // Another company's admin cannot delete this company's channel.
    const other = rig.fake.addUser({ id: 4004, name: 'Bea B', email: 'bea@b.example', company_id: 88, company_name: 'B Corp' });
    await installVia(rig.bridge, rig.fake, { userId: other.id });
    const b = caller(rig.bridge.url, await mintUiToken({ userId: other.id, companyId: 88, secret: CLIENT_SECRET }));
    assert.equal((await b('DELETE', `/settings/channels/${rig.channel.id}`)).status, 404);
    assert.deepEqual((await b('GET', '/settings/channels')).body.channels, []);
  } finally {
    await rig.close();
  }
});
