import type { Conversation, RecordType, WorkspaceUser } from '../ground/records.ts';
import { toConversation } from './conversations.ts';
import type { Tx } from './db.ts';
import { unfinished } from './jobs.ts';

// ── users of an installed company who did not install the app themselves ──────────────────

export type { WorkspaceUser } from '../ground/records.ts';

export async function findWorkspaceUser(db: Tx, companyId: number, userId: number): Promise<WorkspaceUser | undefined> {
  const r = await db('workspace_users').where({ pd_company_id: companyId, pd_user_id: userId }).first();
  return r && { companyId: Number(r.pd_company_id), userId: Number(r.pd_user_id), name: r.name, email: r.email, isAdmin: Boolean(r.is_admin), updatedAt: Number(r.updated_at) };
}

export async function upsertWorkspaceUser(db: Tx, u: Omit<WorkspaceUser, 'updatedAt'>, now: number): Promise<void> {
  await db('workspace_users')
    .insert({ pd_company_id: u.companyId, pd_user_id: u.userId, name: u.name, email: u.email, is_admin: u.isAdmin, updated_at: now })
    .onConflict(['pd_company_id', 'pd_user_id'])
    .merge(['name', 'email', 'is_admin', 'updated_at']);
}

// ── stream tickets ────────────────────────────────────────────────────────────────────────

export async function insertTicket(db: Tx, t: { hash: string; companyId: number; userId: number; expiresAt: number }, now: number): Promise<void> {
  await db('workspace_tickets').where('expires_at', '<', now).delete();
  await db('workspace_tickets').insert({ ticket_hash: t.hash, pd_company_id: t.companyId, pd_user_id: t.userId, expires_at: t.expiresAt });
}

/**
 * Deletes the ticket and returns whom it was for, once: of two concurrent redeems (any
 * processes) only the one whose delete removed the row wins.
 */
export async function redeemTicket(db: Tx, hash: string, now: number): Promise<{ companyId: number; userId: number } | undefined> {
  const r: { pd_company_id: number; pd_user_id: number; expires_at: number } | undefined = await db('workspace_tickets').where({ ticket_hash: hash }).first();
  if (!r) return undefined;
  const removed = await db('workspace_tickets').where({ ticket_hash: hash }).delete();
  if (removed !== 1 || Number(r.expires_at) < now) return undefined;
  return { companyId: Number(r.pd_company_id), userId: Number(r.pd_user_id) };
}

// ── read marks ────────────────────────────────────────────────────────────────────────────

/** Moves the user's read mark of a conversation forward (never back). */
export async function markRead(db: Tx, conversationPk: number, userId: number, seq: number, now: number): Promise<void> {
  await db('workspace_reads')
    .insert({ conversation_pk: conversationPk, pd_user_id: userId, read_seq: seq, updated_at: now })
    .onConflict(['conversation_pk', 'pd_user_id'])
    .merge({ read_seq: db.raw('case when excluded.read_seq > workspace_reads.read_seq then excluded.read_seq else workspace_reads.read_seq end'), updated_at: now });
}

// ── conversations about a record ──────────────────────────────────────────────────────────

export type { RecordType } from '../ground/records.ts';

export interface RecordLink {
  conversationPk: number;
  companyId: number;
  userId: number;
  type: RecordType;
  id: number;
  title: string;
  url: string;
  companyName: string | null;
  createdAt: number;
}

const toRecord = (r: Record<string, any>): RecordLink => ({
  conversationPk: Number(r.conversation_pk),
  companyId: Number(r.pd_company_id),
  userId: Number(r.pd_user_id),
  type: r.record_type,
  id: Number(r.record_id),
  title: r.record_title,
  url: r.record_url,
  companyName: r.company_name ?? null,
  createdAt: Number(r.created_at),
});

export async function insertRecordLink(db: Tx, l: RecordLink): Promise<void> {
  await db('workspace_records')
    .insert({
      conversation_pk: l.conversationPk,
      pd_company_id: l.companyId,
      pd_user_id: l.userId,
      record_type: l.type,
      record_id: l.id,
      record_title: l.title,
      record_url: l.url,
      company_name: l.companyName,
      created_at: l.createdAt,
    })
    .onConflict('conversation_pk')
    .ignore();
}

export async function findRecordLink(db: Tx, conversationPk: number): Promise<RecordLink | undefined> {
  const r = await db('workspace_records').where({ conversation_pk: conversationPk }).first();
  return r && toRecord(r);
}

export async function listRecordLinks(db: Tx, conversationPks: number[]): Promise<Map<number, RecordLink>> {
  if (!conversationPks.length) return new Map();
  const rows = await db('workspace_records').whereIn('conversation_pk', conversationPks);
  return new Map(rows.map((r: Record<string, any>) => [Number(r.conversation_pk), toRecord(r)]));
}

// ── the user's conversations, with unread counts ──────────────────────────────────────────

export interface ConversationSummary {
  conversation: Conversation;
  unread: number;
}

/**
 * Conversations of these channels a user sees, newest activity first, each with the number
 * of platform messages after the user's read mark. Without `record`: the user's standing
 * conversations (by `sourceUserKey`) and the conversations about records they started. With
 * `record`: every conversation of the company about that record.
 */
export async function listWorkspaceConversations(
  db: Tx,
  q: { companyId: number; userId: number; sourceUserKey: string; channelIds: string[]; record?: { type: RecordType; id: number }; conversationPk?: number },
): Promise<ConversationSummary[]> {
  if (!q.channelIds.length) return [];
  const unread = db('messages as m').count('*').whereRaw('m.conversation_pk = c.pk').andWhereNot('m.origin', 'pipedrive').andWhereRaw('m.seq > coalesce(rd.read_seq, 0)').as('unread');
  const rows = await db('conversations as c')
    .select('c.*', unread)
    .leftJoin('workspace_records as r', 'r.conversation_pk', 'c.pk')
    .leftJoin('workspace_reads as rd', (j) => j.on('rd.conversation_pk', '=', 'c.pk').andOn('rd.pd_user_id', '=', db.raw('?', [q.userId])))
    .whereIn('c.channel_id', q.channelIds)
    .modify((b) => {
      if (q.conversationPk !== undefined) b.andWhere('c.pk', q.conversationPk);
      if (q.record) b.andWhere({ 'r.pd_company_id': q.companyId, 'r.record_type': q.record.type, 'r.record_id': q.record.id });
      else b.andWhere((w) => w.where('c.source_user_key', q.sourceUserKey).orWhere((o) => o.where({ 'r.pd_company_id': q.companyId, 'r.pd_user_id': q.userId })));
    })
    .orderBy([
      { column: 'c.last_seq', order: 'desc' },
      { column: 'c.pk', order: 'desc' },
    ])
    .limit(500);
  return rows.map((r: Record<string, any>) => ({
    conversation: toConversation(r as never),
    unread: Number(r.unread),
  }));
}

// ── send jobs of a conversation (queued messages, Send again) ─────────────────────────────

/** Ids of the conversation's messages whose delivery job has not finished yet. */
export async function queuedMessageIds(db: Tx, conversationId: string): Promise<Set<string>> {
  const rows: Array<{ payload: string }> = await db('jobs')
    .select('payload')
    .where({ kind: 'platform.send', ordering_key: `send:${conversationId}` })
    .whereRaw(unfinished());
  return new Set(rows.map((r) => (JSON.parse(r.payload) as { messageId?: string }).messageId).filter((id): id is string => typeof id === 'string'));
}

/** The dead delivery job of one message, if it died in the outbox. */
export async function deadSendJobOf(db: Tx, conversationId: string, messageId: string): Promise<number | undefined> {
  const rows: Array<{ id: number; payload: string }> = await db('jobs')
    .select('id', 'payload')
    .where({ kind: 'platform.send', ordering_key: `send:${conversationId}` })
    // As written in the predicate of jobs_dead_key_idx (migration 016; see unfinished()).
    .whereRaw(`status = 'dead'`);
  const hit = rows.find((r) => (JSON.parse(r.payload) as { messageId?: string }).messageId === messageId);
  return hit ? Number(hit.id) : undefined;
}

// ── change feed for the live stream ───────────────────────────────────────────────────────

/**
 * Messages written or changed at or after `since` (ms), oldest change first; `after` continues
 * a full page (keyset on (updated_at, seq)).
 */
export async function messagesChangedSince(
  db: Tx,
  since: number,
  after: { updatedAt: number; seq: number } | undefined,
  limit: number,
): Promise<Array<{ seq: number; id: string; conversationPk: number; updatedAt: number }>> {
  const q = db('messages')
    .select('seq', 'id', 'conversation_pk', 'updated_at')
    .where('updated_at', '>=', since)
    .orderBy([
      { column: 'updated_at', order: 'asc' },
      { column: 'seq', order: 'asc' },
    ])
    .limit(limit);
  if (after) q.andWhere((w) => w.where('updated_at', '>', after.updatedAt).orWhere((o) => o.where('updated_at', after.updatedAt).andWhere('seq', '>', after.seq)));
  const rows: Array<{ seq: number; id: string; conversation_pk: number; updated_at: number }> = await q;
  return rows.map((r) => ({ seq: Number(r.seq), id: r.id, conversationPk: Number(r.conversation_pk), updatedAt: Number(r.updated_at) }));
}

// ── which surface an installation uses ────────────────────────────────────────────────────

export type Surface = 'channels' | 'workspace' | 'both';

export async function findSurface(db: Tx, installationId: string): Promise<{ surface: Surface; reason: string | null } | undefined> {
  const r = await db('installation_surfaces').where({ installation_id: installationId }).first();
  return r && { surface: r.surface, reason: r.reason };
}

export async function saveSurface(db: Tx, installationId: string, surface: Surface, reason: string | null, now: number): Promise<void> {
  await db('installation_surfaces').insert({ installation_id: installationId, surface, reason, updated_at: now }).onConflict('installation_id').merge(['surface', 'reason', 'updated_at']);
}

// ── the company's channels ────────────────────────────────────────────────────────────────

/** Active channels connected by any installation of the company, oldest first. */
export async function listCompanyChannels(db: Tx, companyId: number): Promise<Array<{ id: string; name: string; platform: string; installationId: string }>> {
  const rows: Array<{ id: string; name: string; platform: string; installation_id: string }> = await db('channels')
    .select('channels.id', 'channels.name', 'channels.platform', 'channels.installation_id')
    .join('installations', 'installations.id', 'channels.installation_id')
    .where('installations.pd_company_id', companyId)
    .andWhere('channels.status', 'active')
    .orderBy('channels.created_at');
  return rows.map((r) => ({ id: r.id, name: r.name, platform: r.platform, installationId: r.installation_id }));
}

/** A conversation by its id (ids are unique across channels). */
export async function findConversationById(db: Tx, id: string): Promise<Conversation | undefined> {
  const r = await db('conversations').where({ id }).first();
  return r && toConversation(r);
}

/** The Pipedrive company a channel belongs to (through the installation that connected it). */
export async function companyOfChannel(db: Tx, channelId: string): Promise<number | undefined> {
  const r = await db('channels').join('installations', 'installations.id', 'channels.installation_id').where('channels.id', channelId).first('installations.pd_company_id as c');
  return r ? Number(r.c) : undefined;
}

export async function maxMessageSeqNow(db: Tx): Promise<number> {
  const row = await db('messages').max({ m: 'seq' }).first();
  return Number(row?.m ?? 0);
}
