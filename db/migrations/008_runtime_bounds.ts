import type { Knex } from 'knex';

/**
 * Fair claims: every job carries its tenant (the channel's Pipedrive company, or the channel
 * itself when no installation owns it), so the outbox can share worker slots round-robin
 * between tenants and cap what one tenant holds. Unfinished jobs are backfilled; finished
 * ones never run again and keep ''.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    // '' for jobs of no channel (they share one tenant).
    t.string('tenant', 64).notNullable().defaultTo('');
  });
  await knex.raw(`update jobs set tenant = coalesce((${TENANT_OF_CHANNEL.replace('?', 'jobs.channel_id')}), '') where status in ('pending', 'running') and channel_id is not null`);
  await knex.schema.alterTable('jobs', (t) => {
    // Each claim walks every tenant's runnable jobs in due order, and counts its jobs in flight.
    t.index(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
    t.dropColumn('tenant');
  });
}

/** The tenant of the channel bound to `?`: identical on sqlite and PostgreSQL. Kept here so the migration never changes with app code. */
const TENANT_OF_CHANNEL = `select coalesce('company:' || cast(i.pd_company_id as text), 'channel:' || c.id) from channels c left join installations i on i.id = c.installation_id where c.id = ?`;
