import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config.ts';
import { migrationSource } from '../../db/migrations/index.ts';

export type Db = Knex;
export type Tx = Knex | Knex.Transaction;

// int8 columns (our millisecond timestamps and bigint ids) come back from pg as strings by
// default; every value we store fits in a double, so parse them as numbers once, globally.
pg.types.setTypeParser(20, (v) => Number(v));

export function isPg(db: Tx): boolean {
  return db.client.config.client === 'pg';
}

export function createDb(database: Config['database']): Db {
  if (database.client === 'pg') {
    return knex({
      client: 'pg',
      connection: database.url,
      searchPath: database.schema ? [database.schema] : undefined,
      pool: { min: 0, max: 10 },
    } as Knex.Config);
  }
  if (database.filename !== ':memory:') mkdirSync(dirname(database.filename), { recursive: true });
  return knex({
    client: 'better-sqlite3',
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
export async function migrate(db: Db, schema?: string): Promise<void> {
  if (!isPg(db)) {
    await db.migrate.latest({ migrationSource });
    return;
  }
  await db.transaction(async (lock) => {
    await lock.raw('select pg_advisory_xact_lock(hashtext(?))', [`pd-bridge:migrate:${schema ?? ''}`]);
    if (schema) await db.raw('create schema if not exists ??', [schema]);
    await db.migrate.latest({ migrationSource, schemaName: schema });
  });
}
