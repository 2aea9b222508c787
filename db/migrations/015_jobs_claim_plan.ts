import type { Knex } from 'knex';

/**
 * The jobs table's indexes, for claims that stay a few index probes under a backlog and for
 * cheaper job writes. Every job is inserted once and updated twice (claimed, finished), and
 * every index holding `status` changes on each update, so an index nothing reads costs every
 * message three times.
 *
 * Both databases:
 * - (status, run_at) goes: nothing reads jobs by due time without a tenant since claims became
 *   fair; (status, tenant, run_at) serves every status lookup it served.
 * - (ordering_key, id) goes: (ordering_key, status, id) (migration 005) serves every lookup by
 *   ordering key.
 *
 * PostgreSQL only: autovacuum analyses jobs after a tenth of the table changed, so with a week of
 * finished jobs kept, a sudden backlog of thousands is planned as "almost nothing is pending",
 * and the claim (app/store/jobs.ts) scanned the backlog: ~10 ms per claim, a queue draining at
 * ~80 jobs/s where sqlite drains 600.
 * - jobs_unfinished_key_idx: the per-conversation order check looks for an earlier unfinished
 *   job of a key; only unfinished jobs are in it, so it stays the size of the backlog.
 * - jobs_status_tenant_idx gains id: each tenant's runnable jobs are walked in (run_at, id)
 *   order straight off the index and the walk stops after the few it offers, instead of
 *   sorting the tenant's whole backlog. sqlite's indexes already end in the rowid (id), and
 *   its claim plan does not follow row estimates this way, so sqlite keeps that index as is.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['status', 'run_at']);
    t.dropIndex(['ordering_key', 'id']);
  });
  if (!isPg(knex)) return;
  await knex.raw(`create index jobs_unfinished_key_idx on jobs (ordering_key, id) where status in ('pending', 'running')`);
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['status', 'tenant', 'run_at', 'id'], 'jobs_status_tenant_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  if (isPg(knex)) {
    await knex.raw(`drop index jobs_unfinished_key_idx`);
    await knex.schema.alterTable('jobs', (t) => {
      t.dropIndex(['status', 'tenant', 'run_at', 'id'], 'jobs_status_tenant_idx');
    });
    await knex.schema.alterTable('jobs', (t) => {
      t.index(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
    });
  }
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['status', 'run_at']);
    t.index(['ordering_key', 'id']);
  });
}

/** Kept here rather than imported from the app, so the migration never changes with app code. */
function isPg(knex: Knex): boolean {
  return knex.client.config.client === 'pg';
}
