import type { Knex } from 'knex';

// Times are epoch milliseconds in bigint columns: identical on sqlite and PostgreSQL,
// millisecond precision, and no time-zone conversion anywhere.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('installations', (t) => {
    t.string('id', 64).primary();
    t.bigInteger('pd_company_id').notNullable();
    t.bigInteger('pd_user_id').notNullable();
    t.string('api_domain', 255);
    t.string('user_name', 255);
    t.string('user_email', 255);
    t.string('company_name', 255);
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.text('icon_url');
    t.text('access_token_enc');
    t.text('refresh_token_enc');
    t.bigInteger('token_expires_at');
    t.string('status', 32).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['pd_company_id', 'pd_user_id']);
  });

  await knex.schema.createTable('channels', (t) => {
    t.string('id', 64).primary();
    t.string('provider_channel_id', 128).notNullable().unique();
    t.string('installation_id', 64).references('installations.id').onDelete('SET NULL');
    t.string('provider', 32).notNullable();
    t.string('name', 255).notNullable();
    t.text('avatar_url');
    t.text('config_enc').notNullable();
    t.text('state_enc');
    t.string('status', 16).notNullable();
    t.text('last_error');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('deleted_at');
  });

  await knex.schema.createTable('conversations', (t) => {
    t.increments('pk').primary();
    t.string('id', 128).notNullable().unique();
    t.string('channel_id', 64).notNullable().references('channels.id').onDelete('CASCADE');
    t.string('status', 16).notNullable();
    t.boolean('seen').notNullable().defaultTo(false);
    t.text('link').notNullable().defaultTo('');
    // seq of the newest stored message (0 = none): the keyset for "latest activity first".
    t.bigInteger('last_seq').notNullable().defaultTo(0);
    t.string('provider_ref', 255);
    t.text('provider_state');
    t.string('source_user_key', 128);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['channel_id', 'last_seq', 'pk'], 'conversations_activity_idx');
    t.unique(['channel_id', 'provider_ref']);
    t.unique(['channel_id', 'source_user_key']);
  });

  await knex.schema.createTable('participants', (t) => {
    t.increments('pk').primary();
    t.integer('conversation_pk').notNullable().references('conversations.pk').onDelete('CASCADE');
    t.string('id', 128).notNullable();
    t.string('role', 16).notNullable();
    t.string('name', 255).notNullable();
    t.text('avatar_url');
    t.string('email', 255);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['conversation_pk', 'id']);
    t.index(['id']);
  });

  await knex.schema.createTable('messages', (t) => {
    t.increments('seq').primary();
    t.string('id', 64).notNullable().unique();
    t.integer('conversation_pk').notNullable().references('conversations.pk').onDelete('CASCADE');
    t.string('channel_id', 64).notNullable();
    t.string('provider_message_id', 255);
    t.string('origin', 16).notNullable();
    t.string('sender_id', 128).notNullable();
    t.text('text').notNullable();
    t.string('status', 16).notNullable();
    t.text('error');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['conversation_pk', 'seq']);
    t.index(['channel_id', 'provider_message_id']);
  });

  await knex.schema.createTable('attachments', (t) => {
    t.string('id', 64).primary();
    t.integer('message_seq').notNullable().references('messages.seq').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('mime_type', 255).notNullable();
    t.bigInteger('size');
    t.string('storage_key', 255);
    t.text('remote_url');
    t.bigInteger('created_at').notNullable();
    t.index(['message_seq']);
  });

  await knex.schema.createTable('templates', (t) => {
    t.increments('pk').primary();
    t.string('channel_id', 64).notNullable().references('channels.id').onDelete('CASCADE');
    t.string('id', 128).notNullable();
    t.string('name', 255).notNullable();
    t.text('content').notNullable();
    t.string('language', 32).notNullable();
    t.unique(['channel_id', 'id']);
  });

  await knex.schema.createTable('jobs', (t) => {
    t.bigIncrements('id').primary();
    t.string('kind', 64).notNullable();
    t.text('payload').notNullable();
    // Jobs sharing an ordering key run one at a time, in id order (per-conversation delivery order).
    t.string('ordering_key', 191);
    t.string('idempotency_key', 191).unique();
    t.string('status', 16).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    t.bigInteger('run_at').notNullable();
    t.string('locked_by', 64);
    t.bigInteger('locked_until');
    t.text('last_error');
    t.string('channel_id', 64);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['status', 'run_at']);
    t.index(['ordering_key', 'id']);
    t.index(['channel_id', 'status']);
  });

  await knex.schema.createTable('inbound_events', (t) => {
    t.increments('pk').primary();
    t.string('source', 64).notNullable();
    t.string('event_key', 255).notNullable();
    t.bigInteger('received_at').notNullable();
    t.unique(['source', 'event_key']);
    t.index(['received_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['inbound_events', 'jobs', 'templates', 'attachments', 'messages', 'participants', 'conversations', 'channels', 'installations']) {
    await knex.schema.dropTableIfExists(table);
  }
}
