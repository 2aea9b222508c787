import type { Channel, ChannelStatus, Template } from '../ground/records.ts';
import type { Tx } from './db.ts';

export interface ChannelRow {
  id: string;
  provider_channel_id: string;
  installation_id: string | null;
  platform: string;
  name: string;
  avatar_url: string | null;
  config_enc: string;
  state_enc: string | null;
  status: ChannelStatus;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export const toChannel = (r: ChannelRow): Channel => ({
  id: r.id,
  providerChannelId: r.provider_channel_id,
  installationId: r.installation_id,
  platform: r.platform,
  name: r.name,
  avatarUrl: r.avatar_url,
  configEnc: r.config_enc,
  stateEnc: r.state_enc,
  status: r.status,
  lastError: r.last_error,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** A channel as first stored: no error yet, timestamps set by insertChannel. */
export type NewChannel = Omit<Channel, 'lastError' | 'createdAt' | 'updatedAt'>;

export async function insertChannel(db: Tx, c: NewChannel, now: number): Promise<void> {
  await db('channels').insert({
    id: c.id,
    provider_channel_id: c.providerChannelId,
    installation_id: c.installationId,
    platform: c.platform,
    name: c.name,
    avatar_url: c.avatarUrl,
    config_enc: c.configEnc,
    state_enc: c.stateEnc,
    status: c.status,
    created_at: now,
    updated_at: now,
  });
}

export async function findChannelByProviderChannelId(db: Tx, providerChannelId: string): Promise<Channel | undefined> {
  const row = await db<ChannelRow>('channels').where({ provider_channel_id: providerChannelId }).first();
  return row && toChannel(row);
}

export async function findChannel(db: Tx, id: string): Promise<Channel | undefined> {
  const row = await db<ChannelRow>('channels').where({ id }).first();
  return row && toChannel(row);
}

export async function listChannels(db: Tx, filter: { installationId?: string; includeDeleted?: boolean } = {}): Promise<Channel[]> {
  const q = db<ChannelRow>('channels').orderBy('created_at', 'desc');
  if (filter.installationId) q.where({ installation_id: filter.installationId });
  if (!filter.includeDeleted) q.whereNot({ status: 'deleted' });
  return (await q).map(toChannel);
}

/** Returns true when this call moved the channel to `deleted` (false when it already was). */
export async function markChannelDeleted(db: Tx, id: string, now: number): Promise<boolean> {
  const n = await db('channels').where({ id }).whereNot({ status: 'deleted' }).update({ status: 'deleted', deleted_at: now, updated_at: now });
  return n > 0;
}

export async function updateChannel(
  db: Tx,
  id: string,
  patch: Partial<{ configEnc: string; stateEnc: string | null; status: ChannelStatus; lastError: string | null; name: string; avatarUrl: string | null }>,
  now: number,
): Promise<void> {
  const row: Record<string, unknown> = { updated_at: now };
  if (patch.configEnc !== undefined) row.config_enc = patch.configEnc;
  if (patch.stateEnc !== undefined) row.state_enc = patch.stateEnc;
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.lastError !== undefined) row.last_error = patch.lastError;
  if (patch.name !== undefined) row.name = patch.name;
  if (patch.avatarUrl !== undefined) row.avatar_url = patch.avatarUrl;
  await db('channels').where({ id }).update(row);
}

export async function replaceTemplates(db: Tx, channelId: string, templates: Template[]): Promise<void> {
  await db('templates').where({ channel_id: channelId }).delete();
  if (templates.length) {
    await db('templates').insert(templates.map((t) => ({ channel_id: channelId, id: t.id, name: t.name, content: t.content, language: t.language })));
  }
}

export async function listTemplates(db: Tx, channelId: string): Promise<Template[]> {
  return db('templates').select('id', 'name', 'content', 'language').where({ channel_id: channelId }).orderBy('pk');
}

/**
 * Removes a channel that never went live (Pipedrive refused to register it), with its
 * conversations and templates (cascade). Live channels are only ever marked deleted.
 */
export async function purgeChannel(db: Tx, id: string): Promise<void> {
  await db('jobs').where({ channel_id: id }).delete();
  await db('channels').where({ id }).delete();
}
