import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../app/store/jobs.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET, waitFor } from '../../support/harness.ts';
import { startPipedriveRig } from '../../support/pipedrive-rig.ts';
import { sign } from '../../support/test-provider.ts';

type Rig = Awaited<ReturnType<typeof startPipedriveRig>>;

async function recordWorld(env: Record<string, string> = {}) {
  const rig = await startPipedriveRig({ env: { TRANSCRIPT_FLUSH_SECONDS: '0', ...env } });
  rig.fake.addRecord('deal', 5, 'Big <deal> & co');
  const token = await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET, ttl: 3600 });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${rig.bridge.url}/ui/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
  };
  const started = await call('POST', '/conversations', { channelId: rig.channel.id, record: { type: 'deal', id: 5 } });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const conversationId: string = started.body.conversation.id;
  let n = 0;
  return {
    rig,
    call,
    conversationId,
    async say(text: string) {
      const r = await call('POST', `/conversations/${conversationId}/messages`, { text });
      assert.equal(r.status, 201);
    },
    async reply(text: string) {
      const body = JSON.stringify({ eventId: `tr-ev-${++n}`, conversationId, text });
      const r = await fetch(`${rig.bridge.url}/webhooks/test/${rig.channel.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) },
        body,
      });
      assert.equal(r.status, 200);
    },
  };
}

/** Resolves once no transcript job is pending or running and every note is synced. */
async function settled(rig: Rig): Promise<void> {
  for (;;) {
    const open = await rig.bridge.db('jobs').where({ kind: 'workspace.transcript' }).whereIn('status', ['pending', 'running']).count({ n: '*' }).first();
    const dirty = await rig.bridge.db('transcript_notes').whereRaw('rev > synced_rev').count({ n: '*' }).first();
    const waiting = await rig.bridge
      .db('messages as m')
      .leftJoin('transcript_entries as e', 'e.message_seq', 'm.seq')
      .whereNull('e.message_seq')
      .whereIn('m.conversation_pk', rig.bridge.db('workspace_records').select('conversation_pk'))
      .count({ n: '*' })
      .first();
    if (Number(open!.n) === 0 && Number(dirty!.n) === 0 && Number(waiting!.n) === 0) return;
    await waitFor<[Job]>(rig.bridge.outbox, 'done', (j) => j.kind === 'workspace.transcript', 15_000);
  }
}

/** The idle time passes: the pending flush becomes due now (the debounce itself is in the store). */
async function idleTimePasses(rig: Rig): Promise<void> {
  const n = await rig.bridge.db('jobs').where({ kind: 'workspace.transcript', status: 'pending' }).update({ run_at: Date.now() });
  assert.equal(n, 1, 'one pending flush for the conversation, however many lines');
  rig.bridge.outbox.kick();
}

const linesOf = (content: string) => [...content.matchAll(/<p>(\d{4}-\d\d-\d\d \d\d:\d\d UTC) · <b>(.*?)<\/b>: (.*?)<\/p>/g)].map((m) => `${m[2]}: ${m[3]}`);

test('transcripts: every line of a conversation about a deal lands once, in order, HTML-escaped, in one note', async () => {
  const w = await recordWorld({ TRANSCRIPT_FLUSH_SECONDS: '3600' });
  try {
    await w.say('Hello <b>team</b> & "friends"');
    await w.reply('Hi Pat');
    await w.say('Second\nline');
    assert.equal(w.rig.fake.notesOf('deal', 5).length, 0, 'nothing before the conversation is idle');
    await idleTimePasses(w.rig);
    await settled(w.rig);
    const notes = w.rig.fake.notesOf('deal', 5);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!.content, /^<p><b>Conversation on Support about Big &lt;deal&gt; &amp; co<\/b> \(part 1, ref tr-[0-9a-f]{16}\)<\/p>/);
    assert.deepEqual(linesOf(notes[0]!.content), ['Pat Admin: Hello &lt;b&gt;team&lt;/b&gt; &amp; &quot;friends&quot;', 'Support (Test platform): Hi Pat', 'Pat Admin: Second<br>line']);
    assert.ok(!/<script|<b>team/.test(notes[0]!.content));
    // Batched: one idle period, one write for the three lines.
    assert.equal(notes[0]!.versions, 1);

    // More lines later: the same note grows by PUT.
    await w.reply('One more thing');
    await idleTimePasses(w.rig);
    await settled(w.rig);
    const after = w.rig.fake.notesOf('deal', 5);
    assert.equal(after.length, 1);
    assert.equal(linesOf(after[0]!.content).length, 4);
    assert.equal(linesOf(after[0]!.content)[3], 'Support (Test platform): One more thing');
    const listed = (await w.call('GET', '/conversations?record=deal:5')).body.conversations[0];
    assert.equal(listed.transcript.pending, false);
    assert.ok(Date.parse(listed.transcript.savedAt) <= Date.now());
  } finally {
    await w.rig.close();
  }
});

test('transcripts: a long conversation continues in a new note before ~95,000 bytes, every line exactly once', async () => {
  const w = await recordWorld({ TRANSCRIPT_FLUSH_SECONDS: '1' });
  try {
    for (let i = 0; i < 12; i++) await w.say(`${i}:${'x'.repeat(10_000)}`);
    await settled(w.rig);
    const notes = w.rig.fake.notesOf('deal', 5);
    assert.equal(notes.length, 2);
    for (const n of notes) assert.ok(Buffer.byteLength(n.content) <= 95_000, `${Buffer.byteLength(n.content)} bytes`);
    assert.match(notes[1]!.content, /\(part 2, ref /);
    const all = notes.flatMap((n) => linesOf(n.content)).map((l) => l.split(':')[1]);
    assert.deepEqual(
      all,
      Array.from({ length: 12 }, (_, i) => ` ${i}`),
    );
  } finally {
    await w.rig.close();
  }
});

test('transcripts: Pipedrive stored the note but its answer was lost: the retry finds it by its token instead of posting again', async () => {
  const w = await recordWorld();
  try {
    let lost = 0;
    w.rig.fake.noteHooks.afterWrite = async (op) => {
      if (op === 'add' && lost++ === 0) throw new Error('connection dropped after the note was stored');
    };
    await w.say('first line');
    await settled(w.rig);
    await w.reply('second line');
    await settled(w.rig);
    const notes = w.rig.fake.notesOf('deal', 5);
    assert.equal(lost, 1);
    assert.equal(notes.length, 1);
    assert.deepEqual(linesOf(notes[0]!.content), ['Pat Admin: first line', 'Support (Test platform): second line']);
  } finally {
    await w.rig.close();
  }
});

test('fake Pipedrive notes enforce the documented contract', async () => {
  const rig = await startPipedriveRig();
  try {
    rig.fake.addRecord('deal', 5, 'Big deal');
    const token = [...rig.fake.state.accessTokens.keys()][0]!;
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${rig.fake.apiUrl}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((r) => r.status);
    assert.equal(await api('POST', '/notes', { deal_id: 5 }), 400);
    assert.equal(await api('POST', '/notes', { content: 'x' }), 400);
    assert.equal(await api('POST', '/notes', { content: 'x', deal_id: 999 }), 404);
    assert.equal(await api('POST', '/notes', { content: 'x'.repeat(100_001), deal_id: 5 }), 400);
    assert.equal(await api('POST', '/notes', { content: '<p>ok</p>', deal_id: 5 }), 201);
    assert.equal(await api('PUT', '/notes/1', { content: 'x'.repeat(100_001) }), 400);
    assert.equal(await api('PUT', '/notes/1', { content: '<p>ok, more</p>' }), 200);
    assert.equal(await api('PUT', '/notes/99', { content: 'x' }), 404);
    assert.equal(await api('GET', '/notes/1'), 200);
    assert.equal(rig.fake.notesOf('deal', 5)[0]!.content, '<p>ok, more</p>');
  } finally {
    await rig.close();
  }
});
