import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { ReceiveMessageBody } from '../../../app/flows/channels-api/receive-job.ts';
import { findMessageById } from '../../../app/store/messages.ts';
import { findSession } from '../../../app/store/alvaria-sessions.ts';
import type { Job } from '../../../app/store/jobs.ts';
import { waitFor } from '../../support/harness.ts';
import { startAlvariaRig, type AlvariaRig } from '../../support/alvaria.ts';
import { seedConversation } from '../../support/seed.ts';
import type { FakeSession } from '../../../fakes/alvaria/server.ts';
import type { Delivery } from '../../../fakes/alvaria/deliveries.ts';
import type { SignMode } from '../../../fakes/alvaria/signer.ts';

const isSend = (j: Job) => j.kind === 'platform.send';

/** A rig with one live session carrying one sent message. */
async function liveRig(opts: Parameters<typeof startAlvariaRig>[0] = {}): Promise<AlvariaRig & { session: FakeSession }> {
  const r = await startAlvariaRig(opts);
  const sentP = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
  const doneP = waitFor(r.b.outbox, 'done', isSend);
  await r.post('hello');
  const [session] = await sentP;
  await doneP;
  return Object.assign(r, { session });
}

const messageTexts = async (r: AlvariaRig) => ((await r.b.db('messages').select('text').where({ channel_id: r.channel.id }).orderBy('seq')) as Array<{ text: string }>).map((m) => m.text);

const delivered = (r: AlvariaRig, d: Delivery) => waitFor(r.fake.deliveries, 'delivered', (x: Delivery) => x === d);

test('every bad-JWT mode is refused with 401 and nothing is stored', async () => {
  const r = await liveRig();
  try {
    r.fake.deliveries.maxAttempts = 1;
    const eventsBefore = await r.b
      .db('inbound_events')
      .count({ n: '*' })
      .first()
      .then((x) => Number(x?.n));
    const modes: SignMode[] = ['expired', 'wrong-key', 'none', 'hs256', 'missing'];
    for (const mode of modes) {
      r.fake.signer.mode = mode;
      const d = r.fake.agentMessage(r.session.id, { text: `forged ${mode}` });
      const [, status] = await waitFor(r.fake.deliveries, 'attempt', (x: Delivery, _status: number | null) => x === d);
      assert.equal(status, 401, mode);
    }
    r.fake.signer.mode = 'valid';
    for (const garbage of ['Bearer not-a-jwt', 'Bearer a.b.c', 'Basic Zm9vOmJhcg==']) {
      assert.equal((await r.callback({ sessionId: r.session.id, senderId: 'agent', message: { text: 'x' }, eventId: randomUUID() }, garbage)).status, 401);
    }
    assert.deepEqual(await messageTexts(r), ['hello']);
    assert.equal(
      await r.b
        .db('inbound_events')
        .count({ n: '*' })
        .first()
        .then((x) => Number(x?.n)),
      eventsBefore,
    );
  } finally {
    await r.close();
  }
});

test('the JWT is accepted with or without Bearer and within the clock skew; a rotated key the channel lacks is refused', async () => {
  const r = await liveRig();
  try {
    const msg = (text: string) => ({ sessionId: r.session.id, senderId: 'agent', message: { text }, eventId: randomUUID() });
    r.fake.signer.bearer = false;
    assert.equal((await r.callback(msg('bare token'))).status, 200);
    r.fake.signer.bearer = true;
    r.fake.signer.ttlSeconds = -30; // expired 30 s ago: inside the 60 s skew
    assert.equal((await r.callback(msg('slightly late'))).status, 200);
    r.fake.signer.ttlSeconds = -120;
    assert.equal((await r.callback(msg('too late'))).status, 401);
    r.fake.signer.ttlSeconds = 300;
    await r.fake.signer.rotate(); // this channel only knows the old key
    assert.equal((await r.callback(msg('new key, old config'))).status, 401);
    assert.deepEqual(await messageTexts(r), ['hello', 'bare token', 'slightly late']);
  } finally {
    await r.close();
  }
});

test('a channel configured with the current and the next key keeps accepting callbacks across a rotation', async () => {
  const r = await liveRig({ config: (f) => ({ callback_public_keys: [f.signer.currentPublicPem, f.signer.nextPublicPem] }) });
  try {
    const msg = (text: string) => ({ sessionId: r.session.id, senderId: 'agent', message: { text }, eventId: randomUUID() });
    assert.equal((await r.callback(msg('before rotation'))).status, 200);
    await r.fake.signer.rotate();
    assert.equal((await r.callback(msg('after rotation'))).status, 200);
    assert.deepEqual(await messageTexts(r), ['hello', 'before rotation', 'after rotation']);
  } finally {
    await r.close();
  }
});

test('AGENT_JOINED and SESSION_REROUTE rename the end_user and add a system line', async () => {
  const r = await liveRig();
  try {
    const p1 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'Maria joined the conversation');
    r.fake.agentJoined(r.session.id, 'Maria');
    await p1;
    const p2 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'The conversation was transferred to Ken');
    r.fake.reroute(r.session.id, { agentAlias: 'Ken' });
    const [line] = await p2;
    assert.equal(line.sender_id, 'agent-1');
    const p3 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'The conversation was transferred to work type 77');
    r.fake.reroute(r.session.id, { worktypeId: '77' });
    await p3;
    const sender = (await (await r.b.call(`/api/channels/${r.channel.providerChannelId}/senders/agent-1`)).json()) as { data: { name: string } };
    assert.equal(sender.data.name, 'Ken', 'a reroute to a work type keeps the last agent alias');
    const origins = await r.b.db('messages').select('origin').where({ channel_id: r.channel.id }).orderBy('seq');
    assert.deepEqual(
      origins.map((o: { origin: string }) => o.origin),
      ['pipedrive', 'system', 'system', 'system'],
    );
  } finally {
    await r.close();
  }
});

test('oversized ids are refused with 400 (never a 5xx on PostgreSQL) and an overlong alias is cut to fit', async () => {
  const r = await liveRig();
  try {
    const eventsBefore = await r.b
      .db('inbound_events')
      .count({ n: '*' })
      .first()
      .then((x) => Number(x?.n));
    for (const payload of [
      { sessionId: r.session.id, senderId: 'agent', message: { text: 'x' }, eventId: 'e'.repeat(256) },
      { sessionId: 's'.repeat(256), event: 'NEW_SESSION', status: 'SUCCESS', eventId: randomUUID() },
      { sessionId: r.session.id, event: 'MESSAGE_STATUS', status: 'FAILED', messageId: 'm'.repeat(256), eventId: randomUUID() },
    ]) {
      const res = await r.callback(payload);
      assert.equal(res.status, 400, JSON.stringify(payload).slice(0, 80));
      assert.equal(typeof res.body.error, 'string');
    }
    assert.equal(
      await r.b
        .db('inbound_events')
        .count({ n: '*' })
        .first()
        .then((x) => Number(x?.n)),
      eventsBefore,
    );
    const joined = await r.callback({ sessionId: r.session.id, event: 'AGENT_JOINED', agentAlias: 'A'.repeat(300), eventId: randomUUID() });
    assert.equal(joined.status, 200);
    const sender = (await (await r.b.call(`/api/channels/${r.channel.providerChannelId}/senders/agent-1`)).json()) as { data: { name: string } };
    assert.equal(sender.data.name, 'A'.repeat(255));
  } finally {
    await r.close();
  }
});

test('MESSAGE from an agent or SYSTEM, with text and/or an attachment, reaches Pipedrive from the end_user', async () => {
  const r = await liveRig();
  try {
    const p1 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'Your ticket is #42');
    r.fake.agentMessage(r.session.id, { text: 'Your ticket is #42' }, 'SYSTEM');
    const [sys] = await p1;
    assert.equal(sys.sender_id, 'agent-1');
    const p2 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.attachments.length > 0);
    r.fake.agentMessage(r.session.id, { attachment: { type: 'Image', url: 'https://cdn.example.com/pics/receipt.png' } });
    const [pic] = await p2;
    assert.equal(pic.message, '');
    assert.equal(pic.attachments[0]!.url, 'https://cdn.example.com/pics/receipt.png');
    assert.equal(pic.attachments[0]!.type, 'image/png');
    assert.equal(pic.attachments[0]!.name, 'receipt.png');
    const p3 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'the manual');
    r.fake.agentMessage(r.session.id, { text: 'the manual', attachment: { type: 'File', url: 'https://cdn.example.com/manual' } });
    const [both] = await p3;
    assert.equal(both.attachments[0]!.type, 'application/octet-stream');
  } finally {
    await r.close();
  }
});

test('MESSAGE_STATUS FAILED re-sends the message to Pipedrive as failed (same id), also when it overtakes the send response', async () => {
  const r = await liveRig();
  try {
    r.fake.failMessage = (m) => (m.text === 'doomed' ? 'Session does not exist' : null);
    const p1 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.status === 'failed');
    const id = await r.post('doomed');
    const [failed] = await p1;
    assert.equal(failed.id, id);
    assert.equal(failed.message, 'doomed');
    assert.equal((await findMessageById(r.b.db, id))!.error, 'Session does not exist');

    // The status arrives before the message exists on our side: parked, then applied by the send.
    const early = randomUUID().toUpperCase();
    const ack = await r.callback({ sessionId: r.session.id, event: 'MESSAGE_STATUS', status: 'FAILED', messageId: early, statusMessage: 'Attachment unreachable', eventId: randomUUID() });
    assert.equal(ack.status, 200);
    r.fake.nextMessageIds.push(early);
    const p2 = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.status === 'failed' && b.message === 'late');
    const id2 = await r.post('late');
    const [failed2] = await p2;
    assert.equal(failed2.id, id2);
    assert.equal((await findMessageById(r.b.db, id2))!.error, 'Attachment unreachable');
    assert.equal(r.gateway.bodies.filter((b) => b.status === 'failed').length, 2, 'each failure reaches Pipedrive exactly once');
  } finally {
    await r.close();
  }
});

test('SESSION_END from a delete or from SYSTEM closes the conversation with a short line', async () => {
  const r = await liveRig();
  try {
    const p = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'The session has ended');
    r.fake.endSession(r.session.id, null);
    await p;
    const row = await findSession(r.b.db, r.channel.id, r.session.id);
    assert.equal(row?.status, 'ended');
    const conv = await r.b.inbox.findConversation(r.channel, { id: r.conversation.id });
    assert.equal(conv?.status, 'closed');

    // A message for a session we think ended still lands in its conversation.
    const late = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'one last thing');
    r.fake.agentMessage(r.session.id, { text: 'one last thing' });
    assert.equal((await late)[0].conversation_id, r.conversation.id);
  } finally {
    await r.close();
  }
});

test('duplicate callbacks are stored once, whether redelivered or concurrent', async () => {
  const r = await liveRig();
  try {
    r.fake.deliveries.duplicate = true;
    const d = r.fake.agentMessage(r.session.id, { text: 'only once' });
    const [, dupStatus] = await waitFor(r.fake.deliveries, 'duplicated', (x: Delivery, _status: number | null) => x === d);
    assert.equal(dupStatus, 200, 'a duplicate is acknowledged');

    const payload = { sessionId: r.session.id, event: 'AGENT_JOINED', agentAlias: 'Lee', eventId: randomUUID() };
    const answers = await Promise.all([1, 2, 3].map(() => r.callback(payload)));
    assert.ok(answers.every((a) => a.status === 200));
    const ns = { sessionId: r.session.id, event: 'NEW_SESSION', status: 'SUCCESS', eventId: randomUUID() };
    assert.deepEqual((await r.callback(ns)).body, { ok: true });
    assert.deepEqual((await r.callback(ns)).body, { duplicate: true });

    const texts = await messageTexts(r);
    assert.equal(texts.filter((t) => t === 'only once').length, 1);
    assert.equal(texts.filter((t) => t === 'Lee joined the conversation').length, 1);
  } finally {
    await r.close();
  }
});

test('out of order: NEW_SESSION before the create response, events for unknown sessions and unknown types', async () => {
  const r = await startAlvariaRig();
  try {
    r.fake.confirmBeforeResponse = true;
    const retries: Job[] = [];
    r.b.outbox.on('retry', (j) => isSend(j) && retries.push(j));
    const sentP = once(r.fake, 'message') as Promise<[FakeSession, { text?: string }]>;
    await r.post('fast confirmation');
    const [s, m] = await sentP;
    assert.equal(m.text, 'fast confirmation');
    assert.equal(retries.length, 0, 'the parked NEW_SESSION was adopted: no wait');
    assert.equal((await findSession(r.b.db, r.channel.id, s.id))?.status, 'live');

    const unknown = await r.callback({ sessionId: 'no-such-session', senderId: 'agent', message: { text: 'who?' }, eventId: randomUUID() });
    assert.deepEqual(unknown, { status: 200, body: { ignored: true } });
    const odd = await r.callback({ sessionId: s.id, event: 'TYPING_STARTED', eventId: randomUUID() });
    assert.deepEqual(odd, { status: 200, body: { ignored: true } });
    const bad = await r.callback({ sessionId: s.id, event: 'AGENT_JOINED', eventId: randomUUID() });
    assert.equal(bad.status, 400);
    const notJson = await fetch(r.notes.callback_url!, { method: 'POST', headers: { authorization: (await r.fake.signer.authorization())! }, body: '{oops' });
    assert.equal(notJson.status, 400);
    assert.deepEqual(await messageTexts(r), ['fast confirmation']);
  } finally {
    await r.close();
  }
});

test("a callback is answered 5xx only when the store fails, and Alvaria's retry lands it after recovery", async () => {
  const r = await liveRig();
  try {
    // The event store breaks mid-way (the channel lookup still works): 503, nothing half-done.
    await r.b.db.schema.renameTable('inbound_events', 'inbound_events_away');
    const d = r.fake.agentMessage(r.session.id, { text: 'stored on retry' });
    const [, status] = await waitFor(r.fake.deliveries, 'attempt', (x: Delivery, _status: number | null) => x === d);
    assert.equal(status, 503);
    const landed = waitFor(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message === 'stored on retry');
    await r.b.db.schema.renameTable('inbound_events_away', 'inbound_events');
    await delivered(r, d);
    await landed;
    assert.equal((await messageTexts(r)).filter((t) => t === 'stored on retry').length, 1);

    // The database gone entirely: still a 5xx (never a 2xx that would lose the event, never a 4xx).
    await r.b.outbox.stop();
    await r.b.db.destroy();
    const res = await r.callback({ sessionId: r.session.id, senderId: 'agent', message: { text: 'lost?' }, eventId: randomUUID() });
    assert.ok(res.status >= 500, String(res.status));
  } finally {
    await r.close();
  }
});

test('50 parallel sends through the bridge use the one token fetched at connect', async () => {
  const r = await startAlvariaRig();
  try {
    r.fake.tokenDelayMs = 20;
    const conversations = await Promise.all(Array.from({ length: 50 }, (_, i) => seedConversation(r.b, r.channel, `bulk-${i}`)));
    let sent = 0;
    const allP = new Promise<void>((resolve) => r.fake.on('message', () => ++sent === 50 && resolve()));
    await Promise.all(conversations.map((c, i) => r.post(`bulk ${i}`, [], c.id)));
    await allP;
    assert.equal(r.fake.sessions.size, 50);
    assert.equal(r.fake.tokenCalls, 1);
  } finally {
    await r.close();
  }
});
