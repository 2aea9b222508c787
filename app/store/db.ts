import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { migrationSource } from '../../db/migrations/index.ts';

export type Db = Knex;
export type Tx = Knex | Knex.Transaction;

// int8 columns (our millisecond timestamps and bigint ids) come back from pg as strings by
// default; every value we store fits in a double, so parse them as numbers once, globally.
pg.types.setTypeParser(20, (v) => Number(v));

export function isPg(db: Tx): boolean {
  return db.client.config.client === 'pg';
}

/**
 * knex's own warnings go to our log as one line each; a failed connection attempt (knex
 * prints it with a stack) is only debug: the caller retries it and reports the outcome.
 */
function knexLog(log?: Pick<Logger, 'warn' | 'debug'>): Knex.Config['log'] {
  const line = (m: unknown) => String((m as Error)?.message ?? m).split('\n')[0] ?? '';
  return {
    warn: (m) => (line(m).startsWith('Acquire connection error') ? log?.debug({ knex: line(m) }, 'database connection attempt failed') : log?.warn({ knex: line(m) }, 'knex warning')),
    error: (m) => log?.warn({ knex: line(m) }, 'knex error'),
    deprecate: (method, alternative) => log?.debug({ method, alternative }, 'knex deprecation'),
    debug: () => {},
  };
}

export function createDb(database: Config['database'], log?: Pick<Logger, 'warn' | 'debug'>): Db {
  if (database.client === 'pg') {
    return knex({
      client: 'pg',
      log: knexLog(log),
      connection: database.url,
      searchPath: database.schema ? [database.schema] : undefined,
      pool: { min: 0, max: 10 },
    } as Knex.Config);
  }
  if (database.filename !== ':memory:') mkdirSync(dirname(database.filename), { recursive: true });
  return knex({
    client: 'better-sqlite3',
    log: knexLog(log),
    connection: { filename: database.filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('foreign_keys = ON');
          conn.pragma('synchronous = NORMAL');
          cacheStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

interface SqliteConnection {
  pragma(s: string): unknown;
  prepare(sql: string): unknown;
}

const STATEMENT_CACHE_SIZE = 200;

/**
 * knex prepares every query anew, and on better-sqlite3 compiling a statement costs about
 * as much as running it (npm run bench: ~1.1 of 2.5 ms of SQL per webhook). Statements are
 * reusable once they return (all/run never leave one busy), so the connection keeps the
 * most recently used ones by SQL text; the bindings vary, the text rarely does.
 */
function cacheStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, unknown>();
  conn.prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (statement) {
      cache.delete(sql);
    } else {
      statement = prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, statement);
    return statement;
  };
}

/**
 * Applies the migrations. On PostgreSQL several processes may start at once: "create schema if
 * not exists" races on the catalog and knex's migration lock makes the loser throw, so the
 * whole step runs under a transaction-scoped advisory lock (held on one pool connection while
 * knex migrates on others): one process migrates, the others wait and then find nothing to do.
 */
export async function migrate(db: Db, schema?: string): Promise<string[]> {
  if (!isPg(db)) {
    const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  }
  return db.transaction(async (lock) => {
    await lock.raw('select pg_advisory_xact_lock(hashtext(?))', [`pd-bridge:migrate:${schema ?? ''}`]);
    if (schema) await db.raw('create schema if not exists ??', [schema]);
    const [, applied] = (await db.migrate.latest({ migrationSource, schemaName: schema })) as [number, string[]];
    return applied;
  });
}

/** Every migration this build knows, in order (for the start-up log line). */
export async function knownMigrations(): Promise<string[]> {
  return migrationSource.getMigrations([]);
}

/**
 * Connection failures worth waiting out at start: the server is not up yet (a compose stack,
 * a reboot), still starting (57P03) or full (53300). A wrong password, role or database name
 * will not fix itself, so those fail at once.
 */
export function isTransientConnectError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', '57P03', '53300'].includes(code);
}

/**
 * Waits until the database answers, retrying transient connection failures with a capped
 * backoff until `timeoutMs` has passed; then (or on any other error) throws the last error.
 */
export async function waitForDatabase(db: Db, timeoutMs: number, onRetry: (err: unknown, elapsedMs: number) => void): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await db.raw('select 1');
      return;
    } catch (err) {
      const elapsed = Date.now() - started;
      if (!isTransientConnectError(err) || elapsed >= timeoutMs) throw err;
      onRetry(err, elapsed);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000, Math.max(timeoutMs - elapsed, 0))));
    }
  }
}
