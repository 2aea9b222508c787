import type { Knex } from 'knex';

/**
 * Transcripts of conversations about a record, written to that record as Pipedrive notes.
 * Each message is assigned to a note (transcript_entries) *before* Pipedrive is called, and a
 * note's `rev` grows with every assignment; `synced_rev` is the revision Pipedrive last
 * accepted. A note's content is always rendered whole from its entries, so re-sending after a
 * crash replaces the note instead of appending twice. `token` is written into the note's text:
 * when a POST may have reached Pipedrive without its id being recorded (`post_attempted`), the
 * next attempt finds the note by it instead of creating a second one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('transcript_notes', (t) => {
    t.increments('pk').primary();
    t.integer('conversation_pk').notNullable().references('conversations.pk').onDelete('CASCADE');
    t.string('record_type', 16).notNullable();
    t.bigInteger('record_id').notNullable();
    t.string('token', 64).notNullable().unique();
    // 1, 2, … in the note's heading: a long conversation continues in a new note.
    t.integer('part').notNullable();
    t.bigInteger('pd_note_id');
    t.integer('rev').notNullable().defaultTo(0);
    t.integer('synced_rev').notNullable().defaultTo(0);
    t.integer('bytes').notNullable().defaultTo(0);
    t.boolean('full').notNullable().defaultTo(false);
    t.boolean('post_attempted').notNullable().defaultTo(false);
    t.bigInteger('synced_at');
    t.bigInteger('created_at').notNullable();
    t.index(['conversation_pk', 'pk']);
  });

  await knex.schema.createTable('transcript_entries', (t) => {
    t.integer('message_seq').primary().references('messages.seq').onDelete('CASCADE');
    t.integer('note_pk').notNullable().references('transcript_notes.pk').onDelete('CASCADE');
    t.integer('bytes').notNullable();
    // The line as written into the note, fixed when assigned: re-sending a note after a crash
    // writes exactly what was (maybe) written before, whatever changed since (an agent's alias).
    t.text('html').notNullable();
    t.index(['note_pk', 'message_seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('transcript_entries');
  await knex.schema.dropTableIfExists('transcript_notes');
}
