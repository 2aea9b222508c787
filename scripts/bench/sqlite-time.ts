import { createRequire } from 'node:module';
import { CLAIM_HEAD } from '../../app/store/jobs.ts';
import type { SqliteTime } from './protocol.ts';

type Run = (this: { source: string }, ...args: unknown[]) => unknown;
interface StatementProto {
  run: Run;
  get: Run;
  all: Run;
}
type Database = new (filename: string) => { prepare(sql: string): object; close(): void };

/**
 * sqlite's own time in this process: the time spent inside better-sqlite3's calls that run a
 * statement (`run`, `get`, `all`). They are synchronous, so this is time the event loop spent in
 * the SQL engine: executing, and at a COMMIT or a statement outside a transaction, writing its
 * pages to the WAL (and every 1,000 pages the checkpoint, https://www.sqlite.org/wal.html,
 * "Automatic Checkpoint"). Split into the outbox's claims (one statement, its own commit
 * included), COMMITs, and the rest. Wraps the methods of better-sqlite3's statement prototype,
 * which every statement of every connection shares; two clock reads per statement. Calls for
 * which `skip` says true (the bench's own seeding and counting) are not counted.
 */
export function timeSqlite(skip: () => boolean): () => SqliteTime {
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as Database;
  const probe = new Sqlite(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as StatementProto;
  probe.close();
  const spent: SqliteTime = { totalMs: 0, claimsMs: 0, commitsMs: 0 };
  for (const method of ['run', 'get', 'all'] as const) {
    const original = proto[method];
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      if (skip()) return original.apply(this, args);
      const start = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        spent.totalMs += ms;
        if (this.source.startsWith('COMMIT')) spent.commitsMs += ms;
        else if (this.source.startsWith(CLAIM_HEAD)) spent.claimsMs += ms;
      }
    };
  }
  return () => ({ ...spent });
}
