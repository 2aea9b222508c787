import { createHash } from 'node:crypto';
import pg from 'pg';
import { isPg, type Db } from './db.ts';

/**
 * A lock that at most one process holds: a PostgreSQL session advisory lock on a dedicated
 * connection outside the knex pool (so closing the pool never waits on it); the server
 * releases the lock when that connection or the process dies. On sqlite the deployment is
 * one process, so it always holds.
 */
export interface LeaderLock {
  tryAcquire(): Promise<boolean>;
  /** False once the connection holding the lock is gone. */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

export function createLeaderLock(db: Db, name: string, schema: string | undefined): LeaderLock {
  if (!isPg(db)) {
    return { tryAcquire: async () => true, stillHeld: async () => true, release: async () => {} };
  }
  // Advisory locks are per database: the key includes the schema so deployments (and test
  // runs) sharing a database in different schemas do not elect each other.
  const key = createHash('sha256')
    .update(`${schema ?? 'public'}:${name}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
  let conn: pg.Client | null = null;
  const drop = async () => {
    const c = conn;
    conn = null;
    await c?.end().catch(() => {});
  };
  return {
    async tryAcquire() {
      if (conn) return true;
      const c = new pg.Client(db.client.config.connection as pg.ClientConfig | string);
      c.on('error', () => {}); // a dropped connection is noticed by stillHeld()
      try {
        await c.connect();
        const r = await c.query('select pg_try_advisory_lock($1::bigint) as ok', [key]);
        if (r.rows[0]?.ok === true) {
          conn = c;
          return true;
        }
      } catch {
        // not acquired (the database is unreachable or the lock is taken)
      }
      await c.end().catch(() => {});
      return false;
    },
    async stillHeld() {
      if (!conn) return false;
      try {
        await conn.query('select 1');
        return true;
      } catch {
        await drop();
        return false;
      }
    },
    async release() {
      if (!conn) return;
      await conn.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => {});
      await drop();
    },
  };
}
