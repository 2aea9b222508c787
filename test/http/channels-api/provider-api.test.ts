import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertMatchesSpec, SPEC_AVAILABLE } from '../../../fakes/pipedrive/contract.ts';
import { startTestBridge, waitFor, type TestBridge } from '../../support/harness.ts';
import type { Job } from '../../../app/store/jobs.ts';
import { seedChannel, seedConversation, seedInbound } from '../../support/seed.ts';
import { TestPlatform } from '../../support/test-provider.ts';
import type { Channel, Conversation } from '../../../app/ground/records.ts';

/** GET a manifest endpoint, check the status, validate the body against Pipedrive's spec. */
async function getJson(b: TestBridge, path: string, status = 200) {
  const res = await b.call(path);
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  // The nested getMessageById route has no path of its own in Pipedrive's OpenAPI file: validate it as the flat one.
  await assertMatchesSpec('GET', path.replace(/\/conversations\/[^/]+\/messages\//, '/messages/'), status, body);
  return body;
}

describe('manifest endpoints', () => {
  const platform = new TestPlatform();
  let b: TestBridge;
  let channel: Channel;
  let conv: Conversation;

  before(async () => {
    b = await startTestBridge({ platforms: { test: platform.factory() } });
    channel = await seedChannel(b, { templates: [{ id: 't1', name: 'Welcome', content: 'Hello {{1}}', language: 'en' }] });
    conv = await seedConversation(b, channel);
    await seedInbound(b, channel, conv, 'first');
    await seedInbound(b, channel, conv, 'second');
  });
  after(() => b.close());

  // Skipped (once, with the reason) when Pipedrive's OpenAPI file is not beside the clone; assertMatchesSpec is then a no-op.
  test('the contract file is present (otherwise contract checks are skipped)', { skip: !SPEC_AVAILABLE && "../shared/specs is absent: responses are not validated against Pipedrive's spec" }, () => {
    assert.ok(SPEC_AVAILABLE);
  });

  test('getConversations returns the conversation with participants and messages oldest first', async () => {
    const body = await getJson(b, `/api/channels/${channel.providerChannelId}/conversations`);
    assert.equal(body.success, true);
    assert.equal(body.data.length, 1);
    const c = body.data[0];
    assert.equal(c.id, conv.id);
    assert.equal(c.status, 'open');
    assert.equal(c.link, '');
    assert.deepEqual(
      c.messages.map((m: { message: string }) => m.message),
      ['first', 'second'],
    );
    assert.equal(c.participants.filter((p: { role: string }) => p.role === 'source_user').length, 1);
    assert.ok(c.participants.some((p: { role: string }) => p.role === 'end_user'));
    assert.equal(c.next_messages_cursor, undefined);
    assert.deepEqual(body.additional_data, {});
    assert.match(c.messages[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('both conversation reads answer JSON with its exact length, as for any JSON body', async () => {
    for (const path of [`/api/channels/${channel.providerChannelId}/conversations`, `/api/channels/${channel.providerChannelId}/conversations/${conv.id}`]) {
      const res = await b.call(path);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(Number(res.headers.get('content-length')), bytes.length);
      assert.equal(JSON.parse(bytes.toString('utf8')).success, true);
    }
  });

  test('getConversationById pages older messages with next_messages_cursor', async () => {
    const base = `/api/channels/${channel.providerChannelId}/conversations/${conv.id}`;
    const first = await getJson(b, `${base}?messages_limit=1`);
    assert.deepEqual(
      first.data.messages.map((m: { message: string }) => m.message),
      ['second'],
    );
    assert.ok(first.data.next_messages_cursor);
    assert.equal(first.additional_data.after, first.data.next_messages_cursor);
    const second = await getJson(b, `${base}?messages_limit=1&after=${encodeURIComponent(first.data.next_messages_cursor)}`);
    assert.deepEqual(
      second.data.messages.map((m: { message: string }) => m.message),
      ['first'],
    );
    assert.equal(second.data.next_messages_cursor, undefined);
  });

  test('getMessageById answers the bare message on both routes', async () => {
    const conversations = await getJson(b, `/api/channels/${channel.providerChannelId}/conversations`);
    const m = conversations.data[0].messages[0];
    const flat = await getJson(b, `/api/channels/${channel.providerChannelId}/messages/${m.id}`);
    assert.equal(flat.id, m.id);
    assert.equal(flat.success, undefined);
    const nested = await getJson(b, `/api/channels/${channel.providerChannelId}/conversations/${conv.id}/messages/${m.id}`);
    assert.deepEqual(nested, flat);
    const wrongConv = await b.call(`/api/channels/${channel.providerChannelId}/conversations/nope/messages/${m.id}`);
    assert.equal(wrongConv.status, 404);
  });

  test('getSenderById returns the participant; unknown → 404', async () => {
    const body = await getJson(b, `/api/channels/${channel.providerChannelId}/senders/agent-1`);
    assert.deepEqual(body, { success: true, data: { id: 'agent-1', name: 'Agent One', avatar_url: 'https://example.com/a.png' } });
    const missing = await getJson(b, `/api/channels/${channel.providerChannelId}/senders/nobody`, 404);
    assert.equal(missing.data.code, 'NOT_FOUND');
  });

  test('getTemplates returns the channel templates (and an empty list is valid)', async () => {
    const body = await getJson(b, `/api/channels/${channel.providerChannelId}/templates`);
    assert.deepEqual(body, { success: true, data: { templates: [{ id: 't1', name: 'Welcome', content: 'Hello {{1}}', language: 'en' }] } });
    const other = await seedChannel(b);
    const empty = await getJson(b, `/api/channels/${other.providerChannelId}/templates`);
    assert.deepEqual(empty, { success: true, data: { templates: [] } });
  });

  test('unknown channel and conversation → 404 NOT_FOUND in Pipedrive shape', async () => {
    const a = await getJson(b, `/api/channels/nope/conversations`, 404);
    assert.deepEqual(a, { success: false, data: { message: 'Channel not found', code: 'NOT_FOUND' } });
    const c = await getJson(b, `/api/channels/${channel.providerChannelId}/conversations/nope`, 404);
    assert.equal(c.data.code, 'NOT_FOUND');
  });

  test('deleteChannelById marks the channel deleted, disconnects once, and is idempotent', async () => {
    const doomed = await seedChannel(b);
    const path = `/api/channels/${doomed.providerChannelId}`;
    const disconnected = waitFor(b.outbox, 'done', (job: Job) => job.kind === 'platform.disconnect' && (job.payload as { channelId: string }).channelId === doomed.id);
    for (let i = 0; i < 2; i++) {
      const res = await b.call(path, { method: 'DELETE' });
      const body = await res.json();
      assert.equal(res.status, 200);
      assert.deepEqual(body, { success: true });
      await assertMatchesSpec('DELETE', path, 200, body);
    }
    await disconnected;
    assert.equal(platform.disconnected.filter((id) => id === doomed.id).length, 1);
    const after = await b.call(`${path}/conversations`);
    assert.equal(after.status, 404);
  });

  test('GET /manifest.json lists the seven endpoints under APP_URL', async () => {
    const res = await b.call('/manifest.json', { auth: false });
    const body = await res.json();
    assert.equal(body.version, 'v202101');
    assert.deepEqual(Object.keys(body.endpoints).sort(), ['deleteChannelById', 'getConversationById', 'getConversations', 'getMessageById', 'getSenderById', 'getTemplates', 'postMessage']);
    for (const url of Object.values<string>(body.endpoints)) assert.ok(url.startsWith(`${b.config.appUrl}/api/channels/:providerChannelId`));
  });
});
