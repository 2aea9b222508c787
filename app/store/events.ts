import { isPg, jsonRowSet, runRows, type Tx } from './db.ts';

export interface EventKey {
  source: string;
  key: string;
}

/** Several event keys in one statement; only the keys it inserted come back (ON CONFLICT DO NOTHING). */
const RECORD_EVENT_KEYS = (pg: boolean) =>
  `insert into inbound_events (source, event_key, received_at)
   select k.source, k.event_key, cast(? as bigint) from ${jsonRowSet(pg, { source: 'text', event_key: 'text' })} k where true
   on conflict (source, event_key) do nothing returning source, event_key`;
const RECORD_EVENT_KEYS_SQL = { pg: RECORD_EVENT_KEYS(true), sqlite: RECORD_EVENT_KEYS(false) };

const keyOf = (source: string, key: string) => `${source}\u0000${key}`;

/**
 * Records inbound event keys (platforms' delivery ids) in one statement. Answers, per key in
 * order, whether this call recorded it: false when it was recorded before, or when it
 * appears earlier in the same list (as if the keys were recorded one after the other).
 */
export async function recordEventKeys(db: Tx, keys: readonly EventKey[], now: number): Promise<boolean[]> {
  const first = new Map<string, number>();
  const rows: Array<{ source: string; event_key: string }> = [];
  keys.forEach((k, i) => {
    const id = keyOf(k.source, k.key);
    if (first.has(id)) return;
    first.set(id, i);
    rows.push({ source: k.source, event_key: k.key });
  });
  if (!rows.length) return [];
  const inserted = await runRows<{ source: string; event_key: string }>(db, isPg(db) ? RECORD_EVENT_KEYS_SQL.pg : RECORD_EVENT_KEYS_SQL.sqlite, [now, JSON.stringify(rows)]);
  const fresh = new Set(inserted.map((r) => keyOf(r.source, r.event_key)));
  return keys.map((k, i) => {
    const id = keyOf(k.source, k.key);
    return first.get(id) === i && fresh.has(id);
  });
}

/**
 * Records an inbound event key (a platform's delivery id). Returns false when the key was
 * already recorded: the caller has seen this event and must not store it twice.
 */
export async function recordEventKey(db: Tx, source: string, eventKey: string, now: number): Promise<boolean> {
  const [fresh] = await recordEventKeys(db, [{ source, key: eventKey }], now);
  return fresh === true;
}

export async function purgeEventKeys(db: Tx, olderThan: number): Promise<number> {
  return db('inbound_events').where('received_at', '<', olderThan).delete();
}

/** True when an inbound event key was recorded before (read-only; recordEventKey claims it). */
export async function hasEventKey(db: Tx, source: string, eventKey: string): Promise<boolean> {
  const row = await db('inbound_events').select('pk').where({ source, event_key: eventKey }).first();
  return Boolean(row);
}
