import { isDatabaseUnavailable, type Db, type Tx } from '../store/db.ts';

interface Member<I, R> {
  input: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: concurrent calls of `submit` share one transaction (one commit, on sqlite one
 * WAL sync), with the results the same calls would give one after the other. There is no
 * timer: the first call starts a transaction at once, and whatever arrives while a transaction
 * is being written waits and forms the next one (at most `maxBatch`, the rest the one after).
 * Alone, an event costs what it did without grouping; under load, batches grow by themselves.
 * (A batcher that waited a few ms for company on a timer starved: on sqlite the worker's
 * promise-only loop never gave the timer its turn while it had work.)
 *
 * - One batch at a time, in arrival order: so writes commit in the order they were submitted,
 *   and `writeBatch` sees its inputs in that order (it must give them the results they would
 *   get one after the other, e.g. a redelivery in the same batch is a duplicate).
 * - The batch is taken when the transaction's callback first runs, so what arrives while the
 *   transaction waits for the connection joins it; a re-run (a busy sqlite transaction is
 *   re-run from its start) writes the same members again.
 * - A caller's promise settles only after the transaction holding its write committed. When a
 *   batch fails, nothing of it was stored: each member is written again in its own
 *   transaction, in the same order, so one bad event fails only its own caller (unless the
 *   database itself is unavailable: then every member fails at once, and retries later).
 * - `writeBatch` may run more than once for one input: it must do nothing outside the
 *   transaction it is given. `committed` runs once per committed transaction with the results
 *   it holds, before their callers hear of them.
 */
export class GroupCommit<I, R> {
  private queue: Array<Member<I, R>> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly maxBatch: number,
    private readonly writeBatch: (tx: Tx, inputs: I[]) => Promise<R[]>,
    private readonly committed: (inputs: readonly I[], results: readonly R[]) => void,
  ) {}

  submit(input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.start();
    });
  }

  /** Resolves when every write submitted so far has settled (at shutdown, before the database closes). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private start(): void {
    if (this.running) return;
    this.running = this.pump().finally(() => {
      this.running = undefined;
      // Submitted after the pump's last look at the queue (they saw it running): go now.
      if (this.queue.length) this.start();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length) await this.runBatch();
  }

  private async runBatch(): Promise<void> {
    let batch: Array<Member<I, R>> | undefined;
    let results: R[];
    try {
      results = await this.db.transaction(async (tx) => {
        if (!batch) {
          // Holding the transaction (on sqlite the only writer connection), let the event loop
          // finish serving what has already arrived: every request it carries that reaches
          // `submit` joins this batch. No fixed wait: one turn of the loop, which a flood of
          // other work on the writer cannot hold back, since that work now waits for us.
          await new Promise<void>((resolve) => setImmediate(resolve));
          batch = this.queue.splice(0, this.maxBatch);
        }
        return this.writeBatch(
          tx,
          batch.map((m) => m.input),
        );
      });
    } catch (err) {
      // Nothing of the batch is stored (or, failing before the transaction began, the batch
      // was not even taken yet: those members fail with it, unwritten).
      batch ??= this.queue.splice(0, this.maxBatch);
      if (batch.length === 1 || isDatabaseUnavailable(err)) {
        for (const m of batch) m.reject(err);
        return;
      }
      for (const m of batch) await this.alone(m);
      return;
    }
    this.settle(batch!, results);
  }

  private async alone(m: Member<I, R>): Promise<void> {
    let results: R[];
    try {
      results = await this.db.transaction((tx) => this.writeBatch(tx, [m.input]));
    } catch (err) {
      m.reject(err);
      return;
    }
    this.settle([m], results);
  }

  private settle(batch: ReadonlyArray<Member<I, R>>, results: readonly R[]): void {
    try {
      this.committed(
        batch.map((m) => m.input),
        results,
      );
    } catch {
      // Stored is stored: the observers are wake-ups and counters, whose misses the worker's
      // and the live views' polls cover; a throw must not turn a commit into a failure.
    }
    batch.forEach((m, i) => m.resolve(results[i] as R));
  }
}
