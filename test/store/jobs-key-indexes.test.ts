import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrationSource } from '../../db/migrations/index.ts';
import { claimJobs, wakePendingJobs } from '../../app/store/jobs.ts';
import { rescheduleTranscriptJob } from '../../app/store/transcripts.ts';
import { deadSendJobOf, queuedMessageIds } from '../../app/store/workspace.ts';
import { watchStatements, type RanStatement } from '../../scripts/lib/statements.ts';
import { DIALECT, startTestBridge } from '../support/harness.ts';

/** The indexes of `jobs` and, for partial ones, their predicate, as the database reports them. */
async function jobIndexes(db: Awaited<ReturnType<typeof startTestBridge>>['db']): Promise<Map<string, string>> {
  if (DIALECT === 'sqlite') {
    const rows: Array<{ name: string; sql: string | null }> = await db.raw(`select name, sql from sqlite_master where type = 'index' and tbl_name = 'jobs'`);
    return new Map(rows.map((r) => [r.name, String(r.sql ?? '')]));
  }
  const rows = (await db.raw(`select indexname, indexdef from pg_indexes where tablename = 'jobs' and schemaname = current_schema()`)) as { rows: Array<{ indexname: string; indexdef: string }> };
  return new Map(rows.rows.map((r) => [r.indexname, r.indexdef]));
}

test('jobs are found by ordering key through partial indexes of unfinished and dead jobs, not an index of every job', async () => {
  const b = await startTestBridge();
  try {
    const indexes = await jobIndexes(b.db);
    assert.equal(indexes.has('jobs_ordering_status_id_idx'), false, 'the index of every job by key is gone');
    assert.match(indexes.get('jobs_unfinished_key_idx') ?? '', /\(ordering_key, id\) WHERE .*status.*pending.*running/i);
    assert.match(indexes.get('jobs_dead_key_idx') ?? '', /\(ordering_key\) WHERE .*status.*dead/i);

    // Every lookup by ordering key, as the app runs it; on sqlite each must repeat the partial
    // index's predicate, or the planner takes the status index and walks every pending job.
    const seen: RanStatement[] = [];
    watchStatements(b.db, (q) => seen.push(q));
    const now = Date.now();
    await queuedMessageIds(b.db, 'conv-1');
    await deadSendJobOf(b.db, 'conv-1', 'm_1');
    await wakePendingJobs(b.db, 'platform.send', 'send:conv-1', now);
    await rescheduleTranscriptJob(b.db, 1, now + 1000, 60_000, now);
    await claimJobs(b.db, 'w-test', 4, now, 30_000);
    // The running bridge's worker claims too: its claims go through the same check.
    const ran = seen.splice(0).filter((q) => /ordering_key/.test(q.sql ?? ''));
    assert.ok(ran.length >= 5, `${ran.length} statements by ordering key`);
    if (DIALECT !== 'sqlite') return;
    for (const q of ran) {
      const plan: Array<{ detail: string }> = await b.db.raw(`explain query plan ${q.sql}`, (q.bindings ?? []) as never);
      const details = plan.map((p) => p.detail).join(' | ');
      assert.match(details, /jobs_(unfinished|dead)_key_idx/, `${q.sql}\n  => ${details}`);
    }
  } finally {
    await b.close();
  }
});

test('migration 016 goes down to the index of every job by key and up again', async () => {
  const b = await startTestBridge();
  try {
    const schemaName = DIALECT === 'sqlite' ? undefined : ((await b.db.raw('select current_schema() as s')) as { rows: Array<{ s: string }> }).rows[0]!.s;
    await b.db.migrate.down({ migrationSource, schemaName, name: '016_jobs_unfinished_key' });
    let indexes = await jobIndexes(b.db);
    assert.equal(indexes.has('jobs_ordering_status_id_idx'), true);
    assert.equal(indexes.has('jobs_dead_key_idx'), false);
    // PostgreSQL keeps the partial index of unfinished jobs from migration 015.
    assert.equal(indexes.has('jobs_unfinished_key_idx'), DIALECT !== 'sqlite');
    await b.db.migrate.latest({ migrationSource, schemaName });
    indexes = await jobIndexes(b.db);
    assert.deepEqual(
      ['jobs_ordering_status_id_idx', 'jobs_unfinished_key_idx', 'jobs_dead_key_idx'].map((n) => indexes.has(n)),
      [false, true, true],
    );
  } finally {
    await b.close();
  }
});
