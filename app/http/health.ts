import type { Context } from 'koa';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../ground/log.ts';
import type { FileStore } from '../ground/file-store.ts';
import type { OutboxGauges } from '../ground/metrics.ts';
import { buildInfo } from '../ground/version.ts';

/** A check that has not answered by then counts as failed: a locked database must not hang the probe. */
const CHECK_DEADLINE_MS = 3000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_DEADLINE_MS} ms`)), CHECK_DEADLINE_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * GET /healthz proves the process can do its job, not just that it runs: a real write to the
 * database (a row rewritten) and to the upload staging folder (a file written and removed),
 * plus the age of the oldest unfinished outbox job for the operator's alerting. Any failed
 * write → 503. The reasons are fixed words; the errors themselves go to the log.
 */
export function healthz(deps: {
  /** A real write to the database (one row rewritten). */
  probeDatabase(): Promise<void>;
  outboxGauges(): Promise<OutboxGauges>;
  files: FileStore;
  log: Logger;
}) {
  const probeFile = join(deps.files.stagingDir, `.healthz-${process.pid}`);
  const check = async (name: string, run: () => Promise<unknown>): Promise<'ok' | 'failed'> => {
    try {
      await within(Promise.resolve().then(run), name);
      return 'ok';
    } catch (err) {
      deps.log.warn({ check: name, reason: err instanceof Error ? err.message : String(err) }, 'health check failed');
      return 'failed';
    }
  };
  const { version, revision } = buildInfo();
  return async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    // One after the other: a sqlite driver waiting on a lock blocks the event loop, which would
    // make a check running alongside it miss its deadline too.
    const database = await check('database write', () => deps.probeDatabase());
    const files = await check('files write', async () => {
      await writeFile(probeFile, 'ok');
      await rm(probeFile, { force: true });
    });
    const outbox = await within(deps.outboxGauges(), 'outbox').then(
      (g) => ({ oldest_pending_age_seconds: Math.round(g.oldestPendingAgeMs / 1000) }),
      () => null,
    );
    const ok = database === 'ok' && files === 'ok';
    ctx.status = ok ? 200 : 503;
    ctx.body = { ok, version, revision, checks: { database, files }, outbox };
  };
}
