import type { Knex } from 'knex';

/**
 * claimJobs skips a job while an earlier job with its ordering key is pending or running.
 * On (ordering_key, id) alone sqlite checks that by visiting every earlier job of the key,
 * finished ones included (kept 7 days), so each claim grew with a conversation's history:
 * 200 k done jobs over 100 keys made a claim + finish 6× slower. With status in the key it
 * is a seek per status. PostgreSQL anti-joins on the status index either way.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['ordering_key', 'status', 'id'], 'jobs_ordering_status_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['ordering_key', 'status', 'id'], 'jobs_ordering_status_id_idx');
  });
}
