import type { Job } from '../store/jobs.ts';
import type { Db } from '../store/db.ts';
import { findMessageContext, findMessageContexts, type MessageContext } from '../store/message-context.ts';

/** At most this many contexts wait for their job's attempt (a claim takes at most WORKER_CONCURRENCY jobs). */
const MAX_WAITING = 4096;

/**
 * The message contexts of the message jobs one claim took, read in one statement
 * (JobHandler.prefetch) and handed to each job's attempt, which starts right after. Each entry is
 * keyed by the job and its claim token, so only that attempt uses it, and taken once: a retry
 * is a new claim and reads again, so it always sees the latest state. A job with no entry (no
 * prefetch ran, or it failed) reads its own.
 */
export class MessageContexts {
  private readonly waiting = new Map<string, MessageContext | null>();

  constructor(private readonly db: Db) {}

  async prefetch(jobs: readonly Job[]): Promise<void> {
    const ids = jobs.map(messageIdOf).filter((id): id is string => id !== undefined);
    if (!ids.length) return;
    const found = await findMessageContexts(this.db, ids);
    // Entries are taken by the attempts that start right after; a bound keeps a bug from growing it.
    if (this.waiting.size > MAX_WAITING) this.waiting.clear();
    for (const job of jobs) {
      const id = messageIdOf(job);
      if (id !== undefined) this.waiting.set(attemptKey(job), found.get(id) ?? null);
    }
  }

  /** The context of the job's message: read ahead for this attempt, or read now. Undefined when the message no longer exists. */
  async load(job: Job, messageId: string): Promise<MessageContext | undefined> {
    const key = attemptKey(job);
    if (!this.waiting.has(key)) return findMessageContext(this.db, messageId);
    const ahead = this.waiting.get(key);
    this.waiting.delete(key);
    return ahead ?? undefined;
  }
}

const attemptKey = (job: Job) => `${job.id}:${job.lockedBy ?? ''}`;

function messageIdOf(job: Job): string | undefined {
  const id = (job.payload as { messageId?: unknown } | null)?.messageId;
  return typeof id === 'string' ? id : undefined;
}
