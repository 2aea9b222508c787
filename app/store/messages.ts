import type { Attachment, Message, MessageOrigin, MessageStatus } from '../ground/records.ts';
import { insertionOrder, isPg, jsonRowSet, readRows, runRows, type Tx } from './db.ts';

export interface MessageRow {
  seq: number;
  id: string;
  conversation_pk: number;
  channel_id: string;
  platform_message_id: string | null;
  origin: MessageOrigin;
  sender_id: string;
  text: string;
  status: MessageStatus;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AttachmentRow {
  id: string;
  message_seq: number;
  name: string;
  mime_type: string;
  size: number | null;
  storage_key: string | null;
  remote_url: string | null;
}

export const toAttachment = (r: AttachmentRow): Attachment => ({
  id: r.id,
  messageSeq: Number(r.message_seq),
  name: r.name,
  mimeType: r.mime_type,
  size: r.size === null ? null : Number(r.size),
  storageKey: r.storage_key,
  remoteUrl: r.remote_url,
});

export const toMessage = (r: MessageRow, attachments: Attachment[]): Message => ({
  seq: Number(r.seq),
  id: r.id,
  conversationPk: Number(r.conversation_pk),
  channelId: r.channel_id,
  platformMessageId: r.platform_message_id,
  origin: r.origin,
  senderId: r.sender_id,
  text: r.text,
  status: r.status,
  error: r.error,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  attachments,
});

export interface NewMessage {
  id: string;
  conversationPk: number;
  channelId: string;
  platformMessageId?: string | null;
  origin: MessageOrigin;
  senderId: string;
  text: string;
  status: MessageStatus;
  createdAt: number;
}

export interface NewAttachment {
  id: string;
  name: string;
  mimeType: string;
  size: number | null;
  storageKey?: string | null;
  remoteUrl?: string | null;
}

/** The message a successful insert stored, as the insert's caller sees it (nothing is read back). */
export function storedMessage(m: NewMessage, attachments: readonly NewAttachment[], seq: number, now: number): Message {
  return {
    seq,
    id: m.id,
    conversationPk: m.conversationPk,
    channelId: m.channelId,
    platformMessageId: m.platformMessageId ?? null,
    origin: m.origin,
    senderId: m.senderId,
    text: m.text,
    status: m.status,
    error: null,
    createdAt: m.createdAt,
    updatedAt: now,
    attachments: attachments.map((a) => ({ id: a.id, messageSeq: seq, name: a.name, mimeType: a.mimeType, size: a.size, storageKey: a.storageKey ?? null, remoteUrl: a.remoteUrl ?? null })),
  };
}

/** A message of a batch with its attachments (insertMessages). */
export interface NewMessageWithAttachments {
  message: NewMessage;
  attachments: NewAttachment[];
}

const MESSAGE_COLUMNS = {
  n: 'bigint',
  id: 'text',
  conversation_pk: 'bigint',
  channel_id: 'text',
  platform_message_id: 'text',
  origin: 'text',
  sender_id: 'text',
  text: 'text',
  status: 'text',
  created_at: 'bigint',
  attachment_count: 'bigint',
} as const;
const ATTACHMENT_COLUMNS = { n: 'bigint', id: 'text', message_seq: 'bigint', name: 'text', mime_type: 'text', size: 'bigint', storage_key: 'text', remote_url: 'text' } as const;

// Rows go in in list order (`order by n`): seq, like the jobs' ids, follows the callers'
// order, which is the order of each conversation. Both dialects number an INSERT … SELECT's
// rows in the order the SELECT yields them. A row whose platform id the channel already
// stored on the platform side is left out (the permanent dedupe behind the event keys, which
// are purged after days: a signed Airy action carries no timestamp, so its replay is valid
// forever); the index on (channel_id, platform_message_id) answers it.
const INSERT_INBOUND_MESSAGES = (pg: boolean) =>
  `insert into messages (id, conversation_pk, channel_id, platform_message_id, origin, sender_id, text, status, created_at, has_attachments, updated_at)
   select m.id, m.conversation_pk, m.channel_id, m.platform_message_id, m.origin, m.sender_id, m.text, m.status, m.created_at, m.attachment_count > 0, cast(? as bigint)
   from ${jsonRowSet(pg, MESSAGE_COLUMNS)} m
   where not exists (select 1 from messages x where x.channel_id = m.channel_id and x.platform_message_id = m.platform_message_id and x.origin <> 'pipedrive')
   order by m.n returning seq, id`;
// The same for messages a Pipedrive user posted: they carry no platform id, so there is
// nothing to leave out.
const INSERT_MESSAGES = (pg: boolean) =>
  `insert into messages (id, conversation_pk, channel_id, platform_message_id, origin, sender_id, text, status, created_at, has_attachments, updated_at)
   select m.id, m.conversation_pk, m.channel_id, m.platform_message_id, m.origin, m.sender_id, m.text, m.status, m.created_at, m.attachment_count > 0, cast(? as bigint)
   from ${jsonRowSet(pg, MESSAGE_COLUMNS)} m
   order by m.n returning seq, id`;
const INSERT_ATTACHMENTS = (pg: boolean) =>
  `insert into attachments (id, message_seq, name, mime_type, size, storage_key, remote_url, created_at)
   select a.id, a.message_seq, a.name, a.mime_type, a.size, a.storage_key, a.remote_url, cast(? as bigint)
   from ${jsonRowSet(pg, ATTACHMENT_COLUMNS)} a order by a.n`;
const BATCH_SQL = {
  pg: { insertInboundMessages: INSERT_INBOUND_MESSAGES(true), insertMessages: INSERT_MESSAGES(true), insertAttachments: INSERT_ATTACHMENTS(true) },
  sqlite: { insertInboundMessages: INSERT_INBOUND_MESSAGES(false), insertMessages: INSERT_MESSAGES(false), insertAttachments: INSERT_ATTACHMENTS(false) },
};
const batchSql = (db: Tx) => (isPg(db) ? BATCH_SQL.pg : BATCH_SQL.sqlite);

/**
 * Inserts platform-side messages with their attachments in two statements (one without
 * attachments), in list order, and returns them as stored (no read back), each in its place;
 * null for a message whose platform id its channel had already stored from the platform side
 * (a redelivery). The list must not hold one (channel, platform id) twice: the statement
 * checks against what was stored before it.
 */
export function insertInboundMessages(db: Tx, list: readonly NewMessageWithAttachments[], now: number): Promise<Array<Message | null>> {
  return insertRows(db, batchSql(db).insertInboundMessages, list, now);
}

/**
 * Inserts messages a Pipedrive user posted (no platform id) with their attachments, in two
 * statements (one without attachments), in list order, and returns them as stored.
 */
export async function insertMessages(db: Tx, list: readonly NewMessageWithAttachments[], now: number): Promise<Message[]> {
  const stored = await insertRows(db, batchSql(db).insertMessages, list, now);
  return stored.map((m, i) => {
    if (!m) throw new Error(`message ${list[i]!.message.id} was not inserted`);
    return m;
  });
}

/**
 * A new message's columns as a row of a JSON row set (jsonRowSet), `updated_at` left to the
 * statement; `attachment_count` sets `has_attachments` (migration 017).
 */
export const messageRow = (m: NewMessage, attachmentCount: number) => ({
  id: m.id,
  conversation_pk: m.conversationPk,
  channel_id: m.channelId,
  platform_message_id: m.platformMessageId ?? null,
  origin: m.origin,
  sender_id: m.senderId,
  text: m.text,
  status: m.status,
  created_at: m.createdAt,
  attachment_count: attachmentCount,
});

async function insertRows(db: Tx, insert: string, list: readonly NewMessageWithAttachments[], now: number): Promise<Array<Message | null>> {
  if (!list.length) return [];
  const rows = list.map(({ message: m, attachments }, n) => ({ n, ...messageRow(m, attachments.length) }));
  const returned = await runRows<{ seq: number; id: string }>(db, insert, [now, JSON.stringify(rows)]);
  const seqOf = new Map(returned.map((r) => [r.id, Number(r.seq)]));
  const stored = list.map(({ message: m, attachments }): Message | null => {
    const seq = seqOf.get(m.id);
    if (seq === undefined) return null;
    return storedMessage(m, attachments, seq, now);
  });
  const attachmentRows = stored.flatMap((m) =>
    (m?.attachments ?? []).map((a) => ({ id: a.id, message_seq: a.messageSeq, name: a.name, mime_type: a.mimeType, size: a.size, storage_key: a.storageKey, remote_url: a.remoteUrl })),
  );
  if (attachmentRows.length) await runRows(db, batchSql(db).insertAttachments, [now, JSON.stringify(attachmentRows.map((a, n) => ({ n, ...a })))]);
  return stored;
}

/** A (channel, platform message id) pair as one key. */
export const platformIdKey = (channelId: string, platformMessageId: string) => `${channelId}\u0000${platformMessageId}`;

export async function withAttachments(db: Tx, rows: MessageRow[]): Promise<Message[]> {
  if (!rows.length) return [];
  const atts = await db<AttachmentRow>('attachments')
    .whereIn(
      'message_seq',
      rows.map((r) => r.seq),
    )
    .orderBy('created_at')
    .orderByRaw(insertionOrder(isPg(db), 'attachments'));
  const by = new Map<number, Attachment[]>();
  for (const a of atts.map(toAttachment)) {
    const list = by.get(a.messageSeq) ?? [];
    list.push(a);
    by.set(a.messageSeq, list);
  }
  return rows.map((r) => toMessage(r, by.get(Number(r.seq)) ?? []));
}

export interface MessagePageSpec {
  conversationPk: number;
  beforeSeq?: number | undefined;
  maxSeq?: number | undefined;
  limit: number;
}

/**
 * Newest-first pages of several conversations' messages in one round trip: a UNION ALL of
 * per-conversation index range scans on (conversation_pk, seq), each stopping after `limit`
 * rows, so a long history is never scanned.
 */
export async function pageMessagesMany(db: Tx, specs: MessagePageSpec[]): Promise<Map<number, Message[]>> {
  const out = new Map<number, Message[]>(specs.map((s) => [s.conversationPk, []]));
  if (!specs.length) return out;
  const parts = specs.map((s) => {
    const q = db<MessageRow>('messages').select('*').where('conversation_pk', s.conversationPk).orderBy('seq', 'desc').limit(s.limit);
    if (s.beforeSeq !== undefined) q.andWhere('seq', '<', s.beforeSeq);
    if (s.maxSeq !== undefined) q.andWhere('seq', '<=', s.maxSeq);
    return db.select('*').from(q.as('p'));
  });
  const [first, ...rest] = parts;
  const rows: MessageRow[] = rest.length ? await first!.unionAll(rest) : await first!;
  for (const m of await withAttachments(db, rows)) out.get(m.conversationPk)!.push(m);
  for (const list of out.values()) list.sort((a, b) => b.seq - a.seq);
  return out;
}

/**
 * A message as a page of the Channels API shows it: what getConversations and
 * getConversationById answer, without the columns only the bridge itself reads.
 */
export type PageMessage = Pick<Message, 'seq' | 'id' | 'conversationPk' | 'senderId' | 'text' | 'status' | 'createdAt' | 'attachments'>;

/**
 * The same pages as pageMessagesMany for a set of conversations sharing one bound, with their
 * attachments, in one statement whatever the number of conversations; each page oldest first.
 * Every conversation costs one short index range scan of its (conversation_pk, seq) index,
 * never its whole history: a window function over the conversations' messages would number
 * every message they hold. Only the columns a page shows are read: a row of a 900-message page
 * costs its columns' conversion to JS values, twice as many with `m.*`.
 */
export async function pageMessagesOf(db: Tx, conversationPks: number[], opts: { limit: number; maxSeq?: number | undefined; beforeSeq?: number | undefined }): Promise<Map<number, PageMessage[]>> {
  const out = new Map<number, PageMessage[]>(conversationPks.map((pk) => [pk, []]));
  if (!conversationPks.length || opts.limit <= 0) return out;
  const spec: PageSpec = {
    pks: conversationPks.map(() => '?').join(', '),
    bound: (col) => `${opts.maxSeq !== undefined ? ` and ${col}.seq <= ?` : ''}${opts.beforeSeq !== undefined ? ` and ${col}.seq < ?` : ''}`,
    bounds: [...(opts.maxSeq !== undefined ? [opts.maxSeq] : []), ...(opts.beforeSeq !== undefined ? [opts.beforeSeq] : [])],
  };
  // The dialect spot.
  await (isPg(db) ? pagesPg : pagesSqlite)(db, conversationPks, opts.limit, spec, out);
  return out;
}

/** The parts of a page statement: the conversations' placeholders, the seq bounds on a messages alias and their values. */
interface PageSpec {
  pks: string;
  bound: (alias: string) => string;
  bounds: number[];
}

/**
 * PostgreSQL: each conversation's newest `limit` messages by a lateral top-N (an index scan that
 * stops after `limit` rows), so the planner knows the page holds at most conversations × limit
 * rows (guessing ~10,000 on a 1 M store, it crossed jit_above_cost and spent ~10 ms compiling).
 * Only a message flagged `has_attachments` (migration 017) looks its attachments up, as one JSON
 * array in their order: joining every message to attachments and sorting the wide joined rows
 * was half of PostgreSQL's work for a 30×30 page. Rows come in no order; each conversation's are
 * sorted here. Prepared (RawOptions): planning cost as much as running. Building each
 * conversation's page as one JSON value instead saved the server ~0.5 ms of CPU per page and
 * cost PostgreSQL ~0.9 ms more (npm run bench, 3 December): the database is what several
 * processes share, so it gets the cheaper side.
 */
async function pagesPg(db: Tx, conversationPks: number[], limit: number, { pks, bound, bounds }: PageSpec, out: Map<number, PageMessage[]>): Promise<void> {
  const rows = await readRows<PgPageRow>(
    db,
    `select m.seq, m.conversation_pk, m.id, m.sender_id, m.text, m.status, m.created_at,
       case when m.has_attachments then (select json_agg(json_build_array(a.id, a.name, a.mime_type, a.size, a.storage_key, a.remote_url)
         order by a.created_at, ${insertionOrder(true, 'a')}) from attachments a where a.message_seq = m.seq) end as attachments
     from conversations c
     cross join lateral (select m.seq, m.conversation_pk, m.id, m.sender_id, m.text, m.status, m.created_at, m.has_attachments from messages m
       where m.conversation_pk = c.pk${bound('m')} order by m.seq desc limit ?) m
     where c.pk in (${pks})`,
    [...bounds, limit, ...conversationPks],
    { prepared: true },
  );
  for (const r of rows) {
    const seq = Number(r.seq);
    const conversationPk = Number(r.conversation_pk);
    const files = (r.attachments ?? []).map(([id, name, mimeType, size, storageKey, remoteUrl]) => ({ id, messageSeq: seq, name, mimeType, size, storageKey, remoteUrl }));
    out.get(conversationPk)?.push({ seq, id: r.id, conversationPk, senderId: r.sender_id, text: r.text, status: r.status, createdAt: Number(r.created_at), attachments: files });
  }
  for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
}

/** The columns of a message that a page shows, as both dialects' page rows hold them. */
interface PageMessageRow {
  seq: number;
  conversation_pk: number;
  id: string;
  sender_id: string;
  text: string;
  status: MessageStatus;
  created_at: number | string;
}

/** A PostgreSQL page row: a message and its attachments (id, name, mime type, size, storage key, remote url), null for none. */
interface PgPageRow extends PageMessageRow {
  attachments: Array<[string, string, string, number | null, string | null, string | null]> | null;
}

/**
 * sqlite has no LATERAL: a floor per conversation, the seq `limit` messages down its index (or
 * 0), then the range from it, joined to attachments. Its loop order (conversation, seq, then
 * attachments on (message_seq, created_at)) already is the requested order, so nothing is
 * sorted (migration 014); the index probe per message runs in-process and costs less than
 * building JSON would.
 */
async function pagesSqlite(db: Tx, conversationPks: number[], limit: number, { pks, bound, bounds }: PageSpec, out: Map<number, PageMessage[]>): Promise<void> {
  const rows = await readRows<SqlitePageRow>(
    db,
    `select m.seq, m.conversation_pk, m.id, m.sender_id, m.text, m.status, m.created_at,
       a.id as a_id, a.name as a_name, a.mime_type as a_mime_type, a.size as a_size, a.storage_key as a_storage_key, a.remote_url as a_remote_url
     from (select c.pk, coalesce((select x.seq from messages x where x.conversation_pk = c.pk${bound('x')} order by x.seq desc limit 1 offset ?), 0) as floor_seq
       from conversations c where c.pk in (${pks})) f
     join messages m on m.conversation_pk = f.pk and m.seq >= f.floor_seq${bound('m')}
     left join attachments a on a.message_seq = m.seq
     order by f.pk, m.seq, a.created_at, ${insertionOrder(false, 'a')}`,
    [...bounds, limit - 1, ...conversationPks, ...bounds],
  );
  let last: PageMessage | undefined;
  let list: PageMessage[] | undefined;
  let listPk = -1;
  for (const r of rows) {
    const seq = Number(r.seq);
    if (last?.seq !== seq) {
      const conversationPk = Number(r.conversation_pk);
      last = { seq, id: r.id, conversationPk, senderId: r.sender_id, text: r.text, status: r.status, createdAt: Number(r.created_at), attachments: [] };
      if (conversationPk !== listPk) {
        list = out.get(conversationPk);
        listPk = conversationPk;
      }
      list?.push(last);
    }
    if (r.a_id !== null) {
      last.attachments.push({
        id: r.a_id,
        messageSeq: seq,
        name: r.a_name!,
        mimeType: r.a_mime_type!,
        size: r.a_size === null ? null : Number(r.a_size),
        storageKey: r.a_storage_key,
        remoteUrl: r.a_remote_url,
      });
    }
  }
}

/** A sqlite page row: a message and one attachment, all null for a message without one. */
interface SqlitePageRow extends PageMessageRow {
  a_id: string | null;
  a_name: string | null;
  a_mime_type: string | null;
  a_size: number | string | null;
  a_storage_key: string | null;
  a_remote_url: string | null;
}

export async function findMessage(db: Tx, channelId: string, id: string): Promise<Message | undefined> {
  const row = await db<MessageRow>('messages').where({ channel_id: channelId, id }).first();
  return row ? (await withAttachments(db, [row]))[0] : undefined;
}

export async function findMessageById(db: Tx, id: string): Promise<Message | undefined> {
  const row = await db<MessageRow>('messages').where({ id }).first();
  return row ? (await withAttachments(db, [row]))[0] : undefined;
}

export async function findMessageByPlatformId(db: Tx, channelId: string, platformMessageId: string): Promise<Message | undefined> {
  const row = await db<MessageRow>('messages').where({ channel_id: channelId, platform_message_id: platformMessageId }).first();
  return row ? (await withAttachments(db, [row]))[0] : undefined;
}

/** One conversation's messages of one origin whose status is one of `statuses` (oldest first). */
export async function updateMessage(db: Tx, id: string, patch: Partial<{ status: MessageStatus; platformMessageId: string | null; error: string | null }>, now: number): Promise<void> {
  const row: Record<string, unknown> = { updated_at: now };
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.platformMessageId !== undefined) row.platform_message_id = patch.platformMessageId;
  if (patch.error !== undefined) row.error = patch.error;
  await db('messages').where({ id }).update(row);
}

/**
 * Moves every message of a conversation and origin in one of `from` to `to` (clearing any
 * error) in one statement. Returns the ids changed, oldest first.
 */
export async function setStatusWhere(db: Tx, conversationPk: number, origin: MessageOrigin, from: MessageStatus[], to: MessageStatus, now: number): Promise<string[]> {
  const rows: Array<{ id: string; seq: number }> = await db('messages')
    .where({ conversation_pk: conversationPk, origin })
    .whereIn('status', from)
    .update({ status: to, error: null, updated_at: now })
    .returning(['id', 'seq']);
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map((r) => r.id);
}

export async function maxMessageSeq(db: Tx): Promise<number> {
  const row = await db('messages').max({ m: 'seq' }).first();
  return Number(row?.m ?? 0);
}

export async function findAttachment(db: Tx, id: string): Promise<Attachment | undefined> {
  const row = await db<AttachmentRow>('attachments').where({ id }).first();
  return row && toAttachment(row);
}
