import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPg } from '../../app/store/db.ts';
import { findMessageById, pageMessagesOf } from '../../app/store/messages.ts';
import { findMessageContext } from '../../app/store/message-context.ts';
import { startTestBridge } from '../support/harness.ts';
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
