import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Config } from '../ground/config.ts';
import type { Logger } from '../ground/log.ts';
import type { Db, Tx } from '../store/db.ts';
import { claimJobs, finishJob, finishJobsDone, insertJob, type Job, type NewJob } from '../store/jobs.ts';
import { backoffDelay } from './backoff.ts';
import { jobOutcome, PermanentError } from '../ground/failures.ts';

/** What the worker gives a running attempt besides its payload. */
export interface JobContext {
  /**
   * Aborted when the job's lease runs out: the job may be re-claimed by then, so the attempt
   * must stop. Pass it to outbound calls (axios `signal`, fetch) so they end with it.
   */
  signal: AbortSignal;
}

export interface JobHandler<P = unknown> {
  /**
   * Does the work. What a throw means is the failure table's (app/ground/failures.ts):
   * DeferError waits without spending an attempt, PermanentError goes to the dead letters,
   * anything else is retried with backoff.
   */
  run(payload: P, job: Job, ctx: JobContext): Promise<void>;
  /** Runs in the same transaction that marks the job dead (e.g. mark the message failed). */
  onDead?(payload: P, reason: string, tx: Tx, job: Job): Promise<void>;
  /**
   * Called with the jobs of this kind one claim took, just before their attempts start: a
   * handler may read what they all need in one statement instead of one each (their `run`s
   * follow at once). It must not fail the jobs: a failure here is logged and each `run` reads
   * for itself.
   */
  prefetch?(jobs: readonly Job[]): Promise<void>;
}

export type JobHandlers = Record<string, JobHandler<any>>;

export interface OutboxEvents {
  done: [Job];
  retry: [Job, string];
  dead: [Job, string];
  lost: [Job];
  /** An attempt ran past its lease and was aborted (then retried or dead-lettered as usual). */
  expired: [Job];
}

/** An attempt outlived its lease: counted as a failed attempt, so a host that never answers ends in the dead letters. */
export class LeaseExpiredError extends Error {
  constructor(leaseMs: number) {
    super(`the attempt ran past its ${Math.round(leaseMs / 1000)} s lease and was aborted`);
    this.name = 'LeaseExpiredError';
  }
}

type WorkerConfig = Config['worker'];

/**
 * After a claim that found less work than it had slots for, a nudge from a new job (`kick()`)
 * claims no sooner than this after it. Under a stream of webhooks every commit nudges, and most
 * of those claims found nothing (the tenant already had its share in flight): they cost a
 * statement each. A slot freed by a finished job claims at once, and an idle worker claims at
 * once; only a worker that claimed within the last few ms waits up to this long.
 */
export const CLAIM_GAP_MS = 20;

/**
 * Slots given back while other jobs are still in flight are claimed for together: at once when
 * this many have come free since the last claim (or half the worker's slots, if fewer), else
 * `WORKER_CLAIM_BATCH_MS` after the first of them. Each answer used to free a slot that claimed
 * at once, and with a company at its share of the slots most claims took one job (a third of
 * them in the webhook bench), each a statement that walks the company's due backlog (~0.8 ms of
 * sqlite time under one). A worker with nothing in flight claims at once.
 */
export const CLAIM_BATCH = 4;

/** Most jobs one finish statement marks done (bounds its bindings). */
const DONE_BATCH_MAX = 200;

/**
 * The durable outbox: jobs are rows written in the same transaction as the domain change
 * (`enqueue(tx, …)`), and a bounded loop per process claims and runs them. Delivery is at
 * least once; handlers make their outside calls idempotent with our stable ids.
 */
export class Outbox extends EventEmitter<OutboxEvents> {
  readonly workerId = `w-${process.pid}-${randomUUID().slice(0, 8)}`;
  private claims = 0;
  private running = false;
  private inflight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  /** Jobs claimed and not yet given back (a done job is given back when its finish committed). */
  private active = 0;
  /** Signals since the loop last looked: a new job may exist (kicked), slots were given back (how many: CLAIM_BATCH). */
  private kicked = false;
  private freedSince = 0;
  private lastClaimAt = 0;
  /** Jobs whose attempt succeeded, waiting to be marked done together (flushDone). */
  private doneQueue: Array<{ job: Job; settled: () => void }> = [];
  private flushing = false;
  /**
   * Kinds of job a tenant is held back from, and until when (keyed `tenant kind`): set when a
   * job of theirs deferred with a shared wait (DeferError.shared: a Pipedrive rate window, a
   * spent budget, an open circuit) or failed with one (RetryableError.shared with a Retry-After:
   * a Pipedrive 429). Claims pass those jobs over until then. Without this, every
   * queued conversation of a rate-limited tenant was claimed, read and deferred in turn, again
   * after every wait: in a storm of 429s, ~6 claim-and-defer rounds per message delivered.
   * In this process only: another process learns the same from its own first deferral.
   */
  private readonly holds = new Map<string, { tenant: string; kind: string; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly cfg: WorkerConfig,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Writes a job inside the caller's transaction. Call `kick()` after the commit. */
  async enqueue(tx: Tx, job: Omit<NewJob, 'maxAttempts'> & { maxAttempts?: number }): Promise<number | null> {
    if (!this.handlers[job.kind]) throw new Error(`no handler registered for job kind ${job.kind}`);
    return insertJob(tx, { maxAttempts: this.cfg.maxAttempts, ...job }, Date.now());
  }

  /** Tells the local loop there may be work now (saves waiting for the next poll). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** `n` local slots were given back: claim for them (nextSignal says when). */
  private slotFreed(n: number): void {
    this.freedSince += n;
    this.wake?.();
  }

  start(): void {
    if (this.running || this.cfg.concurrency === 0) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming and waits up to `graceMs` for running jobs; unfinished ones are re-claimed after their lease. */
  async stop(graceMs = 5000): Promise<void> {
    this.running = false;
    this.kick();
    await this.loopDone;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      this.freedSince = 0;
      let claimed = 0;
      const free = this.cfg.concurrency - this.active;
      if (free > 0) {
        try {
          // A token per claim, so an attempt that outlived its lease cannot finish the re-claimed run.
          const token = `${this.workerId}:${++this.claims}`;
          this.lastClaimAt = Date.now();
          const jobs = await claimJobs(this.db, token, free, this.lastClaimAt, this.cfg.leaseMs, this.cfg.tenantConcurrency, this.heldAt(this.lastClaimAt));
          claimed = jobs.length;
          this.active += claimed;
          await this.prefetch(jobs);
          for (const job of jobs) {
            const p = this.execute(job)
              .catch(() => false)
              .then((givenBack) => {
                this.inflight.delete(p);
                // A done job's slot was given back by the finish before the loop's claim.
                if (givenBack) return;
                this.active--;
                this.slotFreed(1);
              });
            this.inflight.add(p);
          }
        } catch (err) {
          this.log.warn({ err: String(err) }, 'outbox claim failed; retrying after the poll interval');
        }
      }
      if (claimed > 0 && claimed === free) continue;
      await this.nextSignal();
    }
  }

  /**
   * Waits for a reason to claim again: local slots given back (at once when the worker is idle
   * or CLAIM_BATCH of them came free, else claimBatchMs after the first), a new job (at once,
   * or CLAIM_GAP_MS after the last claim, which found no more work), the poll interval (work
   * that became due, leases that expired, other processes' finishes), or stop().
   */
  private nextSignal(): Promise<void> {
    return new Promise<void>((resolve) => {
      let gapTimer: NodeJS.Timeout | undefined;
      let batchTimer: NodeJS.Timeout | undefined;
      const go = () => {
        clearTimeout(timer);
        clearTimeout(gapTimer);
        clearTimeout(batchTimer);
        this.wake = undefined;
        resolve();
      };
      const check = () => {
        if (!this.running) return go();
        if (this.freedSince > 0) {
          if (this.active === 0 || this.cfg.claimBatchMs === 0 || this.freedSince >= Math.min(CLAIM_BATCH, Math.ceil(this.cfg.concurrency / 2))) return go();
          batchTimer ??= setTimeout(go, this.cfg.claimBatchMs);
        }
        if (!this.kicked || gapTimer || this.active >= this.cfg.concurrency) return;
        const wait = this.lastClaimAt + CLAIM_GAP_MS - Date.now();
        if (wait <= 0) return go();
        gapTimer = setTimeout(go, wait);
      };
      // A hold that ends before the next poll: claim for its jobs then, not up to a poll later.
      const timer = setTimeout(go, Math.max(1, Math.min(this.cfg.pollMs, this.nextHoldEnd() - Date.now())));
      this.wake = check;
      // Signals that came while the last claim ran count now.
      check();
    });
  }

  /** The holds still in force at `now` (the ended ones dropped). */
  private heldAt(now: number): Array<{ tenant: string; kind: string }> {
    const held: Array<{ tenant: string; kind: string }> = [];
    for (const [key, h] of this.holds) {
      if (h.until <= now) this.holds.delete(key);
      else held.push({ tenant: h.tenant, kind: h.kind });
    }
    return held;
  }

  private nextHoldEnd(): number {
    let end = Infinity;
    for (const h of this.holds.values()) end = Math.min(end, h.until);
    return end;
  }

  private hold(job: Job, until: number): void {
    // A job of no known tenant ('': its channel was gone when it was queued) shares nothing with
    // the other such jobs, which may be anyone's: it waits alone.
    if (!job.tenant) return;
    const key = `${job.tenant} ${job.kind}`;
    const h = this.holds.get(key);
    if (!h || h.until < until) this.holds.set(key, { tenant: job.tenant, kind: job.kind, until });
  }

  /** Lets each kind's handler read ahead for the jobs of this claim (JobHandler.prefetch). */
  private async prefetch(jobs: readonly Job[]): Promise<void> {
    const byKind = new Map<string, Job[]>();
    for (const job of jobs) {
      if (!this.handlers[job.kind]?.prefetch) continue;
      const list = byKind.get(job.kind);
      if (list) list.push(job);
      else byKind.set(job.kind, [job]);
    }
    for (const [kind, list] of byKind) {
      try {
        await this.handlers[kind]!.prefetch!(list);
      } catch (err) {
        this.log.warn({ kind, jobs: list.length, err: String(err) }, 'reading ahead for claimed jobs failed; each reads for itself');
      }
    }
  }

  /** Runs one attempt and records its outcome; true when the slot was given back with a batched finish (markDone). */
  private async execute(job: Job): Promise<boolean> {
    const handler = this.handlers[job.kind];
    // The lease bounds the attempt: when it runs out the signal aborts and the slot is given
    // back even if the handler ignores the signal (its late result is dropped; the finish
    // below only lands if this claim still holds the job).
    const lease = new AbortController();
    const expired = new Promise<never>((_, reject) => {
      lease.signal.addEventListener('abort', () => reject(new LeaseExpiredError(this.cfg.leaseMs)), { once: true });
    });
    expired.catch(() => {});
    const timer = setTimeout(() => lease.abort(new LeaseExpiredError(this.cfg.leaseMs)), Math.max(0, (job.lockedUntil ?? Date.now() + this.cfg.leaseMs) - Date.now()));
    try {
      if (!handler) throw new PermanentError(`no handler for job kind ${job.kind}`);
      await Promise.race([handler.run(job.payload, job, { signal: lease.signal }), expired]);
    } catch (err) {
      clearTimeout(timer);
      if (err instanceof LeaseExpiredError) this.emit('expired', job);
      const outcome = jobOutcome(err);
      const { reason } = outcome;
      if (outcome.kind === 'defer') {
        // The job is due again when its hold ends, so the claim at that moment finds it.
        const until = Date.now() + outcome.ms;
        if (outcome.shared) this.hold(job, until);
        await this.postpone(job, until, reason);
        return false;
      }
      if (outcome.kind === 'dead' || job.attempts >= job.maxAttempts) {
        const why = outcome.kind === 'dead' ? reason : `gave up after ${job.attempts} attempts: ${reason}`;
        await this.kill(job, handler, why);
        return false;
      }
      const delay = backoffDelay(job.attempts, { baseMs: this.cfg.backoffBaseMs, capMs: this.cfg.backoffCapMs, retryAfterMs: outcome.retryAfterMs });
      // The job itself waits at least that long (backoffDelay honours it).
      if (outcome.shared && outcome.retryAfterMs) this.hold(job, Date.now() + outcome.retryAfterMs);
      this.log.info({ job: job.id, kind: job.kind, attempt: job.attempts, delay, reason }, 'job failed; will retry');
      await this.settle(job, { status: 'pending', runAt: Date.now() + delay, error: reason }, 'retry', reason);
      return false;
    }
    clearTimeout(timer);
    await this.markDone(job);
    return true;
  }

  private async postpone(job: Job, until: number, reason: string): Promise<void> {
    await this.settle(job, { status: 'pending', runAt: until, error: reason, refundAttempt: true }, 'retry', reason);
  }

  private async kill(job: Job, handler: JobHandler | undefined, reason: string): Promise<void> {
    this.log.warn({ job: job.id, kind: job.kind, reason }, 'job dead-lettered');
    try {
      const held = await this.db.transaction(async (tx) => {
        const ok = await finishJob(tx, job.id, job.lockedBy!, { status: 'dead', error: reason }, Date.now());
        if (ok && handler?.onDead) await handler.onDead(job.payload, reason, tx, job);
        return ok;
      });
      this.emit(held ? 'dead' : 'lost', job, reason);
    } catch (err) {
      // The job stays running under our lease; when the lease ends another claim retries it.
      this.log.error({ job: job.id, err: String(err) }, 'could not dead-letter job');
    }
  }

  /**
   * A succeeded attempt joins the jobs to be marked done: those that succeed in the same turn of
   * the event loop, or while a finish statement runs, are marked done by one statement. Resolves
   * after that statement committed, so 'done' is only ever emitted for a finish that is stored;
   * the slot is held until then, like a single finish held it. A crash before the commit leaves
   * the job running under its lease, and it runs again: at least once, as before.
   */
  private markDone(job: Job): Promise<void> {
    return new Promise<void>((settled) => {
      this.doneQueue.push({ job, settled });
      // At the end of this turn of the event loop, unless a finish is under way (it takes these
      // next): attempts whose answers arrived together share one statement.
      if (this.flushing || this.doneQueue.length > 1) return;
      setImmediate(() => void this.flushDone());
    });
  }

  /** Marks the queued succeeded jobs done, a batch per statement until none is left, and gives their slots back. */
  private async flushDone(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    while (this.doneQueue.length) {
      const batch = this.doneQueue.splice(0, DONE_BATCH_MAX);
      let finished: Set<number> | undefined;
      try {
        finished = await finishJobsDone(
          this.db,
          batch.map(({ job }) => ({ id: job.id, lockedBy: job.lockedBy! })),
          Date.now(),
        );
      } catch (err) {
        // They stay running under their leases; when those end another claim runs them again.
        this.log.error({ jobs: batch.map(({ job }) => job.id), err: String(err) }, 'could not record jobs as done; their leases will expire and they run again');
      }
      this.active -= batch.length;
      for (const { job, settled } of batch) {
        try {
          if (!finished) continue;
          if (finished.has(job.id)) this.emit('done', job);
          else {
            this.log.warn({ job: job.id }, 'job lease was lost before it finished; another worker owns it');
            this.emit('lost', job);
          }
        } catch (err) {
          this.log.error({ job: job.id, err: String(err) }, 'a listener of the outbox failed');
        } finally {
          settled();
        }
      }
      // The slots are free, and so are these jobs' conversations' next jobs: claim for them.
      this.slotFreed(batch.length);
    }
    this.flushing = false;
  }

  private async settle(job: Job, outcome: Parameters<typeof finishJob>[3], event: 'done' | 'retry', reason?: string): Promise<void> {
    try {
      const held = await finishJob(this.db, job.id, job.lockedBy!, outcome, Date.now());
      if (!held) {
        this.log.warn({ job: job.id }, 'job lease was lost before it finished; another worker owns it');
        this.emit('lost', job);
      } else if (event === 'done') this.emit('done', job);
      else this.emit('retry', job, reason ?? '');
    } catch (err) {
      this.log.error({ job: job.id, err: String(err) }, 'could not record job outcome; the lease will expire and it runs again');
    }
  }
}
