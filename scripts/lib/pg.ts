import knex from 'knex';

/** Whether a PostgreSQL server answers at `url` within 3 s (the scripts skip or fail their PostgreSQL part otherwise). */
export async function pgReachable(url: string): Promise<boolean> {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 });
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await db.destroy();
  }
}
