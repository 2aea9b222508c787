import type { Knex } from 'knex';

/**
 * A page of messages is read with its attachments in one statement (app/store/messages.ts,
 * pageMessagesOf), each message's attachments in created_at order. On message_seq alone sqlite
 * fetched them in index order and then sorted the whole page (EXPLAIN QUERY PLAN: "USE TEMP
 * B-TREE FOR LAST TERM OF ORDER BY"), about 1 ms of a 30×30 page. With created_at in the key
 * the index already yields that order. It serves every lookup by message_seq the old index did
 * (the foreign key's cascade included), so that one goes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('attachments', (t) => {
    t.index(['message_seq', 'created_at'], 'attachments_message_seq_created_at_index');
  });
  await knex.schema.alterTable('attachments', (t) => {
    t.dropIndex(['message_seq'], 'attachments_message_seq_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('attachments', (t) => {
    t.index(['message_seq'], 'attachments_message_seq_index');
  });
  await knex.schema.alterTable('attachments', (t) => {
    t.dropIndex(['message_seq', 'created_at'], 'attachments_message_seq_created_at_index');
  });
}
