import type { Logger } from '../ground/log.ts';
import type { Db } from '../store/db.ts';
import { purgeEventKeys } from '../store/events.ts';
import { purgeJobs } from '../store/jobs.ts';
import type { FileStore } from '../store/files.ts';
import { deleteAttachments, expiredAttachments, purgeDeletedChannels, purgeParkedAlvaria } from '../store/retention.ts';
import type { SingletonTask } from './singletons.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Retention, run by the leader: finished jobs after 7 days, dead letters after 30, inbound
 * event keys after 48 hours (Alvaria retries callbacks for up to 4 hours and Airy redelivers
 * within minutes; two days leaves a wide margin).
 */
export const RETENTION = { doneJobsMs: 7 * DAY, deadJobsMs: 30 * DAY, eventKeysMs: 2 * DAY, everyMs: HOUR } as const;

/**
 * What tenants leave behind (operator settings, README "Retention"): attachment bytes after
 * `attachmentsMs` (0 keeps them), Alvaria callbacks parked for an unknown session or message
 * after `parkedMs`, and a deleted channel's conversations, messages and files after
 * `deletedGraceMs` (an uninstall deletes the installation's channels: its tokens go at once,
 * its data after the grace period).
 */
export interface DataRetention {
  files: FileStore;
  attachmentsMs: number;
  parkedMs: number;
  deletedGraceMs: number;
}

/** Rows handled per statement, so a sweep never holds the write lock for long. */
const BATCH = 500;

export async function sweep(db: Db, now = Date.now(), data?: DataRetention): Promise<{ jobs: number; eventKeys: number; attachments: number; parked: number; channels: number }> {
  const jobs = await purgeJobs(db, { doneBefore: now - RETENTION.doneJobsMs, deadBefore: now - RETENTION.deadJobsMs });
  const eventKeys = await purgeEventKeys(db, now - RETENTION.eventKeysMs);
  const out = { jobs, eventKeys, attachments: 0, parked: 0, channels: 0 };
  if (!data) return out;
  out.parked = await purgeParkedAlvaria(db, now - data.parkedMs);
  for (;;) {
    const purged = await purgeDeletedChannels(db, now - data.deletedGraceMs, BATCH);
    // Rows first, bytes after: a crash in between leaves orphan bytes, never a row without its file.
    for (const key of purged.storageKeys) await data.files.remove(key);
    out.channels += purged.channels;
    if (purged.channels < BATCH) break;
  }
  if (data.attachmentsMs > 0) {
    for (;;) {
      const expired = await expiredAttachments(db, now - data.attachmentsMs, BATCH);
      await deleteAttachments(
        db,
        expired.map((a) => a.id),
      );
      for (const a of expired) await data.files.remove(a.storageKey);
      out.attachments += expired.length;
      if (expired.length < BATCH) break;
    }
  }
  return out;
}

export function retentionTask(db: Db, log: Logger, data?: DataRetention): SingletonTask {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = sweep(db, Date.now(), data).then(
      (r) => {
        if (Object.values(r).some((n) => n > 0)) log.info(r, 'retention sweep');
      },
      (err) => log.warn({ err: String(err) }, 'retention sweep failed'),
    );
  };
  return {
    name: 'retention',
    start() {
      run();
      timer = setInterval(run, RETENTION.everyMs);
      timer.unref();
    },
    // Waits for a sweep in flight, so the pool is never destroyed under a running query.
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
