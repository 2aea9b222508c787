import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listChannels } from '../../../app/store/channels.ts';
import { setInstallationStatus } from '../../../app/store/installations.ts';
import { apiError } from '../../../fakes/pipedrive/state.ts';
import { waitFor } from '../../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';
import { sign, TestPlatform } from '../../support/test-provider.ts';

test('admin writes need Pipedrive admin rights (is_admin at sign-in); reads stay open to every user of the company', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    // Rita is an admin when she connects a channel (and a message to it dead-letters)…
    const rita = fake.addUser({ id: 4004, name: 'Rita Regular', email: 'rita@acme.example', is_admin: true });
    const before = await installVia(bridge, fake, { userId: 4004 });
    const synced = fake.next('sync');
    const { channel } = (await (await adminCall(bridge, before.cookie, 'POST', '/channels', { provider: 'test', name: 'Company line', config: { secret: 'rights' } })).json()) as any;
    const conv = (await synced).conversations[0]!;
    fake.failNext('receive', { status: 400, body: apiError('bad payload', 'BAD') });
    const dead = waitFor(bridge.outbox, 'dead');
    const hook = JSON.stringify({ eventId: 'rights-1', conversationId: String(conv.id), text: 'refused' });
    assert.equal((await fetch(`${bridge.url}/webhooks/test/${channel.id}`, { method: 'POST', headers: { 'x-test-signature': sign('rights', hook) }, body: hook })).status, 200);
    await dead;

    // …then loses admin rights in Pipedrive and signs in again: users/me says is_admin false.
    rita.is_admin = false;
    const after = await installVia(bridge, fake, { userId: 4004 });
    assert.equal(after.installation.isAdmin, false);

    for (const cookie of [before.cookie, after.cookie]) {
      // Reads: allowed.
      const list = await adminCall(bridge, cookie, 'GET', '/channels');
      assert.equal(list.status, 200);
      assert.equal(((await list.json()) as any).installation.is_admin, false);
      const letters = await adminCall(bridge, cookie, 'GET', '/dead-letters');
      assert.equal(letters.status, 200);
      const deadLetters = ((await letters.json()) as any).dead_letters;
      assert.equal(deadLetters.length, 1);
      // Writes: 403 with a message that says why, and nothing happens.
      for (const [method, path, body] of [
        ['POST', '/channels', { provider: 'test', name: 'Not mine to add', config: { secret: 'x' } }],
        ['DELETE', `/channels/${channel.id}`, undefined],
        ['POST', '/dead-letters/replay', {}],
        ['POST', `/dead-letters/${deadLetters[0].id}/replay`, {}],
      ] as const) {
        const res = await adminCall(bridge, cookie, method, path, body);
        assert.equal(res.status, 403, `${method} ${path}`);
        const err = ((await res.json()) as any).error;
        assert.equal(err.code, 'FORBIDDEN');
        assert.match(err.message, /Only Pipedrive admins/);
      }
    }
    assert.equal((await listChannels(bridge.db, {})).length, 1);
    assert.equal(fake.state.channels.size, 1);
    assert.equal(fake.state.deletedChannels.length, 0);
    assert.equal(platform.connected.length, 1);

    // The page says so, offers no connect form and disables the write buttons.
    const page = await (await fetch(`${bridge.url}/admin`, { headers: { cookie: after.cookie } })).text();
    assert.match(page, /id="read-only"/);
    assert.match(page, /class="delete[^"]*"[^>]*disabled/);
    assert.match(page, /class="replay"[^>]*disabled/);
    assert.doesNotMatch(page, /id="connect"/);

    // Made admin again (and signed in again): the same writes go through.
    rita.is_admin = true;
    const restored = await installVia(bridge, fake, { userId: 4004 });
    const adminPage = await (await fetch(`${bridge.url}/admin`, { headers: { cookie: restored.cookie } })).text();
    assert.doesNotMatch(adminPage, /id="read-only"|disabled/);
    assert.equal((await adminCall(bridge, restored.cookie, 'POST', '/dead-letters/replay', {})).status, 200);

    // A user who never was an admin can still uninstall their own authorization.
    fake.addUser({ id: 5005, name: 'Nina Never', is_admin: false });
    const nina = await installVia(bridge, fake, { userId: 5005 });
    assert.equal((await adminCall(bridge, nina.cookie, 'POST', '/channels', { provider: 'test', name: 'N', config: { secret: 'n' } })).status, 403);
    assert.equal((await adminCall(bridge, nina.cookie, 'DELETE', '/installation')).status, 200);
  } finally {
    await close();
  }
});

test('sessions are revoked on the server: sign-out, uninstall and reinstall end every earlier cookie', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  const works = async (cookie: string) => (await adminCall(bridge, cookie, 'GET', '/channels')).status === 200;
  try {
    // Sign-out: the admin page offers it; afterwards a copy of the old cookie is worthless.
    const first = await installVia(bridge, fake);
    const page = await (await fetch(`${bridge.url}/admin`, { headers: { cookie: first.cookie } })).text();
    assert.match(page, /<form method="post" action="\/admin\/logout"><button type="submit" id="sign-out">Sign out<\/button><\/form>/);
    const out = await fetch(`${bridge.url}/admin/logout`, { method: 'POST', headers: { cookie: first.cookie }, redirect: 'manual' });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/admin');
    assert.ok(out.headers.getSetCookie().some((c) => /^pdb_session=;.*Max-Age=0/.test(c)));
    assert.equal(await works(first.cookie), false, 'a copy of the cookie taken before sign-out');
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: first.cookie } })).status, 401);

    // Uninstall (Pipedrive's notice), then reinstall: the cookie from before the uninstall stays dead.
    const second = await installVia(bridge, fake);
    assert.equal(await works(second.cookie), true);
    assert.equal((await fake.sendUninstall(bridge.url, { companyId: second.user.company_id, userId: second.user.id })).status, 200);
    assert.equal(await works(second.cookie), false);
    const third = await installVia(bridge, fake);
    assert.equal(await works(third.cookie), true);
    assert.equal(await works(second.cookie), false, 'a cookie issued before the uninstall does not come back with the reinstall');

    // A reinstall after a lapsed authorization also starts over: the cookie from before it ends.
    await setInstallationStatus(bridge.db, third.installation.id, 'needs_reinstall', 'authorization lapsed', Date.now());
    assert.equal(await works(third.cookie), true, 'the admin can still see the needs-reinstall banner');
    const fourth = await installVia(bridge, fake);
    assert.equal(await works(fourth.cookie), true);
    assert.equal(await works(third.cookie), false);
  } finally {
    await close();
  }
});
