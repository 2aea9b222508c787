import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPg } from '../../app/store/db.ts';
import { findMessageById, insertMessages, pageMessagesOf } from '../../app/store/messages.ts';
import { migrationSource } from '../../db/migrations/index.ts';
import { findMessageContext } from '../../app/store/message-context.ts';
import { DIALECT, startTestBridge, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';

test('a page of messages comes with each message’s attachments in created_at order, and sqlite sorts nothing for it', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);
    const older = await seedInbound(b, channel, conversation, 'older');
    const m = await seedInbound(b, channel, conversation, 'with files');
    // Stored in the opposite order of their times: the page follows created_at, not insertion.
    await b.db('attachments').insert([
      { id: 'att-late', message_seq: m.seq, name: 'late.pdf', mime_type: 'application/pdf', size: null, storage_key: 'att-late', remote_url: null, created_at: 3000 },
      { id: 'att-early', message_seq: m.seq, name: 'early.png', mime_type: 'image/png', size: 12, storage_key: null, remote_url: 'https://example.com/e.png', created_at: 1000 },
      { id: 'att-mid', message_seq: m.seq, name: 'mid.txt', mime_type: 'text/plain', size: 0, storage_key: null, remote_url: null, created_at: 2000 },
    ]);
    // What storing a message with attachments sets (migration 017); these were added after it.
    await b.db('messages').where('seq', m.seq).update({ has_attachments: true });

    // The statement as it ran (plain reads run on sqlite's read pool, another knex client).
    let sql = '';
    const client = b.db.client as { runner(builder: unknown): { client: { once(e: 'query', l: (q: { sql: string }) => void): void } } };
    const runner = client.runner.bind(client);
    client.runner = (builder: unknown) => {
      const r = runner(builder);
      r.client.once('query', (q) => {
        if (q.sql.includes('floor_seq')) sql = q.sql;
      });
      return r;
    };
    const pages = await pageMessagesOf(b.db, [conversation.pk], { limit: 10 });
    const page = pages.get(conversation.pk)!;
    assert.deepEqual(
      page.map((x) => x.id),
      [older.id, m.id],
    );
    assert.deepEqual(page[0]!.attachments, []);
    assert.deepEqual(page[1]!.attachments, [
      { id: 'att-early', messageSeq: m.seq, name: 'early.png', mimeType: 'image/png', size: 12, storageKey: null, remoteUrl: 'https://example.com/e.png' },
      { id: 'att-mid', messageSeq: m.seq, name: 'mid.txt', mimeType: 'text/plain', size: 0, storageKey: null, remoteUrl: null },
      { id: 'att-late', messageSeq: m.seq, name: 'late.pdf', mimeType: 'application/pdf', size: null, storageKey: 'att-late', remoteUrl: null },
    ]);
    assert.deepEqual(
      { ...page[1], attachments: [] },
      { seq: m.seq, id: m.id, conversationPk: conversation.pk, senderId: m.senderId, text: 'with files', status: m.status, createdAt: m.createdAt, attachments: [] },
    );

    // The page statement walks (conversation, seq) and then (message_seq, created_at): with the
    // attachments index of migration 014 sqlite needs no temporary b-tree to order the page.
    if (!isPg(b.db)) {
      assert.ok(sql, 'the page statement was seen');
      const plan = (await b.db.raw(`explain query plan ${sql}`, [9, conversation.pk])) as Array<{ detail: string }>;
      const details = plan.map((r) => r.detail).join('\n');
      assert.doesNotMatch(details, /TEMP B-TREE/, details);
      assert.match(details, /attachments_message_seq_created_at_index/, details);
    }
  } finally {
    await b.close();
  }
});

test('attachments stored together (one created_at) come back in the order they were stored, in every read of a message', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);
    const m = await seedInbound(b, channel, conversation, 'eight files');
    // Ids neither sorted nor reverse-sorted, so no other key could give this order by chance.
    const ids = ['att-q', 'att-c', 'att-x', 'att-a', 'att-m', 'att-z', 'att-f', 'att-k'];
    for (const id of ids) await b.db('attachments').insert({ id, message_seq: m.seq, name: `${id}.txt`, mime_type: 'text/plain', size: 1, storage_key: null, remote_url: null, created_at: 5000 });
    await b.db('messages').where('seq', m.seq).update({ has_attachments: true });

    const page = (await pageMessagesOf(b.db, [conversation.pk], { limit: 10 })).get(conversation.pk)!;
    assert.deepEqual(
      page[0]!.attachments.map((a) => a.id),
      ids,
      'getConversations / getConversationById page',
    );
    assert.deepEqual(
      (await findMessageById(b.db, m.id))!.attachments.map((a) => a.id),
      ids,
      'getMessageById',
    );
    assert.deepEqual(
      (await findMessageContext(b.db, m.id))!.message.attachments.map((a) => a.id),
      ids,
      'the delivery job',
    );
  } finally {
    await b.close();
  }
});

/** Each message's has_attachments flag (migration 017), by id. */
async function flags(db: TestBridge['db'], ids: string[]): Promise<Record<string, boolean>> {
  const rows: Array<{ id: string; has_attachments: boolean | number }> = await db('messages').select('id', 'has_attachments').whereIn('id', ids);
  return Object.fromEntries(rows.map((r) => [r.id, Boolean(r.has_attachments)]));
}

test('a message is flagged as having attachments where it is stored, and a page finds them through the flag', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);
    const file = { name: 'a.png', mimeType: 'image/png', size: 3, url: 'https://example.com/a.png' };
    const inbound = (text: string, attachments: (typeof file)[], tx?: Parameters<typeof b.platform.recordInbound>[2]) =>
      b.platform.recordInbound(channel, { dedupe: { source: 'seed', key: text }, conversation, senderId: 'agent-1', text, platformMessageId: text, createdAt: Date.now(), attachments }, tx);
    // Webhooks' group commit, and a caller's own transaction (the statements differ by dialect and path).
    const batched = await inbound('batched with file', [file]);
    const plain = await inbound('batched plain', []);
    const inTx = await b.db.transaction((tx) => inbound('in a transaction with file', [file], tx));
    // What a Pipedrive user posts.
    const [posted] = await insertMessages(
      b.db,
      [
        {
          message: {
            id: 'm_posted',
            conversationPk: conversation.pk,
            channelId: channel.id,
            platformMessageId: null,
            origin: 'pipedrive',
            senderId: 'pd-user',
            text: 'posted with file',
            status: 'sent',
            createdAt: Date.now(),
          },
          attachments: [{ id: 'att-posted', name: 'p.txt', mimeType: 'text/plain', size: 1, storageKey: 'att-posted', remoteUrl: null }],
        },
      ],
      Date.now(),
    );
    const ids = [batched, plain, inTx].map((r) => ('message' in r ? r.message.id : assert.fail('stored')));
    ids.push(posted!.id);
    assert.deepEqual(await flags(b.db, ids), { [ids[0]!]: true, [ids[1]!]: false, [ids[2]!]: true, m_posted: true });

    const page = (await pageMessagesOf(b.db, [conversation.pk], { limit: 10 })).get(conversation.pk)!;
    assert.deepEqual(
      page.map((m) => [m.text, m.attachments.map((a) => a.name)]),
      [
        ['batched with file', ['a.png']],
        ['batched plain', []],
        ['in a transaction with file', ['a.png']],
        ['posted with file', ['p.txt']],
      ],
    );
  } finally {
    await b.close();
  }
});

test('migration 017 flags the messages stored with attachments before it, and goes down and up again', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);
    const plain = await seedInbound(b, channel, conversation, 'plain');
    const withFile = await seedInbound(b, channel, conversation, 'with file');
    const schemaName = DIALECT === 'sqlite' ? undefined : ((await b.db.raw('select current_schema() as s')) as { rows: Array<{ s: string }> }).rows[0]!.s;
    await b.db.migrate.down({ migrationSource, schemaName, name: '017_messages_has_attachments' });
    assert.equal(await b.db.schema.hasColumn('messages', 'has_attachments'), false);
    // Stored before the migration: the attachment row without a flag.
    await b
      .db('attachments')
      .insert({ id: 'att-old', message_seq: withFile.seq, name: 'old.pdf', mime_type: 'application/pdf', size: 9, storage_key: null, remote_url: 'https://example.com/old.pdf', created_at: 1 });
    await b.db.migrate.latest({ migrationSource, schemaName });
    assert.deepEqual(await flags(b.db, [plain.id, withFile.id]), { [plain.id]: false, [withFile.id]: true });
    const page = (await pageMessagesOf(b.db, [conversation.pk], { limit: 10 })).get(conversation.pk)!;
    assert.deepEqual(
      page.map((m) => m.attachments.map((a) => a.id)),
      [[], ['att-old']],
    );
  } finally {
    await b.close();
  }
});

test('a page still reads after a migration adds columns while the process runs (its statements stay prepared on PostgreSQL)', async () => {
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
  try {
    const channel = await seedChannel(b);
    const conversation = await seedConversation(b, channel);
    await seedInbound(b, channel, conversation, 'hello');
    const path = `/api/channels/${channel.providerChannelId}/conversations?conversations_limit=30&messages_limit=30`;
    const read = async () => {
      const res = await b.call(path);
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as unknown;
    };
    // Several times, so each statement is prepared, and PostgreSQL settles on its plan (after five runs).
    let before: unknown;
    for (let i = 0; i < 7; i++) before = await read();
    // A later release's migration, run by another process while this one serves pages: each
    // statement of the page must name its columns, or PostgreSQL refuses its cached plan.
    for (const table of ['conversations', 'participants', 'messages', 'attachments']) await b.db.raw(`alter table ${table} add column later_release text`);
    for (let i = 0; i < 3; i++) assert.deepEqual(await read(), before);
  } finally {
    await b.close();
  }
});
