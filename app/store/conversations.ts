import type { Conversation, ConversationStatus, Participant, ParticipantRole } from '../ground/records.ts';
import { isPg, jsonRowSet, readRows, runRows, type Tx } from './db.ts';

export interface ConversationRow {
  pk: number;
  id: string;
  channel_id: string;
  status: ConversationStatus;
  seen: boolean | number;
  link: string;
  last_seq: number;
  platform_ref: string | null;
  platform_state: string | null;
  source_user_key: string | null;
  created_at: number;
  updated_at: number;
}

/** A conversation's columns, as `c`: what prepared statements read instead of `c.*` (RawOptions). */
const CONVERSATION_COLUMNS = 'c.pk, c.id, c.channel_id, c.status, c.seen, c.link, c.last_seq, c.platform_ref, c.platform_state, c.source_user_key, c.created_at, c.updated_at';

export const toConversation = (r: ConversationRow): Conversation => ({
  pk: Number(r.pk),
  id: r.id,
  channelId: r.channel_id,
  status: r.status,
  seen: Boolean(r.seen),
  link: r.link ?? '',
  lastSeq: Number(r.last_seq),
  platformRef: r.platform_ref,
  platformState: r.platform_state,
  sourceUserKey: r.source_user_key,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export interface NewConversation {
  id: string;
  channelId: string;
  status?: ConversationStatus;
  link?: string;
  platformRef?: string | null;
  platformState?: string | null;
  sourceUserKey?: string | null;
}

export async function insertConversation(db: Tx, c: NewConversation, now: number): Promise<Conversation> {
  const [row] = await db<ConversationRow>('conversations')
    .insert({
      id: c.id,
      channel_id: c.channelId,
      status: c.status ?? 'open',
      seen: false,
      link: c.link ?? '',
      last_seq: 0,
      platform_ref: c.platformRef ?? null,
      platform_state: c.platformState ?? null,
      source_user_key: c.sourceUserKey ?? null,
      created_at: now,
      updated_at: now,
    })
    .returning('*');
  return toConversation(row as ConversationRow);
}

export async function findConversation(db: Tx, channelId: string, id: string): Promise<Conversation | undefined> {
  const row = await db<ConversationRow>('conversations').where({ channel_id: channelId, id }).first();
  return row && toConversation(row);
}

/**
 * A conversation of the channel by our id with the id of its source user (its first
 * source_user participant, the sender of what Pipedrive users post), in one statement.
 */
export async function findConversationWithSourceUser(db: Tx, channelId: string, id: string): Promise<{ conversation: Conversation; sourceUserId: string | undefined } | undefined> {
  const [row] = await readRows<ConversationRow & { source_user_id: string | null }>(
    db,
    `select c.*, (select p.id from participants p where p.conversation_pk = c.pk and p.role = 'source_user' order by p.pk limit 1) as source_user_id
     from conversations c where c.channel_id = ? and c.id = ?`,
    [channelId, id],
  );
  return row && { conversation: toConversation(row), sourceUserId: row.source_user_id ?? undefined };
}

export async function findConversationByPk(db: Tx, pk: number): Promise<Conversation | undefined> {
  const row = await db<ConversationRow>('conversations').where({ pk }).first();
  return row && toConversation(row);
}

export async function findConversationBy(db: Tx, channelId: string, by: { platformRef: string } | { sourceUserKey: string }): Promise<Conversation | undefined> {
  const where = 'platformRef' in by ? { platform_ref: by.platformRef } : { source_user_key: by.sourceUserKey };
  const row = await db<ConversationRow>('conversations')
    .where({ channel_id: channelId, ...where })
    .first();
  return row && toConversation(row);
}

export async function updateConversation(
  db: Tx,
  pk: number,
  patch: Partial<{ status: ConversationStatus; seen: boolean; link: string; platformRef: string | null; platformState: string | null }>,
  now: number,
): Promise<void> {
  const row: Record<string, unknown> = { updated_at: now };
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.seen !== undefined) row.seen = patch.seen;
  if (patch.link !== undefined) row.link = patch.link;
  if (patch.platformRef !== undefined) row.platform_ref = patch.platformRef;
  if (patch.platformState !== undefined) row.platform_state = patch.platformState;
  await db('conversations').where({ pk }).update(row);
}

const BUMP_ACTIVITIES = (pg: boolean) =>
  `update conversations set last_seq = b.last_seq, updated_at = cast(? as bigint)
   from ${jsonRowSet(pg, { pk: 'bigint', last_seq: 'bigint' })} b
   where conversations.pk = b.pk and conversations.last_seq < b.last_seq`;
const BUMP_ACTIVITIES_SQL = { pg: BUMP_ACTIVITIES(true), sqlite: BUMP_ACTIVITIES(false) };

/**
 * Moves conversations to the front of "latest activity", each to its newest seq of the batch, in
 * one statement (never backwards: seqs only grow).
 */
export async function bumpActivities(db: Tx, list: ReadonlyArray<{ pk: number; seq: number }>, now: number): Promise<void> {
  const rows = newestPerConversation(list);
  if (rows) await runRows(db, isPg(db) ? BUMP_ACTIVITIES_SQL.pg : BUMP_ACTIVITIES_SQL.sqlite, [now, rows]);
}

/** Each conversation of the list once, with its newest seq, as the JSON rows of an UPDATE … FROM (which must not match a row twice); null for an empty list. */
function newestPerConversation(list: ReadonlyArray<{ pk: number; seq: number }>): string | null {
  const newest = new Map<number, number>();
  for (const { pk, seq } of list) newest.set(pk, Math.max(seq, newest.get(pk) ?? 0));
  return newest.size ? JSON.stringify([...newest].map(([pk, seq]) => ({ pk, last_seq: seq }))) : null;
}

const POSTED_TO = (pg: boolean) =>
  `update conversations set last_seq = case when conversations.last_seq < b.last_seq then b.last_seq else conversations.last_seq end, seen = false, updated_at = cast(? as bigint)
   from ${jsonRowSet(pg, { pk: 'bigint', last_seq: 'bigint' })} b
   where conversations.pk = b.pk`;
const POSTED_TO_SQL = { pg: POSTED_TO(true), sqlite: POSTED_TO(false) };

/**
 * What messages posted by Pipedrive users do to their conversations, in one statement: each
 * conversation's activity moves forward to its newest seq of the list (as in bumpActivities)
 * and it is unseen from this commit on. One row per conversation: an UPDATE … FROM that
 * matched a row twice would take either.
 */
export async function postedTo(db: Tx, list: ReadonlyArray<{ pk: number; seq: number }>, now: number): Promise<void> {
  const rows = newestPerConversation(list);
  if (rows) await runRows(db, isPg(db) ? POSTED_TO_SQL.pg : POSTED_TO_SQL.sqlite, [now, rows]);
}

export interface ActivityKey {
  seq: number;
  pk: number;
}

/**
 * The first page of a channel's conversations walk and the marks the walk starts from (the
 * newest message seq and conversation pk, 0 on an empty store), in one statement: read
 * together, nothing can have moved between the marks and the page, so the page is simply the
 * newest activity first through conversations_activity_idx (see pageConversationsAt for the
 * later pages). An empty page carries no marks (nothing is walked from it).
 */
export async function firstConversationsPage(db: Tx, channelId: string, limit: number): Promise<{ snapshot: { seq: number; convPk: number }; page: Conversation[] }> {
  const rows = await readRows<ConversationRow & { snap_seq: number | string | null; snap_cp: number | string | null }>(
    db,
    `select ${CONVERSATION_COLUMNS}, (select max(seq) from messages) as snap_seq, (select max(pk) from conversations) as snap_cp
     from conversations c where c.channel_id = ?
     order by c.last_seq desc, c.pk desc limit ?`,
    [channelId, limit],
    { prepared: true },
  );
  const first = rows[0];
  return { snapshot: { seq: Number(first?.snap_seq ?? 0), convPk: Number(first?.snap_cp ?? 0) }, page: rows.map(toConversation) };
}

/**
 * The candidates for one page of a channel's conversations walk, in one statement, each with
 * its activity key as of the snapshot:
 * - up to `limit` conversations whose activity is unchanged since the snapshot
 *   (last_seq <= snapshot seq) and that existed then, newest activity first, after the
 *   cursor's key: a keyset on (last_seq, pk) through conversations_activity_idx;
 * - every conversation that existed at the snapshot but received messages since, keyed by its
 *   newest message seq <= the snapshot seq (or 0); bounded by the conversations active during
 *   one walk. The caller drops those at or before the cursor's key, merges and cuts.
 */
export async function pageConversationsAt(
  db: Tx,
  channelId: string,
  snapshot: { seq: number; convPk: number },
  before: ActivityKey | null,
  limit: number,
): Promise<Array<{ conversation: Conversation; keySeq: number }>> {
  // With a cursor the range starts at its key (never above the snapshot: keys are read as of
  // it), so the index walk skips what earlier pages returned instead of filtering it.
  const stable = before ? 'c.last_seq <= ? and c.pk <= ? and (c.last_seq < ? or c.pk < ?)' : 'c.last_seq <= ? and c.pk <= ?';
  const stableBindings = before ? [Math.min(before.seq, snapshot.seq), snapshot.convPk, before.seq, before.pk] : [snapshot.seq, snapshot.convPk];
  const rows = await readRows<ConversationRow & { key_seq: number | string }>(
    db,
    `select * from (select ${CONVERSATION_COLUMNS}, c.last_seq as key_seq from conversations c
       where c.channel_id = ? and ${stable}
       order by c.last_seq desc, c.pk desc limit ?) sp
     union all
     select ${CONVERSATION_COLUMNS}, (select coalesce(max(m.seq), 0) from messages m where m.conversation_pk = c.pk and m.seq <= ?) as key_seq
       from conversations c
       where c.channel_id = ? and c.last_seq > ? and c.pk <= ?`,
    [channelId, ...stableBindings, limit, snapshot.seq, channelId, snapshot.seq, snapshot.convPk],
    { prepared: true },
  );
  return rows.map((r) => ({ conversation: toConversation(r), keySeq: Number(r.key_seq) }));
}

export async function countConversations(db: Tx, channelIds: string[]): Promise<Map<string, number>> {
  if (!channelIds.length) return new Map();
  const rows: Array<{ channel_id: string; n: number | string }> = await db('conversations').select('channel_id').count({ n: '*' }).whereIn('channel_id', channelIds).groupBy('channel_id');
  return new Map(rows.map((r) => [String(r.channel_id), Number(r.n)]));
}

export interface ParticipantRow {
  conversation_pk: number;
  id: string;
  role: ParticipantRole;
  name: string;
  avatar_url: string | null;
  email: string | null;
}

export const toParticipant = (r: ParticipantRow): Participant => ({
  conversationPk: Number(r.conversation_pk),
  id: r.id,
  role: r.role,
  name: r.name,
  avatarUrl: r.avatar_url,
  email: r.email,
});

/** Inserts or renames a participant of one conversation (upsert on (conversation, id)). */
export async function upsertParticipant(db: Tx, p: Participant, now: number): Promise<void> {
  await db('participants')
    .insert({
      conversation_pk: p.conversationPk,
      id: p.id,
      role: p.role,
      name: p.name,
      avatar_url: p.avatarUrl,
      email: p.email,
      created_at: now,
      updated_at: now,
    })
    .onConflict(['conversation_pk', 'id'])
    .merge(['name', 'avatar_url', 'email', 'updated_at']);
}

export async function listParticipants(db: Tx, conversationPks: number[]): Promise<Participant[]> {
  if (!conversationPks.length) return [];
  const rows = await readRows<ParticipantRow>(
    db,
    `select conversation_pk, id, role, name, avatar_url, email from participants where conversation_pk in (${conversationPks.map(() => '?').join(', ')}) order by pk`,
    conversationPks,
    { prepared: true },
  );
  return rows.map(toParticipant);
}

/** A participant of any conversation of the channel (getSenderById). */
export async function findChannelParticipant(db: Tx, channelId: string, participantId: string): Promise<Participant | undefined> {
  const row = await db<ParticipantRow>('participants')
    .select('participants.*')
    .join('conversations', 'conversations.pk', 'participants.conversation_pk')
    .where('conversations.channel_id', channelId)
    .andWhere('participants.id', participantId)
    .orderBy('participants.updated_at', 'desc')
    .first();
  return row && toParticipant(row);
}
