import type { Knex } from 'knex';

/**
 * Alvaria Server Messaging: one bridge conversation maps to a sequence of sessions (each
 * lives at most 4 h), and one Pipedrive message maps to one Alvaria message per part (text,
 * then each attachment), so a MESSAGE_STATUS names any part.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('alvaria_sessions', (t) => {
    t.increments('pk').primary();
    t.string('channel_id', 64).notNullable().references('channels.id').onDelete('CASCADE');
    t.string('session_id', 255).notNullable();
    // Null while a NEW_SESSION callback for a session we have not recorded yet is parked.
    t.string('conversation_id', 128);
    // provisional → live (NEW_SESSION SUCCESS) | failed (NEW_SESSION FAILED) → ended
    t.string('status', 16).notNullable();
    t.text('status_message');
    // When a session fails, the conversation's messages up to this seq waited for it and fail too;
    // later ones open a new session.
    t.bigInteger('fail_through_seq');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['channel_id', 'session_id']);
    t.index(['channel_id', 'conversation_id', 'pk']);
  });

  await knex.schema.createTable('alvaria_messages', (t) => {
    t.increments('pk').primary();
    t.string('channel_id', 64).notNullable().references('channels.id').onDelete('CASCADE');
    t.string('alvaria_message_id', 255).notNullable();
    // Our message and which part of it; null while a MESSAGE_STATUS that came first is parked.
    t.string('message_id', 64);
    t.integer('part');
    t.text('failure');
    t.boolean('failure_applied').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.unique(['channel_id', 'alvaria_message_id']);
    t.index(['message_id', 'part']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('alvaria_messages');
  await knex.schema.dropTableIfExists('alvaria_sessions');
}
