import type { Config } from './ground/config.ts';

/**
 * One line for an error that stopped the start, naming the variable to change or the cause,
 * instead of a stack trace. Database messages come from the server and name the role or
 * database, never the password; the URL is shown without its credentials.
 */
export function describeStartupError(err: unknown, config: Config): string {
  const e = (err ?? {}) as { code?: unknown; syscall?: unknown; message?: unknown; path?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  const db = config.database;
  const where = db.client === 'pg' ? safeDbUrl(db.url) : `sqlite ${db.filename}`;

  if (e.syscall === 'listen') {
    if (code === 'EADDRINUSE') return `PORT ${config.port} is already in use (EADDRINUSE): stop the other process or set PORT to a free port`;
    if (code === 'EACCES') return `PORT ${config.port} may not be opened by this user (EACCES): use a port above 1023 or a proxy in front`;
    return `PORT ${config.port} could not be opened: ${message}`;
  }
  if (db.client === 'pg') {
    const waited = `${Math.round(config.databaseWaitMs / 1000)} s`;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '57P03', '53300'].includes(code)) {
      return `DATABASE_URL: PostgreSQL at ${where} is not reachable (${code}), still after ${waited} of retries (DATABASE_WAIT_SECONDS)`;
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `DATABASE_URL: the host of ${where} does not resolve (${code}), still after ${waited} of retries`;
    if (code === '28P01' || code === '28000') return `DATABASE_URL: PostgreSQL refused the login at ${where}: ${message} (${code}); check the role and password`;
    if (code === '3D000') return `DATABASE_URL: ${message} at ${where} (${code}); create it or fix the database name`;
    if (code === '42501') {
      return `DATABASE_URL: the role may not create the bridge's tables at ${where}${db.schema ? ` (DATABASE_SCHEMA ${db.schema})` : ''}: ${message} (${code}); grant it CREATE there or use a role that owns the schema`;
    }
    if (/^[0-9A-Z]{5}$/.test(code)) return `DATABASE_URL: PostgreSQL at ${where} answered: ${message} (${code})`;
  } else if (code.startsWith('SQLITE_')) {
    return `DATABASE_URL: the sqlite database ${db.filename} cannot be used: ${message} (${code})`;
  }
  if (typeof e.path === 'string' && code) return `${e.path}: ${message}`;
  return `the bridge could not start: ${message}`;
}

/** The database URL without its password (for messages and logs). */
export function safeDbUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'the configured PostgreSQL';
  }
}
