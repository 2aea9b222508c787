import type { Knex } from 'knex';

/**
 * PostgreSQL only: indexes that let a claim under a backlog stay a few index probes whatever the
 * planner's statistics say. Autovacuum analyses jobs after a tenth of the table changed, so with
 * a week of finished jobs kept, a sudden backlog of thousands is planned as "almost nothing is
 * pending", and the claim (app/store/jobs.ts) scanned the backlog: ~10 ms per claim, a queue
 * draining at ~80 jobs/s where sqlite drains 600.
 * - jobs_unfinished_key_idx: the per-conversation order check looks for an earlier unfinished
 *   job of a key; only unfinished jobs are in it, so it stays the size of the backlog.
 * - jobs_status_tenant_idx gains id: each tenant's runnable jobs are walked in (run_at, id)
 *   order straight off the index and the walk stops after the few it offers, instead of sorting
 *   the tenant's whole backlog. It serves whatever (status, run_at) served (nothing reads jobs
 *   by due time without a tenant since claims became fair), which goes: a status-only lookup
 *   such as the claim's skip from one pending tenant to the next took that smaller index for
 *   "one row" and sorted the backlog by tenant. Each index costs every job write (status is in
 *   them, so no update is HOT), hence replacing rather than adding.
 * sqlite's indexes already end in the rowid (id) and its claim plan does not follow row
 * estimates this way, so sqlite keeps its indexes.
 */
export async function up(knex: Knex): Promise<void> {
  if (!isPg(knex)) return;
  await knex.raw(`create index jobs_unfinished_key_idx on jobs (ordering_key, id) where status in ('pending', 'running')`);
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
    t.dropIndex(['status', 'run_at']);
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['status', 'tenant', 'run_at', 'id'], 'jobs_status_tenant_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  if (!isPg(knex)) return;
  await knex.raw(`drop index jobs_unfinished_key_idx`);
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['status', 'tenant', 'run_at', 'id'], 'jobs_status_tenant_idx');
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['status', 'tenant', 'run_at'], 'jobs_status_tenant_idx');
    t.index(['status', 'run_at']);
  });
}

/** Kept here rather than imported from the app, so the migration never changes with app code. */
function isPg(knex: Knex): boolean {
  return knex.client.config.client === 'pg';
}
