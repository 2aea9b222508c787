import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSpec } from '../../../fakes/pipedrive/contract.ts';
import { startTestBridge, waitFor, type TestBridge } from '../../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../../support/seed.ts';
import { TestPlatform } from '../../support/test-provider.ts';
import type { Channel, Conversation } from '../../../app/ground/records.ts';
import type { Job } from '../../../app/store/jobs.ts';

function form(fields: Record<string, string | string[]>, files: Array<{ field: string; name: string; type: string; data: Uint8Array | string }> = []): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) fd.append(k, one);
  for (const f of files) fd.append(f.field, new Blob([f.data], { type: f.type }), f.name);
  return fd;
}

describe('postMessage', () => {
  const platform = new TestPlatform();
  let b: TestBridge;
  let channel: Channel;
  let conv: Conversation;
  let path: string;

  before(async () => {
    b = await startTestBridge({ platforms: { test: platform.factory() }, env: { MAX_UPLOAD_BYTES: '1000', MAX_UPLOAD_FILES: '2' } });
    channel = await seedChannel(b);
    conv = await seedConversation(b, channel);
    path = `/api/channels/${channel.providerChannelId}/messages`;
  });
  after(() => b.close());

  const nextSend = () => waitFor(b.outbox, 'done', (job: Job) => job.kind === 'platform.send');

  test('stores text and files, answers our id, and hands the message to the adapter', async () => {
    const sent = nextSend();
    const res = await b.call(path, {
      method: 'POST',
      body: form({ message: 'Hello there', senderId: 'pd-user', conversationId: conv.id, 'recipientIds[]': ['agent-1'] }, [
        { field: 'files', name: 'note.txt', type: 'text/plain', data: 'hello file' },
        { field: 'whatever[0]', name: 'pic.png', type: 'image/png', data: new Uint8Array([137, 80, 78, 71]) },
      ]),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    await assertMatchesSpec('POST', path, 200, body);
    assert.match(body.data.id, /^m_[0-9a-f]{32}$/);
    await sent;
    const delivered = platform.sent.find((s) => s.message.message.id === body.data.id);
    assert.ok(delivered, 'adapter received the message');
    assert.equal(delivered.message.message.text, 'Hello there');
    assert.equal(delivered.message.sender.role, 'source_user');
    assert.deepEqual(
      delivered.message.files.map((f) => [f.name, f.mimeType, f.size]),
      [
        ['note.txt', 'text/plain', 10],
        ['pic.png', 'image/png', 4],
      ],
    );
    // The signed URL serves the bytes (GET and HEAD); a tampered one is refused.
    const fileRes = await fetch(delivered.message.files[0]!.url);
    assert.equal(fileRes.status, 200);
    assert.equal(await fileRes.text(), 'hello file');
    const head = await fetch(delivered.message.files[0]!.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    // Change the signature's first character (to another one: 'A' itself would tamper nothing 1 time in 64).
    const tampered = await fetch(delivered.message.files[0]!.url.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`));
    assert.equal(tampered.status, 403);

    // getMessageById shows the attachments with link_expires and fresh signed URLs.
    const msg = await (await b.call(`/api/channels/${channel.providerChannelId}/messages/${body.data.id}`)).json();
    assert.equal(msg.attachments.length, 2);
    assert.equal(msg.attachments[0].link_expires, true);
    assert.equal(msg.attachments[0].type, 'text/plain');
  });

  test('accepts recipients as recipientIds, recipientIds[] or a comma-separated string, and files only', async () => {
    const variants: Array<Record<string, string | string[]>> = [{ recipientIds: 'a,b' }, { 'recipientIds[]': ['a', 'b'] }, { 'recipientIds[0]': 'a' }];
    for (const fields of variants) {
      const res = await b.call(path, {
        method: 'POST',
        body: form({ conversationId: conv.id, ...fields }, [{ field: 'file', name: 'x.bin', type: 'application/octet-stream', data: 'x' }]),
      });
      assert.equal(res.status, 200, await res.clone().text());
    }
  });

  test('rejects bad input with the right 4xx in Pipedrive shape and stores nothing', async () => {
    const countBefore = await b.db('messages').count({ n: '*' }).first();
    const tmpBefore = readdirSync(join(b.dir, 'files', 'tmp')).length;
    const cases: Array<[string, RequestInit, number, string]> = [
      ['no text and no files', { method: 'POST', body: form({ conversationId: conv.id, message: '   ' }) }, 400, 'INVALID_BODY'],
      ['missing conversationId', { method: 'POST', body: form({ message: 'hi' }) }, 400, 'INVALID_BODY'],
      ['unknown conversation', { method: 'POST', body: form({ message: 'hi', conversationId: 'nope' }) }, 404, 'NOT_FOUND'],
      ['oversized message field', { method: 'POST', body: form({ message: 'x'.repeat(70_000), conversationId: conv.id }) }, 400, 'INVALID_BODY'],
      [
        'file over the size limit',
        { method: 'POST', body: form({ conversationId: conv.id }, [{ field: 'f', name: 'big.bin', type: 'application/octet-stream', data: new Uint8Array(5000) }]) },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        'too many files',
        {
          method: 'POST',
          body: form(
            { conversationId: conv.id },
            [1, 2, 3].map((i) => ({ field: 'f', name: `${i}.txt`, type: 'text/plain', data: 'x' })),
          ),
        },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['NUL in the text', { method: 'POST', body: form({ message: 'a\u0000b', conversationId: conv.id }) }, 400, 'INVALID_BODY'],
      [
        'JSON instead of multipart',
        { method: 'POST', body: JSON.stringify({ message: 'hi', conversationId: conv.id }), headers: { 'content-type': 'application/json' } },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'truncated multipart body',
        { method: 'POST', body: '--XYZ\r\nContent-Disposition: form-data; name="message"\r\n\r\nhel', headers: { 'content-type': 'multipart/form-data; boundary=XYZ' } },
        400,
        'INVALID_BODY',
      ],
      ['multipart without a boundary', { method: 'POST', body: 'garbage', headers: { 'content-type': 'multipart/form-data' } }, 400, 'INVALID_BODY'],
    ];
    for (const [name, init, status, code] of cases) {
      const res = await b.call(path, init);
      const body = await res.json();
      assert.equal(res.status, status, `${name}: ${JSON.stringify(body)}`);
      assert.deepEqual(Object.keys(body), ['success', 'data'], name);
      assert.equal(body.success, false, name);
      assert.equal(body.data.code, code, name);
      assert.equal(typeof body.data.message, 'string', name);
    }
    const countAfter = await b.db('messages').count({ n: '*' }).first();
    assert.equal(Number(countAfter?.n), Number(countBefore?.n), 'no message stored');
    assert.equal(readdirSync(join(b.dir, 'files', 'tmp')).length, tmpBefore, 'no staged file left behind');
  });

  test('answers once stored and queued: the conversation leads getConversations, unseen, ending with the message', async () => {
    const other = await seedConversation(b, channel);
    await seedInbound(b, channel, other, 'newer activity elsewhere');
    await b.db('conversations').where({ pk: conv.pk }).update({ seen: true });
    const res = await b.call(path, { method: 'POST', body: form({ message: 'Posted last', conversationId: conv.id }) });
    const { data } = await res.json();
    assert.equal(res.status, 200);
    // Nothing waited for the worker: what the answer promised is in the store already.
    const job = await b
      .db('jobs')
      .where({ kind: 'platform.send', ordering_key: `send:${conv.id}` })
      .andWhere('payload', 'like', `%${data.id}%`)
      .first();
    assert.ok(job, 'the delivery is queued');
    const page = await (await b.call(`/api/channels/${channel.providerChannelId}/conversations`)).json();
    await assertMatchesSpec('GET', `/api/channels/${channel.providerChannelId}/conversations`, 200, page);
    const first = page.data[0];
    assert.equal(first.id, conv.id, 'its activity moved it to the front');
    assert.equal(first.seen, false);
    assert.deepEqual(first.messages.at(-1), { ...first.messages.at(-1), id: data.id, message: 'Posted last', sender_id: `pd-user-${conv.id}`, status: 'sent' });
  });

  test('both conversation reads show a message status as stored now, after earlier reads showed the old one (receipts, a failed send)', async () => {
    const conversation = await seedConversation(b, channel);
    const list = `/api/channels/${channel.providerChannelId}/conversations?conversations_limit=100`;
    const one = `/api/channels/${channel.providerChannelId}/conversations/${encodeURIComponent(conversation.id)}`;
    const statusOf = async (id: string) => {
      const listed = await (await b.call(list)).json();
      const fromList = listed.data.find((c: { id: string }) => c.id === conversation.id).messages.find((m: { id: string }) => m.id === id).status;
      const alone = (await (await b.call(one)).json()).data.messages.find((m: { id: string }) => m.id === id).status;
      assert.equal(fromList, alone);
      return alone;
    };
    const sent = nextSend();
    const res = await b.call(path, { method: 'POST', body: form({ message: 'shown, then delivered, read, failed', conversationId: conversation.id }) });
    const id = (await res.json()).data.id as string;
    await sent;
    // Read twice: the second answer is built from what the first one left behind.
    assert.equal(await statusOf(id), 'sent');
    assert.equal(await statusOf(id), 'sent');
    await b.platform.setMessageStatus(id, 'delivered');
    assert.equal(await statusOf(id), 'delivered');
    // A read receipt moves every sent/delivered message of the conversation in one statement.
    assert.equal(await b.platform.markOutgoingRead(conversation), 1);
    assert.equal(await statusOf(id), 'read');
    await b.platform.setMessageStatus(id, 'failed', { error: 'platform rejected the message' });
    assert.equal(await statusOf(id), 'failed');
  });

  test('a conversation without a source_user is refused and nothing is stored', async () => {
    const now = Date.now();
    await b.db('conversations').insert({ id: 'no-source-user', channel_id: channel.id, status: 'open', seen: false, link: '', last_seq: 0, created_at: now, updated_at: now });
    const before = await b.db('messages').count({ n: '*' }).first();
    const res = await b.call(path, { method: 'POST', body: form({ message: 'hi', conversationId: 'no-source-user' }) });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).data.code, 'INVALID_BODY');
    const after = await b.db('messages').count({ n: '*' }).first();
    assert.equal(Number(after?.n), Number(before?.n));
  });

  test('unknown channel → 404 before any upload is accepted', async () => {
    const res = await b.call('/api/channels/nope/messages', { method: 'POST', body: form({ message: 'hi', conversationId: conv.id }) });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).data.code, 'NOT_FOUND');
  });
});
