import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../ground/config.ts';
import type { Logger } from '../ground/log.ts';
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
  // One connection writes (sqlite serialises writers anyway, and a deferred transaction cannot
  // upgrade its read lock while another connection writes); a small pool reads.
  const writer = sqliteKnex(database.filename, 1, false, log);
  if (database.filename === ':memory:') return writer;
  waitForLockAsync(writer);
  routeReads(writer, sqliteKnex(database.filename, READ_CONNECTIONS, true, log));
  return writer;
}

/** How long a write keeps trying for a lock another process holds before the caller gets "busy" (503). */
const WRITE_LOCK_WAIT_MS = 5000;
/** better-sqlite3 waits for a lock synchronously, stalling the whole event loop: keep each wait short. */
const WRITER_BUSY_TIMEOUT_MS = 50;

/**
 * better-sqlite3 is synchronous: with busy_timeout=5000 a write waiting for another process's
 * lock froze the process for 5 s (every request, every read). The writer waits at most
 * WRITER_BUSY_TIMEOUT_MS per try, and the waiting between tries happens here, asynchronously,
 * for autocommit statements and whole transactions (re-run from the start: their callbacks
 * only touch the database, and a failed try committed nothing). After WRITE_LOCK_WAIT_MS the
 * busy error reaches the caller (HTTP: 503 + Retry-After).
 */
function waitForLockAsync(writer: Knex): void {
  const client = writer.client as { runner(builder: unknown): { run(): Promise<unknown> } };
  const runner = client.runner.bind(client);
  client.runner = (builder: unknown) => {
    const first = runner(builder);
    const run = first.run.bind(first);
    first.run = () => retryWhileBusy(run, () => runner(builder).run());
    return first;
  };
  const context = (writer as unknown as { context: unknown }).context as { transaction(container: unknown, config?: unknown): Promise<unknown> };
  const transaction = context.transaction.bind(context);
  context.transaction = (container: unknown, config?: unknown) => {
    if (typeof container !== 'function') return transaction(container, config);
    return retryWhileBusy(() => transaction(container, config));
  };
}

async function retryWhileBusy<T>(first: () => Promise<T>, again: () => Promise<T> = first): Promise<T> {
  const deadline = Date.now() + WRITE_LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await (attempt === 0 ? first() : again());
    } catch (err) {
      if (!isSqliteBusy(err) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 40)));
    }
  }
}

const isSqliteBusy = (err: unknown) => /^SQLITE_BUSY/.test(String((err as { code?: unknown } | null)?.code ?? ''));

/** Read connections per process on sqlite. */
const READ_CONNECTIONS = 4;
/** How much of the database file each read connection maps (address space, not memory: the OS page cache backs it). */
const READ_MMAP_BYTES = 1024 * 1024 * 1024;

function sqliteKnex(filename: string, connections: number, readOnly: boolean, log?: Pick<Logger, 'warn' | 'debug'>): Knex {
  return knex({
    client: 'better-sqlite3',
    log: knexLog(log),
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: readOnly ? 0 : 1,
      max: connections,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma(`busy_timeout = ${readOnly ? 5000 : WRITER_BUSY_TIMEOUT_MS}`);
          conn.pragma('foreign_keys = ON');
          conn.pragma('synchronous = NORMAL');
          // A read connection that tried to write would take the write lock behind the writer's back.
          if (readOnly) conn.pragma('query_only = ON');
          // Readers map the file (https://www.sqlite.org/mmap.html) instead of copying each page
          // they touch through read() into their own 2 MB cache: a 30×30 page visits ~900 rows
          // spread over the messages table, and with four readers cycling, most were a syscall
          // and a copy. Writes still go through write(), so a crash loses nothing it would not
          // have; the mapping only bounds how much of the file is read that way.
          if (readOnly) conn.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
          cacheStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

/** Column types of a row set passed as one JSON parameter (jsonRowSet). */
export type RowSetColumns = Readonly<Record<string, 'text' | 'bigint'>>;

/**
 * A derived table of the rows in one JSON array parameter (one `?`, bind JSON.stringify(rows)):
 * the dialect spot of the multi-row hot writes (app/store/ingest-batch.ts and insertJobs). One
 * statement text serves every batch size, so sqlite keeps one prepared statement per
 * operation (the per-connection cache below) instead of one per row count, and PostgreSQL
 * gets one parameter instead of rows × columns. sqlite reads each object's members with
 * `->>` (https://sqlite.org/json1.html#jptr), PostgreSQL with json_to_recordset
 * (https://www.postgresql.org/docs/current/functions-json.html); both yield the rows in array order.
 */
export function jsonRowSet(pg: boolean, columns: RowSetColumns): string {
  const names = Object.keys(columns);
  return pg
    ? `(select * from json_to_recordset(cast(? as json)) as r(${names.map((n) => `${n} ${columns[n]}`).join(', ')}))`
    : `(select ${names.map((n) => `value ->> '${n}' as ${n}`).join(', ')} from json_each(?))`;
}

/**
 * A row's place in its table, as a last sort key: for rows sharing every other key, the order
 * they were inserted in (PostgreSQL's ctid, sqlite's rowid; neither moves for rows that are
 * never updated, like attachments). A message's attachments are stored together and share
 * their created_at; PostgreSQL's sort is not stable, and without this it gave them back in
 * any order.
 */
export function insertionOrder(pg: boolean, alias: string): string {
  return pg ? `${alias}.ctid` : `${alias}.rowid`;
}

/** How runRows and readRows run a statement. */
export interface RawOptions {
  /**
   * On PostgreSQL, as a named prepared statement (https://node-postgres.com/features/queries,
   * "Prepared statements"): each connection parses and plans it on first use, then sends only
   * its parameters, and after five runs PostgreSQL keeps one generic plan for it when that plan
   * costs no more than planning anew (https://www.postgresql.org/docs/current/sql-prepare.html,
   * plan_cache_mode). For the statements of a getConversations page, whose planning cost as
   * much as their execution; not for a message's path, where a generic plan made while the
   * tables were small once scanned them (docs/ARCHITECTURE.md, "Group commit of inbound
   * events"). A prepared statement must name the columns it returns, never
   * `*` of a table: a migration that adds a column while a process runs would change the shape
   * of its result, and PostgreSQL refuses a cached plan whose result changes shape ("cached
   * plan must not change result type"). A statement over a JSON row set may say `*` of it: its
   * columns are declared in the statement. sqlite ignores this (every statement's compiled form
   * is kept per connection already, cacheStatements).
   */
  prepared?: boolean;
}

function rawStatement(db: Tx, sql: string, bindings: readonly Knex.Value[], opts: RawOptions | undefined): Knex.Raw {
  const raw = db.raw(sql, bindings as Knex.RawBinding[]);
  // knex hands a raw statement's options to node-postgres as part of its query config.
  if (opts?.prepared && isPg(db)) raw.options({ name: statementName(sql) });
  return raw;
}

const STATEMENT_NAMES = new Map<string, string>();

/** A name for a statement's text: the same text gets the same name in every process. */
function statementName(sql: string): string {
  let name = STATEMENT_NAMES.get(sql);
  if (name === undefined) {
    name = `p_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    // The texts are the app's own, a few hundred at most (IN lists of 1 to 101 places).
    if (STATEMENT_NAMES.size < 2000) STATEMENT_NAMES.set(sql, name);
  }
  return name;
}

/**
 * Runs one raw statement on the connection of `db` (never routed to the read pool: a write, or
 * a read that wants the writer's warm page cache) and returns the rows it returned (RETURNING
 * or a select), on either dialect.
 */
export async function runRows<T>(db: Tx, sql: string, bindings: readonly Knex.Value[], opts?: RawOptions): Promise<T[]> {
  const result = (await rawStatement(db, sql, bindings, opts)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return (result as { rows?: T[] }).rows ?? [];
}

const READ_METHODS = new Set(['select', 'first', 'pluck']);
/** Raw statements known to be plain selects (readRows): they may use the read pool like builder selects. */
const RAW_READS = new WeakSet<object>();

/**
 * Rows of one raw select, on either dialect (`?` placeholders). For the few hot reads where
 * compiling knex's query builder costs more CPU than running the statement; outside a
 * transaction it runs on the read pool on sqlite, like any builder select.
 */
export async function readRows<T>(db: Tx, sql: string, bindings: readonly Knex.Value[], opts?: RawOptions): Promise<T[]> {
  const raw = rawStatement(db, sql, bindings, opts);
  RAW_READS.add(raw);
  const result = (await raw) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * Plain reads outside a transaction run on the read pool. With one connection for everything,
 * a write waiting for the lock (another process's transaction, up to busy_timeout) held the
 * only connection and every page, admin view and health check queued behind it; in WAL mode
 * readers never wait for a writer. Outside a transaction the writer connection sees exactly
 * what a fresh read sees (the last commit), so routing changes no result. Transactions get
 * their own client (knex's makeTxClient) and keep every statement on the writer; raw SQL and
 * locking reads stay there too.
 */
function routeReads(writer: Knex, reader: Knex): void {
  const client = writer.client as { runner(builder: unknown): unknown; destroy(callback?: unknown): Promise<void> };
  const toWriter = client.runner.bind(client);
  const toReader = (reader.client as typeof client).runner.bind(reader.client);
  client.runner = (builder: { _method?: string; _single?: { lock?: unknown } }) =>
    (READ_METHODS.has(builder?._method ?? '') && !builder._single?.lock) || RAW_READS.has(builder) ? toReader(builder) : toWriter(builder);
  // knex.destroy() ends in client.destroy(): close the read pool with the writer.
  const destroy = client.destroy.bind(client);
  client.destroy = async (callback?: unknown) => {
    await reader.destroy();
    return destroy(callback);
  };
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
 * The database as a whole cannot take a write now (sqlite still locked by another process
 * after the wait, a lost or refused PostgreSQL connection, the pool exhausted): no statement
 * of anyone's would succeed, so retrying the same writes one by one at once only waits longer.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  return isSqliteBusy(err) || isTransientConnectError(err) || code.startsWith('08') || code === '57P01' || code === '57P02' || e?.name === 'KnexTimeoutError';
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
