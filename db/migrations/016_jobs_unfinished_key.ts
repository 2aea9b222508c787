import type { Knex } from 'knex';

/**
 * The lookups of jobs by ordering key read unfinished jobs (the claim's per-conversation order
 * check, waking or moving a conversation's pending job, a conversation's queued sends) or dead
 * ones (Send again). (ordering_key, status, id) (migration 005) held every job of a key, the
 * week of finished ones too, so each new job landed on its conversation's own page of a large
 * index, and each status change moved its entry to another: on sqlite a page written out again
 * by nearly every commit for each conversation a batch touched (npm run bench, sqlite, Airy
 * webhooks, ids already time-ordered: 52 → 33 kB written per message with its delivery).
 *
 * - jobs_unfinished_key_idx (PostgreSQL has it since migration 015) holds only pending and
 *   running jobs, so it stays the size of the backlog and its pages are few and shared. A
 *   query uses it on sqlite when its WHERE repeats the predicate as written
 *   (https://www.sqlite.org/partialindex.html, "Queries Using Partial Indexes"):
 *   `unfinished()` in app/store/jobs.ts.
 * - jobs_dead_key_idx holds dead jobs only: they are few, and written only when a job dies.
 */
export async function up(knex: Knex): Promise<void> {
  if (!isPg(knex)) await knex.raw(`create index jobs_unfinished_key_idx on jobs (ordering_key, id) where status in ('pending', 'running')`);
  await knex.raw(`create index jobs_dead_key_idx on jobs (ordering_key) where status = 'dead'`);
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['ordering_key', 'status', 'id'], 'jobs_ordering_status_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['ordering_key', 'status', 'id'], 'jobs_ordering_status_id_idx');
  });
  await knex.raw(`drop index jobs_dead_key_idx`);
  if (!isPg(knex)) await knex.raw(`drop index jobs_unfinished_key_idx`);
}

/** Kept here rather than imported from the app, so the migration never changes with app code. */
function isPg(knex: Knex): boolean {
  return knex.client.config.client === 'pg';
}
