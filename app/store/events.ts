import type { Tx } from './db.ts';

/**
 * Records an inbound event key (a platform's delivery id). Returns false when the key was
 * already recorded: the caller has seen this event and must not store it twice.
 */
export async function recordEventKey(db: Tx, source: string, eventKey: string, now: number): Promise<boolean> {
  const rows = await db('inbound_events').insert({ source, event_key: eventKey, received_at: now }).onConflict(['source', 'event_key']).ignore().returning('pk');
  return rows.length > 0;
}

export async function purgeEventKeys(db: Tx, olderThan: number): Promise<number> {
  return db('inbound_events').where('received_at', '<', olderThan).delete();
}

/** True when an inbound event key was recorded before (read-only; recordEventKey claims it). */
export async function hasEventKey(db: Tx, source: string, eventKey: string): Promise<boolean> {
  const row = await db('inbound_events').select('pk').where({ source, event_key: eventKey }).first();
  return Boolean(row);
}
