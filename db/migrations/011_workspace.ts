import type { Knex } from 'knex';

/**
 * The workspace surface (custom UI extensions inside Pipedrive):
 * - workspace_users: Pipedrive users of an installed company who never installed the app
 *   themselves, as Pipedrive described them through the installation's token;
 * - workspace_tickets: single-use tickets that let an EventSource (which cannot send headers)
 *   open the live stream, stored hashed so every process can redeem them;
 * - workspace_reads: how far each user has read each conversation (unread counts);
 * - workspace_records: conversations about a deal/person/organization, with the record;
 * - installation_surfaces: whether an installation uses the Channels API, the workspace, or both.
 * messages.updated_at gets an index: the live stream polls it for changes across processes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workspace_users', (t) => {
    t.bigInteger('pd_company_id').notNullable();
    t.bigInteger('pd_user_id').notNullable();
    t.string('name', 255).notNullable();
    t.string('email', 255);
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.bigInteger('updated_at').notNullable();
    t.primary(['pd_company_id', 'pd_user_id']);
  });

  await knex.schema.createTable('workspace_tickets', (t) => {
    t.string('ticket_hash', 64).primary();
    t.bigInteger('pd_company_id').notNullable();
    t.bigInteger('pd_user_id').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });

  await knex.schema.createTable('workspace_reads', (t) => {
    t.integer('conversation_pk').notNullable().references('conversations.pk').onDelete('CASCADE');
    t.bigInteger('pd_user_id').notNullable();
    t.bigInteger('read_seq').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['conversation_pk', 'pd_user_id']);
  });

  await knex.schema.createTable('workspace_records', (t) => {
    t.integer('conversation_pk').primary().references('conversations.pk').onDelete('CASCADE');
    t.bigInteger('pd_company_id').notNullable();
    t.bigInteger('pd_user_id').notNullable();
    t.string('record_type', 16).notNullable();
    t.bigInteger('record_id').notNullable();
    t.string('record_title', 255).notNullable();
    t.text('record_url').notNullable();
    t.string('company_name', 255);
    t.bigInteger('created_at').notNullable();
    t.index(['pd_company_id', 'record_type', 'record_id']);
  });

  await knex.schema.createTable('installation_surfaces', (t) => {
    t.string('installation_id', 64).primary().references('installations.id').onDelete('CASCADE');
    t.string('surface', 16).notNullable();
    t.text('reason');
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.alterTable('messages', (t) => {
    t.index(['updated_at'], 'messages_updated_at_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => t.dropIndex(['updated_at'], 'messages_updated_at_idx'));
  for (const table of ['installation_surfaces', 'workspace_records', 'workspace_reads', 'workspace_tickets', 'workspace_users']) await knex.schema.dropTableIfExists(table);
}
