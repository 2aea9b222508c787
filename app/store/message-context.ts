import type { Attachment, Channel, Conversation, Message, Participant } from '../ground/records.ts';
import { toChannel, type ChannelRow } from './channels.ts';
import { toConversation, toParticipant, type ConversationRow, type ParticipantRow } from './conversations.ts';
import { insertionOrder, isPg, jsonRowSet, runRows, type Tx } from './db.ts';
import { toAttachment, toMessage, type AttachmentRow, type MessageRow } from './messages.ts';
import type { Surface } from './workspace.ts';

/** A message with what a job needs around it; a part that no longer exists is undefined. */
export interface MessageContext {
  message: Message;
  channel: Channel | undefined;
  conversation: Conversation | undefined;
  /** The message's sender when that is the conversation's source_user (a Pipedrive user's message). */
  sender: Participant | undefined;
  /** The surface the channel's installation chose, when it chose one (installation_surfaces). */
  surface: Surface | undefined;
}

const CHANNEL_COLUMNS: Array<keyof ChannelRow> = [
  'id',
  'provider_channel_id',
  'installation_id',
  'platform',
  'name',
  'avatar_url',
  'config_enc',
  'state_enc',
  'status',
  'last_error',
  'created_at',
  'updated_at',
];
const CONVERSATION_COLUMNS: Array<keyof ConversationRow> = [
  'pk',
  'id',
  'channel_id',
  'status',
  'seen',
  'link',
  'last_seq',
  'platform_ref',
  'platform_state',
  'source_user_key',
  'created_at',
  'updated_at',
];
const PARTICIPANT_COLUMNS: Array<keyof ParticipantRow> = ['conversation_pk', 'id', 'role', 'name', 'avatar_url', 'email'];

const ATTACHMENT_COLUMNS: Array<keyof AttachmentRow> = ['id', 'message_seq', 'name', 'mime_type', 'size', 'storage_key', 'remote_url'];

const aliased = (table: string, prefix: string, columns: readonly string[]) => columns.map((c) => `${table}.${c} as ${prefix}${c}`).join(', ');

function unprefix<R>(row: Record<string, unknown>, prefix: string, columns: Array<keyof R & string>): R | undefined {
  if (row[`${prefix}${columns[0]!}`] === null || row[`${prefix}${columns[0]!}`] === undefined) return undefined;
  return Object.fromEntries(columns.map((c) => [c, row[`${prefix}${c}`]])) as R;
}

/**
 * One statement for the whole context, attachments included: the attachments are a LEFT JOIN
 * too, so a message with n attachments comes back as n rows (one row with null attachment
 * columns when it has none) instead of costing a second read. Plain SQL rather than the query
 * builder: every delivery job runs it, and building it with knex cost more CPU than the read.
 * The messages are named by one JSON list (jsonRowSet), so one statement text serves one
 * message or a whole claim's worth. A message's attachments share their created_at, so
 * insertionOrder breaks the tie.
 */
const COLUMNS = `m.*, ${aliased('c', 'c__', CHANNEL_COLUMNS)}, ${aliased('v', 'v__', CONVERSATION_COLUMNS)},
    ${aliased('p', 'p__', PARTICIPANT_COLUMNS)}, ${aliased('a', 'a__', ATTACHMENT_COLUMNS)}, s.surface as s__surface`;
const SOURCE_USER = `p.conversation_pk = m.conversation_pk and p.id = m.sender_id and p.role = 'source_user'`;
/**
 * The dialect spot. PostgreSQL: each part is a lateral probe fenced with `offset 0`, driven by
 * the list of ids. As one join of seven relations it spent ~2 ms planning (the join order
 * search) and, trusting the 100 rows it assumes for a set-returning function, hashed the list
 * against a scan of all of `messages`, which grew with the table until autovacuum analysed it
 * again: ~3 ms running (npm run bench, Airy, per claim of ~4 messages, pg_stat_statements).
 * Fenced, each probe is planned alone on its own index and the join order is fixed: ~0.5 ms
 * planning and ~0.5 ms running there, 0.3 + 0.2 ms in psql on a copy of that store (3 December
 * 2026). sqlite has no LATERAL and plans the join as nested loops on the same indexes anyway.
 */
const CONTEXT_STATEMENTS = {
  pg: `
  select ${COLUMNS}
  from json_to_recordset(cast(? as json)) as r(id text)
  cross join lateral (select * from messages m where m.id = r.id offset 0) m
  left join lateral (select * from channels c where c.id = m.channel_id offset 0) c on true
  left join lateral (select * from conversations v where v.pk = m.conversation_pk offset 0) v on true
  left join lateral (select * from participants p where ${SOURCE_USER} offset 0) p on true
  left join lateral (select a.*, ${insertionOrder(true, 'a')} as place from attachments a where a.message_seq = m.seq offset 0) a on true
  left join lateral (select * from installation_surfaces s where s.installation_id = c.installation_id offset 0) s on true
  order by m.seq, a.created_at, a.place`,
  sqlite: `
  select ${COLUMNS}
  from messages m
  left join channels c on c.id = m.channel_id
  left join conversations v on v.pk = m.conversation_pk
  left join participants p on ${SOURCE_USER}
  left join attachments a on a.message_seq = m.seq
  left join installation_surfaces s on s.installation_id = c.installation_id
  where m.id in (select x.id from ${jsonRowSet(false, { id: 'text' })} x)
  order by m.seq, a.created_at, ${insertionOrder(false, 'a')}`,
};

/**
 * The context every message job starts from, in one joined read: the message with its
 * attachments, its channel, its conversation, for a Pipedrive user's message its sender, and
 * the surface of the channel's installation (whether deliveries to Pipedrive's inbox go out).
 * Jobs read it at run time, so a retried job always sees the latest state.
 */
export async function findMessageContext(db: Tx, messageId: string): Promise<MessageContext | undefined> {
  return (await findMessageContexts(db, [messageId])).get(messageId);
}

/** The contexts of several messages in one statement (the jobs of one claim), by message id; a message that no longer exists is absent. */
export async function findMessageContexts(db: Tx, messageIds: readonly string[]): Promise<Map<string, MessageContext>> {
  const out = new Map<string, MessageContext>();
  if (!messageIds.length) return out;
  const ids = [...new Set(messageIds)].map((id) => ({ id }));
  // On the writer's connection, not sqlite's read pool: a read connection drops its whole page
  // cache when it sees that another connection committed (sqlite's src/pager.c resets the cache
  // when the WAL changed since its last read). Under ingest that is nearly every read, so each
  // context read fetched every page again, most of them from the WAL by read(). The writer has
  // just written these very pages and holds them: ~0.5 → ~0.1 ms of sqlite time per claim's read
  // in the bench. On PostgreSQL both are the same pool.
  const rows = await runRows<MessageRow & Record<string, unknown>>(db, isPg(db) ? CONTEXT_STATEMENTS.pg : CONTEXT_STATEMENTS.sqlite, [JSON.stringify(ids)]);
  // Rows come grouped by message (ordered by seq), each message's attachments in order.
  for (let i = 0; i < rows.length;) {
    const row = rows[i]!;
    const attachments: Attachment[] = [];
    for (; i < rows.length && rows[i]!.id === row.id; i++) {
      const a = unprefix<AttachmentRow>(rows[i]!, 'a__', ATTACHMENT_COLUMNS);
      if (a) attachments.push(toAttachment(a));
    }
    const channel = unprefix<ChannelRow>(row, 'c__', CHANNEL_COLUMNS);
    const conversation = unprefix<ConversationRow>(row, 'v__', CONVERSATION_COLUMNS);
    const sender = unprefix<ParticipantRow>(row, 'p__', PARTICIPANT_COLUMNS);
    out.set(row.id, {
      message: toMessage(row, attachments),
      channel: channel && toChannel(channel),
      conversation: conversation && toConversation(conversation),
      sender: sender && toParticipant(sender),
      surface: (row.s__surface as Surface | null) ?? undefined,
    });
  }
  return out;
}
