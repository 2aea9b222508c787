import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { findMessageById } from '../../../app/store/messages.ts';
import type { ReceiveMessageBody } from '../../../app/flows/channels-api/receive-job.ts';
import type { Job } from '../../../app/store/jobs.ts';
import { waitFor } from '../../support/harness.ts';
import { startAlvariaRig } from '../../support/alvaria.ts';
import type { FakeSession } from '../../../fakes/alvaria/server.ts';

const isSend = (j: Job) => j.kind === 'platform.send';

test('a whole conversation: postMessage → session → NEW_SESSION → sent → agent joins → agent replies to Pipedrive', async () => {
  const r = await startAlvariaRig();
  try {
    // The admin sees the URL to hand to Alvaria Customer Care.
    assert.equal(r.notes.callback_url, `${r.b.config.appUrl}/webhooks/alvaria/${r.channel.id}`);

    const sessionP = once(r.fake, 'session') as Promise<[FakeSession]>;
    const sentP = once(r.fake, 'message') as Promise<[FakeSession, { messageId: string; text?: string }]>;
    const doneP = waitFor(r.b.outbox, 'done', isSend);
    const id = await r.post('Hello from Pipedrive');

    const [session] = await sessionP;
    assert.equal(session.contactName, 'Pat Pipedrive');
    assert.equal(session.integration, 'Pipedrive');
    assert.equal(session.workTypeId, '32');
    const [, sent] = await sentP;
    assert.equal(sent.text, 'Hello from Pipedrive');
    await doneP;
    const stored = await findMessageById(r.b.db, id);
    assert.equal(stored?.platformMessageId, sent.messageId, 'the 202 messageId is kept as the provider id');
    assert.equal(stored?.status, 'sent');

    // The token and every API call carried the right credentials.
    const api = r.fake.requests.filter((q) => q.path.includes('/serverMessaging/'));
    assert.ok(api.every((q) => /^Bearer /.test(String(q.headers.authorization)) && q.headers['x-api-key'] === r.fake.apiKey));
    assert.equal(api.find((q) => q.path.endsWith('/message'))?.headers['server-messaging-session-id'], session.id);

    const joinedP = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message.includes('joined'));
    r.fake.agentJoined(session.id, 'John');
    const [joined] = await joinedP;
    assert.equal(joined.sender_id, 'agent-1');
    assert.equal(joined.message, 'John joined the conversation');
    const sender = await r.b.call(`/api/channels/${r.channel.providerChannelId}/senders/agent-1`);
    assert.equal(((await sender.json()) as { data: { name: string } }).data.name, 'John', 'the end_user now carries the agent alias');

    const replyP = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'Hi Pat, John here');
    r.fake.agentMessage(session.id, { text: 'Hi Pat, John here' });
    const [reply] = await replyP;
    assert.equal(reply.sender_id, 'agent-1');
    assert.equal(reply.conversation_id, r.conversation.id);
    assert.equal(reply.channel_id, r.channel.providerChannelId);
    assert.equal(reply.status, 'sent');

    // The conversation as Pipedrive reads it has both sides, in order.
    const conv = await r.b.call(`/api/channels/${r.channel.providerChannelId}/conversations/${r.conversation.id}`);
    const view = (await conv.json()) as { data: { status: string; messages: Array<{ message: string }> } };
    assert.equal(view.data.status, 'open');
    assert.deepEqual(
      view.data.messages.map((m) => m.message),
      ['Hello from Pipedrive', 'John joined the conversation', 'Hi Pat, John here'],
    );
  } finally {
    await r.close();
  }
});

test('text and each attachment go out as separate messages with the mapped type and a signed URL', async () => {
  const r = await startAlvariaRig();
  try {
    const got: Array<{ text?: string; attachment?: { type: string; url: string } }> = [];
    r.fake.on('message', (_s, m) => got.push(m));
    const doneP = waitFor(r.b.outbox, 'done', isSend);
    await r.post('see files', [
      { name: 'photo.png', type: 'image/png', bytes: new Uint8Array([137, 80, 78, 71]) },
      { name: 'report.pdf', type: 'application/pdf', bytes: new TextEncoder().encode('%PDF-1.4') },
      { name: 'clip.mp4', type: 'video/mp4', bytes: new Uint8Array([0, 0, 0, 24]) },
      { name: 'voice.ogg', type: 'audio/ogg', bytes: new Uint8Array([79, 103, 103, 83]) },
    ]);
    await doneP;
    assert.equal(got.length, 5);
    assert.deepEqual(got[0], { messageId: (got[0] as { messageId: string }).messageId, text: 'see files' });
    assert.deepEqual(
      got.slice(1).map((m) => m.attachment?.type),
      ['Image', 'File', 'Video', 'Audio'],
    );
    const url = got[1]!.attachment!.url;
    assert.ok(url.startsWith(`${r.b.config.appUrl}/files/`), url);
    const file = await fetch(url);
    assert.equal(file.status, 200);
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), new Uint8Array([137, 80, 78, 71]));
  } finally {
    await r.close();
  }
});

test('messages wait behind a provisional session and go out in order once NEW_SESSION arrives', async () => {
  // Deferred sends would look again only after a minute: only the NEW_SESSION wake-up can send them in time.
  const r = await startAlvariaRig({ adapter: { deferMs: { min: 60_000, max: 60_000 } } });
  try {
    r.fake.autoConfirm = false;
    const sessionP = once(r.fake, 'session') as Promise<[FakeSession]>;
    const deferredP = waitFor(r.b.outbox, 'retry', (j: Job, why: string) => isSend(j) && why.startsWith('waiting for Alvaria'));
    await r.post('one');
    await r.post('two');
    await r.post('three');
    const [session] = await sessionP;
    await deferredP;
    assert.equal(r.fake.sessions.size, 1, 'one session for the whole burst');
    assert.equal(session.messages.length, 0, 'nothing is sent before NEW_SESSION');

    const texts: string[] = [];
    const allP = new Promise<void>((resolve) =>
      r.fake.on('message', (_s, m) => {
        texts.push(m.text ?? '');
        if (texts.length === 3) resolve();
      }),
    );
    // NEW_SESSION wakes the deferred job at once.
    r.fake.confirmSession(session.id);
    await allP;
    assert.deepEqual(texts, ['one', 'two', 'three']);
  } finally {
    await r.close();
  }
});

test('NEW_SESSION FAILED fails the waiting messages in Pipedrive; the next message opens a new session', async () => {
  const r = await startAlvariaRig({ adapter: { deferMs: { min: 60_000, max: 60_000 } } });
  try {
    r.fake.autoConfirm = false;
    const sessionP = once(r.fake, 'session') as Promise<[FakeSession]>;
    const deferredP = waitFor(r.b.outbox, 'retry', (j: Job) => isSend(j));
    const a = await r.post('first');
    const b = await r.post('second');
    const [session] = await sessionP;
    await deferredP;

    const failed = new Map<string, ReceiveMessageBody>();
    const bothP = new Promise<void>((resolve) =>
      r.gateway.on('receive', (body: ReceiveMessageBody) => {
        if (body.status === 'failed') failed.set(body.id, body);
        if (failed.size === 2) resolve();
      }),
    );
    r.fake.confirmSession(session.id, 'FAILED', 'No agents available');
    await bothP;
    assert.deepEqual([...failed.keys()].sort(), [a, b].sort(), 'the same ids go back to Pipedrive as failed');
    for (const id of [a, b]) assert.match((await findMessageById(r.b.db, id))!.error ?? '', /No agents available/);
    assert.equal(session.messages.length, 0);

    r.fake.autoConfirm = true;
    const nextP = once(r.fake, 'message') as Promise<[FakeSession, { text?: string }]>;
    await r.post('third');
    const [s2, m] = await nextP;
    assert.notEqual(s2.id, session.id);
    assert.equal(m.text, 'third');
  } finally {
    await r.close();
  }
});

test('a session older than 4 hours counts as ended: the next message opens a new one', async () => {
  const r = await startAlvariaRig();
  try {
    r.fake.autoEnd = false; // Alvaria's SESSION_END is lost: our own age check must notice.
    const firstP = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
    await r.post('before');
    const [s1] = await firstP;

    r.fake.clock.advance(4 * 60 * 60 * 1000 + 1000);
    const secondP = once(r.fake, 'message') as Promise<[FakeSession, { text?: string }]>;
    await r.post('after');
    const [s2, m] = await secondP;
    assert.notEqual(s2.id, s1.id);
    assert.equal(m.text, 'after');
    assert.equal(r.fake.sessions.size, 2);
  } finally {
    await r.close();
  }
});

test('SESSION_END at the maximum age closes the conversation; the next message reopens it with a new session', async () => {
  const r = await startAlvariaRig();
  try {
    const firstP = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
    await r.post('morning');
    const [s1] = await firstP;

    const closedP = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'The session was closed by Alvaria');
    r.fake.clock.advance(4 * 60 * 60 * 1000); // the fake ends the session from SYSTEM
    await closedP;
    const status = async () => ((await (await r.b.call(`/api/channels/${r.channel.providerChannelId}/conversations/${r.conversation.id}`)).json()) as { data: { status: string } }).data.status;
    assert.equal(await status(), 'closed');

    const secondP = once(r.fake, 'message') as Promise<[FakeSession, { text?: string }]>;
    const doneP = waitFor(r.b.outbox, 'done', isSend);
    await r.post('afternoon');
    const [s2, m] = await secondP;
    await doneP;
    assert.notEqual(s2.id, s1.id);
    assert.equal(m.text, 'afternoon');
    assert.equal(await status(), 'open');
  } finally {
    await r.close();
  }
});

test('429 and 5xx are retried honouring Retry-After; another 4xx fails the message in Pipedrive with the reason', async () => {
  const r = await startAlvariaRig();
  try {
    const firstP = once(r.fake, 'message');
    await r.post('warm up');
    await firstP;

    r.fake.apiFailures.push({ status: 429, retryAfter: '0' }, { status: 503 });
    const retries: string[] = [];
    r.b.outbox.on('retry', (j, why) => isSend(j) && retries.push(why));
    const okP = once(r.fake, 'message') as Promise<[FakeSession, { text?: string }]>;
    await r.post('eventually');
    const [, m] = await okP;
    assert.equal(m.text, 'eventually');
    assert.equal(retries.length, 2);
    assert.match(retries[0]!, /HTTP 429/);
    assert.match(retries[1]!, /HTTP 503/);

    r.fake.apiFailures.push({ status: 400 });
    const failedP = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.status === 'failed');
    const deadP = waitFor(r.b.outbox, 'dead', isSend);
    const id = await r.post('rejected');
    const [failed] = await failedP;
    await deadP;
    assert.equal(failed.id, id);
    assert.match((await findMessageById(r.b.db, id))!.error ?? '', /HTTP 400/);
  } finally {
    await r.close();
  }
});

test('deleting the channel deletes its live sessions', async () => {
  const r = await startAlvariaRig();
  try {
    const firstP = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
    await r.post('bye soon');
    const [s] = await firstP;
    r.fake.deliveries.maxAttempts = 1; // the SESSION_END for a deleted channel is not ours to take
    const deletedP = once(r.fake, 'deleted') as Promise<[FakeSession]>;
    const res = await r.b.call(`/api/channels/${r.channel.providerChannelId}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    const [deleted] = await deletedP;
    assert.equal(deleted.id, s.id);
    assert.equal(s.status, 'ended');
  } finally {
    await r.close();
  }
});
