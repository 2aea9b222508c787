import type { Tx } from './db.ts';

/** The newest dead-lettered job's reason per channel, for the admin page's "last error". */
export async function lastDeadJobErrors(db: Tx, channelIds: string[]): Promise<Map<string, string>> {
  if (!channelIds.length) return new Map();
  const rows: Array<{ channel_id: string; last_error: string | null }> = await db('jobs')
    .select('channel_id', 'last_error')
    .whereIn('channel_id', channelIds)
    .andWhere('status', 'dead')
    .orderBy('updated_at', 'asc');
  const out = new Map<string, string>();
  for (const r of rows) if (r.last_error) out.set(r.channel_id, r.last_error);
  return out;
}
