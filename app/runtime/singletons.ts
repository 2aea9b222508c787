import { EventEmitter } from 'node:events';
import type { Logger } from '../ground/log.ts';
import type { LeaderLock } from '../store/leader.ts';

/** Work that must run in exactly one process (a WebSocket subscriber, sweepers). */
export interface SingletonTask {
  name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/**
 * Runs the tasks while this process holds the leader lock, checking every `intervalMs`.
 * When the leader dies its lock is released by the database and the next check in
 * another process takes over.
 */
export class Singletons extends EventEmitter<{ elected: []; demoted: [] }> {
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly lock: LeaderLock,
    private readonly tasks: SingletonTask[],
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {
    super();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    const tick = () => {
      this.ticking = this.check().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    if (this.leader) await this.demote();
    await this.lock.release();
  }

  private async check(): Promise<void> {
    try {
      if (!this.leader) {
        if (await this.lock.tryAcquire()) {
          this.leader = true;
          this.log.info('elected leader: starting singleton tasks');
          for (const t of this.tasks) await this.guard(t, 'start');
          this.emit('elected');
        }
      } else if (!(await this.lock.stillHeld())) {
        this.log.warn('lost the leader lock: stopping singleton tasks');
        await this.demote();
      }
    } catch (err) {
      this.log.warn({ err: String(err) }, 'leader check failed');
    }
  }

  private async demote(): Promise<void> {
    this.leader = false;
    for (const t of this.tasks) await this.guard(t, 'stop');
    this.emit('demoted');
  }

  private async guard(t: SingletonTask, what: 'start' | 'stop'): Promise<void> {
    try {
      await t[what]();
    } catch (err) {
      this.log.error({ task: t.name, err: String(err) }, `singleton ${what} failed`);
    }
  }
}
