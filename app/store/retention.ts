import type { Tx } from './db.ts';

/**
 * What the retention sweep and the per-tenant quotas read and delete. A tenant is a
 * Pipedrive company (all its installations' channels), or a lone channel no installation owns.
 */

/** The tenant of `channelId` (the key jobs carry) and its channel ids, deleted ones included (their files still count). */
export async function tenantOf(db: Tx, channelId: string): Promise<{ key: string; channelIds: string[] }> {
  const owner = await db('channels as c').leftJoin('installations as i', 'i.id', 'c.installation_id').select('i.pd_company_id as company').where('c.id', channelId).first();
  if (owner?.company == null) return { key: `channel:${channelId}`, channelIds: [channelId] };
  const rows: Array<{ id: string }> = await db('channels as c').join('installations as i', 'i.id', 'c.installation_id').select('c.id').where('i.pd_company_id', owner.company);
  return { key: `company:${owner.company}`, channelIds: rows.map((r) => r.id) };
}

/** Bytes of attachments stored on our disk for these channels. */
export async function storedAttachmentBytes(db: Tx, channelIds: string[]): Promise<number> {
  if (!channelIds.length) return 0;
  const row = await db('attachments as a').join('messages as m', 'm.seq', 'a.message_seq').whereIn('m.channel_id', channelIds).whereNotNull('a.storage_key').sum({ n: 'a.size' }).first();
  return Number(row?.n ?? 0);
}

/** Stored attachments older than `before`, oldest first: their bytes are deleted, then their rows. */
export async function expiredAttachments(db: Tx, before: number, limit: number): Promise<Array<{ id: string; storageKey: string }>> {
  const rows: Array<{ id: string; storage_key: string }> = await db('attachments')
    .select('id', 'storage_key')
    .whereNotNull('storage_key')
    .andWhere('created_at', '<', before)
    .orderBy('created_at')
    .limit(limit);
  return rows.map((r) => ({ id: r.id, storageKey: r.storage_key }));
}

export async function deleteAttachments(db: Tx, ids: string[]): Promise<number> {
  return ids.length ? db('attachments').whereIn('id', ids).delete() : 0;
}

/**
 * Alvaria callbacks parked for a session or message we never recorded (a crash between the
 * platform's answer and our commit, or a forged-but-signed id): they can only match within
 * Alvaria's retry window, so older ones are dropped.
 */
export async function purgeParkedAlvaria(db: Tx, before: number): Promise<number> {
  const sessions = await db('alvaria_sessions').whereNull('conversation_id').andWhere('created_at', '<', before).delete();
  const messages = await db('alvaria_messages').whereNull('message_id').andWhere('created_at', '<', before).delete();
  return sessions + messages;
}

/**
 * Channels deleted (by an admin, Pipedrive or an uninstall) before `before` whose platform
 * side is done (no unfinished job): their conversations, messages, attachments and Alvaria
 * rows go with them (foreign-key cascades). Returns the storage keys whose bytes to delete.
 */
export async function purgeDeletedChannels(db: Tx, before: number, limit: number): Promise<{ channels: number; storageKeys: string[] }> {
  const ids: string[] = (
    await db('channels as c')
      .select('c.id')
      .where('c.status', 'deleted')
      .andWhere('c.deleted_at', '<', before)
      .whereNotExists(function unfinished() {
        this.select(db.raw('1')).from('jobs as j').whereRaw('j.channel_id = c.id').whereIn('j.status', ['pending', 'running']);
      })
      .orderBy('c.deleted_at')
      .limit(limit)
  ).map((r: { id: string }) => r.id);
  if (!ids.length) return { channels: 0, storageKeys: [] };
  const keys: Array<{ storage_key: string }> = await db('attachments as a')
    .join('messages as m', 'm.seq', 'a.message_seq')
    .select('a.storage_key')
    .whereIn('m.channel_id', ids)
    .whereNotNull('a.storage_key');
  await db.transaction(async (tx) => {
    await tx('jobs').whereIn('channel_id', ids).delete();
    await tx('channels').whereIn('id', ids).delete();
  });
  return { channels: ids.length, storageKeys: keys.map((k) => k.storage_key) };
}
