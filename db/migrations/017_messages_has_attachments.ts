import type { Knex } from 'knex';

/**
 * A page of messages on PostgreSQL (app/store/messages.ts, pageMessagesOf) joined every message
 * to attachments, though few messages have any: on the 200 × 40 store of `npm run bench`
 * (388 attachments among 8,000 messages) the join and the sort of the wide joined rows were
 * half of PostgreSQL's work for a 30×30 page (pgbench, the page's statement alone: ~300 pages
 * per second on 2 cores with the join, ~600 with this flag). With it, only the messages that
 * have attachments look them up.
 *
 * The flag is set when a message is stored with attachments, in the same statement. Rows are
 * never added to a stored message's attachments; retention may delete them (their bytes
 * expired), so `true` means "look", and the lookup then finds what is left.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.boolean('has_attachments').notNullable().defaultTo(false);
  });
  await knex.raw(`update messages set has_attachments = ? where seq in (select message_seq from attachments)`, [true]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('has_attachments');
  });
}
