import type { Channel, Conversation, Message, Participant } from '../ground/records.ts';
import { toChannel, type ChannelRow } from './channels.ts';
import { toConversation, toParticipant, type ConversationRow, type ParticipantRow } from './conversations.ts';
import type { Tx } from './db.ts';
import { withAttachments, type MessageRow } from './messages.ts';

/** A message with what a job needs around it; a part that no longer exists is undefined. */
export interface MessageContext {
  message: Message;
  channel: Channel | undefined;
  conversation: Conversation | undefined;
  /** The message's sender when that is the conversation's source_user (a Pipedrive user's message). */
  sender: Participant | undefined;
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

const aliased = <K extends string>(table: string, prefix: string, columns: K[]) => columns.map((c) => `${table}.${c} as ${prefix}${c}`);

function unprefix<R>(row: Record<string, unknown>, prefix: string, columns: Array<keyof R & string>): R | undefined {
  if (row[`${prefix}${columns[0]!}`] === null || row[`${prefix}${columns[0]!}`] === undefined) return undefined;
  return Object.fromEntries(columns.map((c) => [c, row[`${prefix}${c}`]])) as R;
}

/**
 * The context every message job starts from, in one joined read (plus the attachments): the
 * message, its channel, its conversation and, for a Pipedrive user's message, its sender.
 * Jobs read it at run time, so a retried job always sees the latest state.
 */
export async function findMessageContext(db: Tx, messageId: string): Promise<MessageContext | undefined> {
  const row = await db('messages as m')
    .leftJoin('channels as c', 'c.id', 'm.channel_id')
    .leftJoin('conversations as v', 'v.pk', 'm.conversation_pk')
    .leftJoin('participants as p', function () {
      this.on('p.conversation_pk', '=', 'm.conversation_pk').andOn('p.id', '=', 'm.sender_id').andOnVal('p.role', '=', 'source_user');
    })
    .where('m.id', messageId)
    .first<(MessageRow & Record<string, unknown>) | undefined>([
      'm.*',
      ...aliased('c', 'c__', CHANNEL_COLUMNS),
      ...aliased('v', 'v__', CONVERSATION_COLUMNS),
      ...aliased('p', 'p__', PARTICIPANT_COLUMNS),
    ]);
  if (!row) return undefined;
  const [message] = await withAttachments(db, [row]);
  const channel = unprefix<ChannelRow>(row, 'c__', CHANNEL_COLUMNS);
  const conversation = unprefix<ConversationRow>(row, 'v__', CONVERSATION_COLUMNS);
  const sender = unprefix<ParticipantRow>(row, 'p__', PARTICIPANT_COLUMNS);
  return {
    message: message!,
    channel: channel && toChannel(channel),
    conversation: conversation && toConversation(conversation),
    sender: sender && toParticipant(sender),
  };
}
