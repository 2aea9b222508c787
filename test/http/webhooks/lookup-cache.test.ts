import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOOKUP_TTL_MS } from '../../../app/domain/lookup-cache.ts';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import { DIALECT, startTestBridge, type TestBridge } from '../../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../../support/install.ts';
import { seedConversation } from '../../support/seed.ts';
import { sign, TestPlatform } from '../../support/test-provider.ts';
import { startAiryWorld } from '../../support/airy.ts';
import { createHmac } from 'node:crypto';

/*
 * Channels, conversations and participants on the hot paths come from a small cache. A change
 * made in this process is seen by the next request; one made by another process on the same
 * PostgreSQL database within LOOKUP_TTL_MS (docs/ARCHITECTURE.md, "Lookup caches").
 */

let n = 0;
const hook = (b: TestBridge, channelId: string, conversationId: string, secret: string) => {
  const body = JSON.stringify({ eventId: `e-${++n}`, conversationId, text: `hello ${n}` });
  return fetch(`${b.url}/webhooks/test/${channelId}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-signature': sign(secret, body) }, body });
};

/** A channel connected through the admin API, with its standing conversation, after one webhook and one Channels API call went through (so both are cached). */
async function warmChannel(bridge: TestBridge, cookie: string) {
  const res = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Support', config: { secret: 'first' } });
  assert.equal(res.status, 201);
  const { channel } = (await res.json()) as { channel: { id: string; provider_channel_id: string } };
  const conversation = (await bridge.db('conversations').where({ channel_id: channel.id }).first()) as { id: string };
  assert.equal((await hook(bridge, channel.id, conversation.id, 'first')).status, 200);
  assert.equal((await bridge.call(`/api/channels/${channel.provider_channel_id}/templates`)).status, 200);
  return { channel, conversation };
}

test('a channel deleted through the admin API stops taking webhooks and Channels API calls at once', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const { channel, conversation } = await warmChannel(bridge, cookie);
    assert.equal((await adminCall(bridge, cookie, 'DELETE', `/channels/${channel.id}`)).status, 200);
    const refused = await hook(bridge, channel.id, conversation.id, 'first');
    assert.equal(refused.status, 404);
    assert.equal((await bridge.call(`/api/channels/${channel.provider_channel_id}/templates`)).status, 404);
    assert.equal(Number((await bridge.db('messages').where({ channel_id: channel.id }).count({ n: '*' }).first())?.n), 1, 'only the message from before the delete');
  } finally {
    await close();
  }
});

test('new channel settings from the admin API count from the next webhook', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const { channel, conversation } = await warmChannel(bridge, cookie);
    const edit = await adminCall(bridge, cookie, 'PATCH', `/channels/${channel.id}`, { name: 'Support', config: { secret: 'second' } });
    assert.equal(edit.status, 200);
    assert.equal((await hook(bridge, channel.id, conversation.id, 'first')).status, 401, 'the old secret is refused at once');
    assert.equal((await hook(bridge, channel.id, conversation.id, 'second')).status, 200);
  } finally {
    await close();
  }
});

test('a second bridge on the same database sees a deletion and new settings within LOOKUP_TTL_MS', { skip: DIALECT !== 'postgres' && 'PostgreSQL only: sqlite runs one process' }, async () => {
  const { bridge: a, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() } });
  let b: TestBridge | undefined;
  try {
    // The same fake Pipedrive: B's worker delivers what B stores with A's installation.
    b = await startTestBridge({
      platforms: { test: new TestPlatform().factory() },
      shareDb: a,
      env: { APP_SECRET: a.config.appSecret, PIPEDRIVE_OAUTH_URL: fake.oauthUrl, PIPEDRIVE_API_URL: fake.apiUrl, UI_FRAME_ANCESTORS: fake.url },
    });
    const { cookie } = await installVia(a, fake);
    const { channel, conversation } = await warmChannel(a, cookie);
    // B takes a webhook and a Channels API call: it now holds the channel too.
    assert.equal((await hook(b, channel.id, conversation.id, 'first')).status, 200);
    assert.equal((await b.call(`/api/channels/${channel.provider_channel_id}/templates`)).status, 200);

    const other = b;
    /** How long B takes to answer `status` to a webhook signed with `secret`, polled every 25 ms up to twice the bound. */
    const seenAfter = async (secret: string, status: number) => {
      const from = Date.now();
      for (;;) {
        if ((await hook(other, channel.id, conversation.id, secret)).status === status) return Date.now() - from;
        if (Date.now() - from > 2 * LOOKUP_TTL_MS) assert.fail(`the second bridge did not answer ${status} within ${2 * LOOKUP_TTL_MS} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    assert.equal((await adminCall(a, cookie, 'PATCH', `/channels/${channel.id}`, { name: 'Support', config: { secret: 'second' } })).status, 200);
    assert.ok((await seenAfter('second', 200)) <= LOOKUP_TTL_MS + 250, 'new settings within the bound');

    assert.equal((await adminCall(a, cookie, 'DELETE', `/channels/${channel.id}`)).status, 200);
    assert.ok((await seenAfter('second', 404)) <= LOOKUP_TTL_MS + 250, 'the deletion within the bound');
    assert.equal((await b.call(`/api/channels/${channel.provider_channel_id}/templates`)).status, 404);
  } finally {
    await b?.close();
    await close();
  }
});

test('an Airy conversation whose platform id changed is found under the new one, and no longer under the old', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const action = (airyConversationId: string, id: string) => {
      const body = JSON.stringify({ type: 'message.send', payload: { message: { id, content: { text: id }, sent_at: new Date().toISOString() }, conversation: { id: airyConversationId } } });
      return w.b.call(`/webhooks/airy/${channel.id}`, {
        auth: false,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-airy-content-signature': createHmac('sha256', state.source_token).update(body).digest('hex') },
        body,
      });
    };
    const first = airyUuid(state.source_id, 'first');
    const second = airyUuid(state.source_id, 'second');
    await w.b.platform.updateConversation(conv, { platformRef: first });
    assert.equal((await action(first, 'airy-1')).status, 200);
    await w.b.platform.updateConversation(conv, { platformRef: second });
    assert.equal((await action(second, 'airy-2')).status, 200);
    assert.equal((await action(first, 'airy-3')).status, 404, 'the old id is not served from memory');
    const stored = await w.b.db('messages').where({ channel_id: channel.id }).orderBy('seq').select('text', 'conversation_pk');
    assert.deepEqual(stored, [
      { text: 'airy-1', conversation_pk: conv.pk },
      { text: 'airy-2', conversation_pk: conv.pk },
    ]);
  } finally {
    await w.close();
  }
});

test('two channels whose conversations carry the same platform id are each answered from their own entry', async () => {
  const w = await startAiryWorld();
  try {
    const one = await w.connect('One');
    const two = await w.connect('Two');
    const ref = airyUuid('shared', 'conversation');
    const convOne = await seedConversation(w.b, one.channel);
    const convTwo = await seedConversation(w.b, two.channel);
    await w.b.platform.updateConversation(convOne, { platformRef: ref });
    await w.b.platform.updateConversation(convTwo, { platformRef: ref });
    const action = (c: { channel: { id: string }; state: { source_token: string } }, id: string) => {
      const body = JSON.stringify({ type: 'message.send', payload: { message: { id, content: { text: id }, sent_at: new Date().toISOString() }, conversation: { id: ref } } });
      return w.b.call(`/webhooks/airy/${c.channel.id}`, {
        auth: false,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-airy-content-signature': createHmac('sha256', c.state.source_token).update(body).digest('hex') },
        body,
      });
    };
    for (const [c, id] of [
      [one, 'to-one-1'],
      [two, 'to-two-1'],
      [one, 'to-one-2'],
      [two, 'to-two-2'],
    ] as const) {
      assert.equal((await action(c, id)).status, 200);
    }
    const rows = await w.b.db('messages').orderBy('seq').select('text', 'conversation_pk', 'channel_id');
    assert.deepEqual(rows, [
      { text: 'to-one-1', conversation_pk: convOne.pk, channel_id: one.channel.id },
      { text: 'to-two-1', conversation_pk: convTwo.pk, channel_id: two.channel.id },
      { text: 'to-one-2', conversation_pk: convOne.pk, channel_id: one.channel.id },
      { text: 'to-two-2', conversation_pk: convTwo.pk, channel_id: two.channel.id },
    ]);
  } finally {
    await w.close();
  }
});
