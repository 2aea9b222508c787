import type { Knex } from 'knex';

/**
 * "Provider" meant two things: Pipedrive's word for us (the messaging provider, as in
 * `provider_channel_id`) and the contact platform behind a channel (Airy, Alvaria). The
 * platform's columns, job kinds and message origin now say *platform*; `provider_channel_id`
 * keeps Pipedrive's word. Renames keep every row; queued and dead jobs move to the new kind
 * names, so a replay after the upgrade still finds its handler.
 */
const columns: Array<[table: string, from: string, to: string]> = [
  ['channels', 'provider', 'platform'],
  ['conversations', 'provider_ref', 'platform_ref'],
  ['conversations', 'provider_state', 'platform_state'],
  ['messages', 'provider_message_id', 'platform_message_id'],
];
const values: Array<[table: string, column: string, from: string, to: string]> = [
  ['jobs', 'kind', 'provider.send', 'platform.send'],
  ['jobs', 'kind', 'provider.disconnect', 'platform.disconnect'],
  // Who wrote a message: Pipedrive, the platform, or the bridge itself ('system').
  ['messages', 'origin', 'provider', 'platform'],
];

export async function up(knex: Knex): Promise<void> {
  // Plain ALTER … RENAME COLUMN: PostgreSQL and sqlite (3.25+) both rename in place and carry
  // indexes and constraints along, where knex's sqlite path would rebuild the table.
  for (const [table, from, to] of columns) await knex.raw('alter table ?? rename column ?? to ??', [table, from, to]);
  for (const [table, column, from, to] of values)
    await knex(table)
      .where(column, from)
      .update({ [column]: to });
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, column, from, to] of values)
    await knex(table)
      .where(column, to)
      .update({ [column]: from });
  for (const [table, from, to] of columns) await knex.raw('alter table ?? rename column ?? to ??', [table, to, from]);
}
