import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../app/store/jobs.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET, waitFor } from '../../support/harness.ts';
import { installVia } from '../../support/install.ts';
import { startPipedriveRig } from '../../support/pipedrive-rig.ts';

type Rig = Awaited<ReturnType<typeof startPipedriveRig>>;

function ui(rig: Rig, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${rig.bridge.url}/ui/api${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
  };
}

const sendDone = (rig: Rig) => waitFor<[Job]>(rig.bridge.outbox, 'done', (j) => j.kind === 'platform.send');

test('workspace: the user lists conversations with unread counts, writes with a file, reads, and sends a failed message again', async () => {
  const rig = await startPipedriveRig();
  try {
    const call = ui(rig, await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET }));
    let list = await call('GET', '/conversations');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.conversations.length, 1);
    const conv = list.body.conversations[0];
    assert.equal(conv.id, rig.conversationId);
    assert.equal(conv.channelId, rig.channel.id);
    assert.equal(conv.title, 'Support');
    assert.equal(conv.unread, 0);

    await rig.inbound('hello from the platform');
    await rig.inbound('are you there?');
    list = await call('GET', `/conversations?channel=${rig.channel.id}`);
    assert.equal(list.body.conversations[0].unread, 2);
    assert.deepEqual(list.body.conversations[0].lastMessage, { text: 'are you there?', at: list.body.conversations[0].lastMessage.at, direction: 'in' });
    assert.equal((await call('GET', '/unread')).body.total, 2);
    assert.deepEqual((await call('GET', '/conversations?channel=ch_other')).body.conversations, []);

    let delivered = sendDone(rig);
    const sent = await call('POST', `/conversations/${conv.id}/messages`, { text: 'Hi! Yes.' });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.body.message.direction, 'out');
    assert.equal(sent.body.message.sender.name, rig.user.name);
    assert.ok(['queued', 'sent'].includes(sent.body.message.status));
    await delivered;
    assert.equal(rig.platform.sent.at(-1)!.message.message.text, 'Hi! Yes.');

    delivered = sendDone(rig);
    const form = new FormData();
    form.append('text', 'the offer');
    form.append('files', new Blob(['%PDF-1.4 offer'], { type: 'application/pdf' }), 'offer.pdf');
    const withFile = await call('POST', `/conversations/${conv.id}/messages`, form);
    assert.equal(withFile.status, 201, JSON.stringify(withFile.body));
    assert.equal(withFile.body.message.attachments.length, 1);
    assert.equal(withFile.body.message.attachments[0].name, 'offer.pdf');
    await delivered;
    assert.equal(rig.platform.sent.at(-1)!.message.files[0]!.name, 'offer.pdf');
    const file = await fetch(withFile.body.message.attachments[0].url);
    assert.equal(await file.text(), '%PDF-1.4 offer');

    const page = await call('GET', `/conversations/${conv.id}/messages?limit=3`);
    assert.deepEqual(
      page.body.messages.map((m: any) => [m.direction, m.text]),
      [
        ['in', 'are you there?'],
        ['out', 'Hi! Yes.'],
        ['out', 'the offer'],
      ],
    );
    const older = await call('GET', `/conversations/${conv.id}/messages?limit=3&before=${page.body.nextBefore}`);
    assert.deepEqual(
      older.body.messages.map((m: any) => m.text),
      ['hello from the platform'],
    );
    assert.equal(older.body.nextBefore, undefined);

    assert.equal((await call('POST', `/conversations/${conv.id}/read`)).status, 204);
    assert.equal((await call('GET', '/unread')).body.total, 0);

    // A failure shows the platform's reason; Send again delivers it and leaves no dead letter.
    rig.platform.script = ['permanent'];
    const dead = waitFor<[Job, string]>(rig.bridge.outbox, 'dead', (j) => j.kind === 'platform.send');
    const failing = await call('POST', `/conversations/${conv.id}/messages`, { text: 'this one fails first' });
    await dead;
    const failed = (await call('GET', `/conversations/${conv.id}/messages`)).body.messages.at(-1);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure.reason, 'platform rejected the message');
    const redelivered = sendDone(rig);
    assert.equal((await call('POST', `/messages/${failing.body.message.id}/retry`)).status, 202);
    assert.equal((await call('POST', `/messages/${failing.body.message.id}/retry`)).status, 409);
    await redelivered;
    const again = (await call('GET', `/conversations/${conv.id}/messages`)).body.messages.at(-1);
    assert.equal(again.status, 'sent');
    assert.equal(again.failure, undefined);
    assert.equal(rig.platform.sent.at(-1)!.message.message.text, 'this one fails first');
    assert.equal(Number((await rig.bridge.db('jobs').where({ status: 'dead', kind: 'platform.send' }).count({ n: '*' }).first())!.n), 0);

    // Bad input: 4xx in the API's shape.
    assert.equal((await call('POST', `/conversations/${conv.id}/messages`, { text: '' })).status, 400);
    assert.equal((await call('POST', `/conversations/${conv.id}/messages`, { text: 5 })).status, 400);
    assert.equal((await call('GET', '/conversations?record=deal:abc')).status, 400);
    const token = await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET });
    const plain = await fetch(`${rig.bridge.url}/ui/api/conversations/${conv.id}/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(plain.status, 415);
    assert.equal((await call('GET', '/conversations/nope/messages')).status, 404);
  } finally {
    await rig.close();
  }
});

test("workspace: a token for company A cannot read or write company B's conversations, and a colleague gets their own", async () => {
  const rig = await startPipedriveRig();
  try {
    await rig.inbound('secret of company A');
    const otherCo = rig.fake.addUser({ id: 4004, name: 'Bea B', email: 'bea@b.example', company_id: 88, company_name: 'B Corp', company_domain: 'bcorp' });
    await installVia(rig.bridge, rig.fake, { userId: otherCo.id });
    const b = ui(rig, await mintUiToken({ userId: otherCo.id, companyId: 88, secret: CLIENT_SECRET }));
    const before = Number((await rig.bridge.db('messages').count({ n: '*' }).first())!.n);
    const messageId = (await rig.bridge.db('messages').first()).id as string;
    assert.deepEqual((await b('GET', '/conversations')).body.conversations, []);
    assert.deepEqual((await b('GET', `/conversations?channel=${rig.channel.id}`)).body.conversations, []);
    for (const [method, path, body] of [
      ['GET', `/conversations/${rig.conversationId}/messages`],
      ['POST', `/conversations/${rig.conversationId}/messages`, { text: 'intrusion' }],
      ['POST', `/conversations/${rig.conversationId}/read`],
      ['POST', `/messages/${messageId}/retry`],
    ] as Array<[string, string, unknown?]>) {
      const res = await b(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    // Bad tokens on every write: 401, nothing stored.
    const forged = await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: 'forged' });
    const expired = await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET, ttl: -300 });
    for (const t of [forged, expired, 'garbage']) {
      const w = ui(rig, t);
      assert.equal((await w('POST', `/conversations/${rig.conversationId}/messages`, { text: 'nope' })).status, 401);
      assert.equal((await w('POST', `/conversations/${rig.conversationId}/read`)).status, 401);
      assert.equal((await w('POST', '/conversations', { channelId: rig.channel.id, record: { type: 'deal', id: 1 } })).status, 401);
      assert.equal((await w('POST', '/stream-ticket')).status, 401);
    }
    assert.equal(Number((await rig.bridge.db('workspace_reads').count({ n: '*' }).first())!.n), 0);
    assert.equal(Number((await rig.bridge.db('workspace_tickets').count({ n: '*' }).first())!.n), 0);
    assert.equal(Number((await rig.bridge.db('workspace_records').count({ n: '*' }).first())!.n), 0);

    // A token that claims company A for B's user is refused before anything else.
    const claimA = await ui(rig, await mintUiToken({ userId: otherCo.id, companyId: rig.user.company_id, secret: CLIENT_SECRET }))('GET', `/conversations/${rig.conversationId}/messages`);
    assert.equal(claimA.status, 401);
    assert.equal(Number((await rig.bridge.db('messages').count({ n: '*' }).first())!.n), before);

    // A colleague of company A (never installed) gets a standing conversation of their own.
    const colleague = rig.fake.addUser({ id: 1002, name: 'Cory Colleague', email: 'cory@acme.example', is_admin: false, company_id: rig.user.company_id });
    const c = ui(rig, await mintUiToken({ userId: colleague.id, companyId: rig.user.company_id, secret: CLIENT_SECRET }));
    const mine = (await c('GET', '/conversations')).body.conversations;
    assert.equal(mine.length, 1);
    assert.notEqual(mine[0].id, rig.conversationId);
    assert.equal((await c('GET', `/conversations/${rig.conversationId}/messages`)).status, 404);
    const again = (await c('GET', '/conversations')).body.conversations;
    assert.deepEqual(
      again.map((x: any) => x.id),
      [mine[0].id],
    );
    const done = sendDone(rig);
    assert.equal((await c('POST', `/conversations/${mine[0].id}/messages`, { text: 'hello from Cory' })).status, 201);
    await done;
    const sentBy = rig.platform.sent.at(-1)!.message.sender;
    assert.equal(sentBy.name, 'Cory Colleague');
    assert.equal(sentBy.email, 'cory@acme.example');
  } finally {
    await rig.close();
  }
});
