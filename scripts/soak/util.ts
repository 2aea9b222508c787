import type { Db } from '../../app/store/db.ts';

/** A scenario's invariant did not hold: the run exits non-zero with this message. */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws when the
 * deadline passes. Soak runs wait on observed state (the fakes' records, the jobs table),
 * never on a fixed delay.
 */
export async function waitUntil<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, deadline: number, everyMs = 100): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new InvariantError(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `n` workers over `items` (bounded concurrency). */
export async function pool<T>(items: readonly T[], n: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

export function stats(values: number[]): { n: number; mean: number; p50: number; p99: number; max: number } {
  if (!values.length) return { n: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

export const TABLES = ['conversations', 'participants', 'messages', 'attachments', 'jobs', 'inbound_events', 'channels', 'alvaria_sessions'] as const;

export async function rowCounts(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const row = await db(t).count({ n: '*' }).first();
    out[t] = Number(row?.n ?? 0);
  }
  return out;
}

/** Jobs by kind and status, e.g. `{ 'pipedrive.receive': { done: 10, pending: 2 } }`. */
export async function jobCounts(db: Db): Promise<Record<string, Record<string, number>>> {
  const rows: Array<{ kind: string; status: string; n: number | string }> = await db('jobs').select('kind', 'status').count({ n: '*' }).groupBy('kind', 'status');
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.kind] ??= {})[r.status] = Number(r.n);
  return out;
}

/** True when no job of `kind` is pending or running (nothing more can reach a fake). */
export async function drained(db: Db, kind: string): Promise<boolean> {
  const row = await db('jobs').where({ kind }).whereIn('status', ['pending', 'running']).count({ n: '*' }).first();
  return Number(row?.n ?? 0) === 0;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
