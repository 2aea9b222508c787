import { EventEmitter } from 'node:events';
import type { Config } from '../ground/config.ts';
import { JOB_KINDS } from '../ground/job-kinds.ts';
import type { Tx } from '../store/db.ts';
import { insertJob, insertJobs, type NewJob } from '../store/jobs.ts';

/** A job to queue; without `maxAttempts`, the configured number. */
export type JobSpec = Omit<NewJob, 'maxAttempts'> & { maxAttempts?: number };

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
  async enqueue(tx: Tx, job: JobSpec): Promise<number | null> {
    return insertJob(tx, this.row(job), Date.now());
  }

  /** Writes several jobs inside the caller's transaction in one statement, in list order. Call `kick()` after the commit. */
  async enqueueMany(tx: Tx, jobs: readonly JobSpec[]): Promise<Array<number | null>> {
    return insertJobs(
      tx,
      jobs.map((job) => this.row(job)),
      Date.now(),
    );
  }

  /** The row a job is queued as (a known kind, the configured attempts unless it says), for a store write that queues it with other rows (storeInboundBatch). Call `kick()` after the commit. */
  row(job: JobSpec): NewJob {
    if (!JOB_KINDS.has(job.kind)) throw new Error(`no handler registered for job kind ${job.kind}`);
    return { maxAttempts: this.cfg.maxAttempts, ...job };
  }

  /** Tells the worker there may be work now (saves waiting for the next poll). */
  kick(): void {
    this.emit('kick');
  }
}
