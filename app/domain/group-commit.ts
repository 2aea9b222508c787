import { isDatabaseUnavailable, type Db, type Tx } from '../store/db.ts';

/** How concurrent inbound events are grouped into one transaction (INGEST_BATCH_*). */
export interface GroupCommitOptions {
  /** Most events written in one transaction; 1 turns grouping off (one transaction per event). */
  readonly maxEvents: number;
  /** Longest an event waits for others before its batch is written, when the writer is idle. */
  readonly maxWaitMs: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { maxEvents: 64, maxWaitMs: 2 };

interface Member<I, R> {
  input: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: concurrent calls of `write` join a short batch that runs in ONE transaction
 * (one commit, one fsync on sqlite), each member's statements in arrival order, exactly as the
 * same calls would run one after the other. A caller's promise settles only after the
 * transaction holding its write committed (or for good failed):
 *
 * - Batches run one at a time, in arrival order; what arrives while a batch is being written
 *   forms the next one. So writes commit in the order they were submitted (per conversation
 *   order included), and a later write sees every earlier one (a redelivery in the same batch is
 *   a duplicate, as it would be sequentially).
 * - When a batch's transaction fails, nothing of it was stored: each member is then written
 *   again in its own transaction, in the same order, so one bad event fails only its own caller
 *   (unless the database itself is unavailable: then every member fails at once).
 * - `write` may be run more than once for one input (a batch retried, a busy sqlite transaction
 *   re-run): it must do nothing outside the transaction it is given. `settled` runs once per
 *   committed transaction with the results it holds, before their callers hear of them.
 */
export class GroupCommit<I, R> {
  private queue: Array<Member<I, R>> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly write: (tx: Tx, input: I) => Promise<R>,
    private readonly settled: (results: ReadonlyArray<{ input: I; result: R }>) => void,
    private readonly opts: GroupCommitOptions = DEFAULT_GROUP_COMMIT,
  ) {}

  submit(input: I): Promise<R> {
    if (this.opts.maxEvents <= 1) return this.alone(input);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      // A running batch picks the queue up when it ends (those events have waited already).
      if (this.running) return;
      if (this.queue.length >= this.opts.maxEvents) this.start();
      else this.timer ??= setTimeout(() => this.start(), this.opts.maxWaitMs);
    });
  }

  /** Resolves when every submitted write has settled (used at shutdown, before the database closes). */
  async drain(): Promise<void> {
    while (this.running || this.queue.length) {
      if (!this.running) this.start();
      await this.running;
    }
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || !this.queue.length) return;
    this.running = this.pump().finally(() => {
      this.running = undefined;
      // Events submitted between the pump's last look and now (they saw it running) go at once.
      if (this.queue.length) this.start();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.opts.maxEvents);
      await this.runBatch(batch);
    }
  }

  private async runBatch(batch: Array<Member<I, R>>): Promise<void> {
    let results: R[];
    try {
      results = await this.db.transaction(async (tx) => {
        // Fresh on every run: a busy sqlite transaction is re-run from its start.
        const out: R[] = [];
        for (const m of batch) out.push(await this.write(tx, m.input));
        return out;
      });
    } catch (err) {
      // Nothing of the batch is stored. Alone, or with the database itself unavailable, its
      // members fail as they are (their callers answer 5xx and the platform delivers again);
      // otherwise one of them may be the cause: each on its own, in arrival order.
      if (batch.length === 1 || isDatabaseUnavailable(err)) {
        for (const m of batch) m.reject(err);
        return;
      }
      for (const m of batch) await this.alone(m.input).then(m.resolve, m.reject);
      return;
    }
    this.settle(batch.map((m, i) => ({ member: m, result: results[i] as R })));
  }

  private async alone(input: I): Promise<R> {
    const result = await this.db.transaction((tx) => this.write(tx, input));
    this.observe([{ input, result }]);
    return result;
  }

  private settle(done: Array<{ member: Member<I, R>; result: R }>): void {
    this.observe(done.map((d) => ({ input: d.member.input, result: d.result })));
    for (const d of done) d.member.resolve(d.result);
  }

  /** Stored is stored: an observer that throws must not turn a committed write into a failure. */
  private observe(results: ReadonlyArray<{ input: I; result: R }>): void {
    try {
      this.settled(results);
    } catch {
      // The observers are wake-ups and counters; the worker's poll and the live views' poll cover a missed one.
    }
  }
}
