import type { Logger } from '../log.ts';
import type { Db } from '../store/db.ts';
import { purgeEventKeys } from '../store/events.ts';
import { purgeJobs } from '../store/jobs.ts';
import type { SingletonTask } from './singletons.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Retention, run by the leader: finished jobs after 7 days, dead letters after 30, inbound
 * event keys after 48 hours (Alvaria retries callbacks for up to 4 hours and Airy redelivers
 * within minutes; two days leaves a wide margin).
 */
export const RETENTION = { doneJobsMs: 7 * DAY, deadJobsMs: 30 * DAY, eventKeysMs: 2 * DAY, everyMs: HOUR } as const;

export async function sweep(db: Db, now = Date.now()): Promise<{ jobs: number; eventKeys: number }> {
  const jobs = await purgeJobs(db, { doneBefore: now - RETENTION.doneJobsMs, deadBefore: now - RETENTION.deadJobsMs });
  const eventKeys = await purgeEventKeys(db, now - RETENTION.eventKeysMs);
  return { jobs, eventKeys };
}

export function retentionTask(db: Db, log: Logger): SingletonTask {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = sweep(db).then(
      (r) => {
        if (r.jobs || r.eventKeys) log.info(r, 'retention sweep');
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
