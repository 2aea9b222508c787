import type { Tx } from './db.ts';

/** /healthz's proof that the database takes writes: one row per process, rewritten on each check. */
export async function probeWrite(db: Tx, id: string, now: number): Promise<void> {
  await db('health_probe').insert({ id, at: now }).onConflict('id').merge(['at']);
}
