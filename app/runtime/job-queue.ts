import { EventEmitter } from 'node:events';
import type { Config } from '../ground/config.ts';
import { JOB_KINDS } from '../ground/job-kinds.ts';
import type { Tx } from '../store/db.ts';
import { insertJob, insertJobs, type NewJob } from '../store/jobs.ts';

/**
 * The writing half of the outbox: what the domain and the flows need to queue work (a row in
 * the caller's transaction, then a nudge). It knows no handler, so it can be built before the
 * job table, and the worker (Outbox) after it, with its complete table.
 */
export class JobQueue extends EventEmitter<{ kick: [] }> {
  constructor(private readonly cfg: Pick<Config['worker'], 'maxAttempts'>) {
    super();
  }

  /** Writes a job inside the caller's transaction. Call `kick()` after the commit. */
  async enqueue(tx: Tx, job: Omit<NewJob, 'maxAttempts'> & { maxAttempts?: number }): Promise<number | null> {
    if (!JOB_KINDS.has(job.kind)) throw new Error(`no handler registered for job kind ${job.kind}`);
    return insertJob(tx, { maxAttempts: this.cfg.maxAttempts, ...job }, Date.now());
  }

  /** Writes several jobs inside the caller's transaction in one statement, in list order. Call `kick()` after the commit. */
  async enqueueMany(tx: Tx, jobs: ReadonlyArray<Omit<NewJob, 'maxAttempts'> & { maxAttempts?: number }>): Promise<Array<number | null>> {
    for (const job of jobs) if (!JOB_KINDS.has(job.kind)) throw new Error(`no handler registered for job kind ${job.kind}`);
    return insertJobs(
      tx,
      jobs.map((job) => ({ maxAttempts: this.cfg.maxAttempts, ...job })),
      Date.now(),
    );
  }

  /** Tells the worker there may be work now (saves waiting for the next poll). */
  kick(): void {
    this.emit('kick');
  }
}
