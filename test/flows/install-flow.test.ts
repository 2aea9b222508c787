import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standingConversationId, PLATFORM_PARTICIPANT_ID } from '../../app/domain/standing.ts';
import { findChannel } from '../../app/store/channels.ts';
import { findInstallation } from '../../app/store/installations.ts';
import type { Job } from '../../app/store/jobs.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../support/install.ts';
import { waitFor } from '../support/harness.ts';
import { seedConversation } from '../support/seed.ts';
import { sign, TestPlatform } from '../support/test-provider.ts';

test('install → connect → initial sync → messages reach Pipedrive → uninstall', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    // 1. OAuth install
    const { installation, cookie, user } = await installVia(bridge, fake);
    assert.equal(installation.status, 'active');
    assert.equal(installation.userName, 'Pat Admin');
    assert.equal(installation.companyId, user.company_id);
    assert.equal(installation.isAdmin, true);
    assert.equal(fake.state.counters.exchanges, 1);

    const list = await adminCall(bridge, cookie, 'GET', '/channels');
    assert.equal(list.status, 200);
    const listed = (await list.json()) as any;
    assert.equal(listed.installation.user_name, 'Pat Admin');
    assert.deepEqual(listed.channels, []);
    assert.deepEqual(
      listed.providers.map((p: any) => [p.kind, p.available]),
      [['test', true]],
    );
    assert.deepEqual(listed.providers[0].fields, [{ name: 'secret', type: 'secret', required: true, label: 'Secret', hint: null, placeholder: null }]);

    // 2. connect a channel: platform side, then Pipedrive addChannel, then Pipedrive's initial sync
    const synced = fake.next('sync');
    const res = await adminCall(bridge, cookie, 'POST', '/channels', {
      provider: 'test',
      name: 'Support',
      avatar_url: 'https://example.com/support.png',
      config: { secret: 'hook-secret' },
      templates: [{ id: 't1', name: 'Greeting', content: 'Hello {{1}}', language: 'en' }],
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { channel } = (await res.json()) as any;
    assert.equal(channel.provider, 'test');
    assert.equal(channel.urls.webhook_url, `${bridge.config.appUrl}/webhooks/test/${channel.id}`);
    assert.deepEqual(platform.connected, [channel.id]);

    const pdChannel = fake.state.channels.get(channel.provider_channel_id)!;
    assert.equal(pdChannel.provider_type, 'other');
    assert.equal(pdChannel.template_support, true);
    assert.equal(pdChannel.avatar_url, 'https://example.com/support.png');
    assert.equal(pdChannel.pd_user_id, user.id);

    const sync = await synced;
    assert.equal(sync.ok, true, sync.error);
    assert.equal(sync.conversations.length, 1, 'one standing conversation for the installing user');
    const stored = (await findChannel(bridge.db, channel.id))!;
    const standingId = standingConversationId(stored, user.company_id, user.id);
    const standing = sync.conversations[0] as any;
    assert.equal(standing.id, standingId);
    assert.deepEqual(
      standing.participants.map((p: any) => [p.id, p.role, p.name]),
      [
        [`pd-${user.company_id}-${user.id}`, 'source_user', 'Pat Admin'],
        [PLATFORM_PARTICIPANT_ID, 'end_user', 'Support (Test platform)'],
      ],
    );
    assert.deepEqual(sync.templates, [{ id: 't1', name: 'Greeting', content: 'Hello {{1}}', language: 'en' }]);

    // 3a. the platform answers in the standing conversation → receiveMessage through the outbox
    const conv = (await bridge.inbox.findConversation(stored, { id: standingId }))!;
    const arrived = fake.next('message', (m) => m.conversation_id === standingId);
    const r = await bridge.platform.recordInbound(stored, {
      dedupe: { source: 'test', key: 'e1' },
      conversation: conv,
      senderId: PLATFORM_PARTICIPANT_ID,
      text: 'Welcome!',
      platformMessageId: 'e1',
      createdAt: Date.now(),
    });
    assert.ok('message' in r);
    const m1 = await arrived;
    assert.equal(m1.id, r.message.id);
    assert.equal(m1.channel_id, channel.provider_channel_id);
    assert.equal(m1.message, 'Welcome!');
    assert.deepEqual(m1.attachments, []);

    // 3b. a conversation Pipedrive has not seen: it calls getConversationById before accepting
    const other = await seedConversation(bridge, stored, 'conv-platform-opened');
    const fetched = fake.next('conversation-fetched', (e) => e.conversationId === other.id);
    const got = fake.next('message', (m) => m.conversation_id === other.id);
    const body = JSON.stringify({ eventId: 'ev-2', conversationId: other.id, text: 'New thread' });
    const hook = await fetch(`${bridge.url}/webhooks/test/${channel.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) }, body });
    assert.equal(hook.status, 200);
    assert.equal((await fetched).ok, true);
    assert.equal((await got).message, 'New thread');
    assert.deepEqual(fake.state.problems, []);

    // 4. uninstall: a wrong password changes nothing
    const wrong = await fake.sendUninstall(bridge.url, { companyId: user.company_id, userId: user.id }, { auth: `Basic ${Buffer.from('x:y').toString('base64')}` });
    assert.equal(wrong.status, 401);
    assert.equal((await findInstallation(bridge.db, installation.id))!.status, 'active');

    const disconnected = waitFor<[Job]>(bridge.outbox, 'done', (j) => j.kind === 'platform.disconnect');
    const un = await fake.sendUninstall(bridge.url, { companyId: user.company_id, userId: user.id });
    assert.equal(un.status, 200);
    assert.deepEqual(await un.json(), { success: true, uninstalled: true });
    await disconnected;
    assert.deepEqual(platform.disconnected, [channel.id]);
    const after = (await findInstallation(bridge.db, installation.id))!;
    assert.equal(after.status, 'uninstalled');
    assert.equal(after.accessTokenEnc, null);
    assert.equal(after.refreshTokenEnc, null);
    assert.equal((await findChannel(bridge.db, channel.id))!.status, 'deleted');
    // the old session is gone with the installation
    assert.equal((await adminCall(bridge, cookie, 'GET', '/channels')).status, 401);
  } finally {
    await close();
  }
});

test('a second user of the company gets their own standing conversation; reinstalling never duplicates', async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const admin = await installVia(bridge, fake);
    const res = await adminCall(bridge, admin.cookie, 'POST', '/channels', { provider: 'test', name: 'Sales', config: { secret: 's' } });
    assert.equal(res.status, 201);
    const { channel } = (await res.json()) as any;
    const colleague = fake.addUser({ id: 2002, name: 'Cole League', email: 'cole@acme.example', is_admin: false });
    await installVia(bridge, fake, { userId: colleague.id });
    await installVia(bridge, fake, { userId: admin.user.id }); // reinstall
    await installVia(bridge, fake, { userId: colleague.id });
    const list = (await (await adminCall(bridge, admin.cookie, 'GET', '/channels')).json()) as any;
    assert.equal(list.channels[0].id, channel.id);
    assert.equal(list.channels[0].conversations, 2);
    const stored = (await findChannel(bridge.db, channel.id))!;
    const c = await bridge.inbox.findConversation(stored, { id: standingConversationId(stored, colleague.company_id, colleague.id) });
    assert.ok(c, 'the colleague has a standing conversation');
    assert.equal(c.sourceUserKey, `pd:${colleague.company_id}:${colleague.id}`);
  } finally {
    await close();
  }
});
