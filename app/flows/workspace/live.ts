import type { Conversation, Message } from '../../ground/records.ts';
import { findConversationByPk } from '../../store/conversations.ts';
import { findMessageById } from '../../store/messages.ts';
import { companyOfChannel, findRecordLink, insertTicket, maxMessageSeqNow, messagesChangedSince, redeemTicket, type RecordLink } from '../../store/workspace.ts';
import type { WorkspaceDeps } from './deps.ts';

/*
 * What the workspace's live stream reads and writes: single-use stream tickets, the messages
 * changed since the last look, and who may see a conversation. The HTTP stream hub fans out.
 */

export function saveTicket(d: Pick<WorkspaceDeps, 'db'>, t: { hash: string; companyId: number; userId: number; expiresAt: number }): Promise<void> {
  return insertTicket(d.db, t, Date.now());
}

/** The ticket's holder, once: a redeemed or expired ticket answers undefined. */
export function takeTicket(d: Pick<WorkspaceDeps, 'db'>, hash: string): Promise<{ companyId: number; userId: number } | undefined> {
  return redeemTicket(d.db, hash, Date.now());
}

/** The newest message's seq now: messages above it are new to a stream opened now. */
export function latestMessageSeq(d: Pick<WorkspaceDeps, 'db'>): Promise<number> {
  return maxMessageSeqNow(d.db);
}

export function changedSince(d: Pick<WorkspaceDeps, 'db'>, since: number, after: { updatedAt: number; seq: number } | undefined, limit: number) {
  return messagesChangedSince(d.db, since, after, limit);
}

/** A conversation with what decides who sees it: its channel's company and the record it is about, if any. */
export async function audienceOf(
  d: Pick<WorkspaceDeps, 'db'>,
  conversationPk: number,
): Promise<{ conversation: Conversation; company: number | undefined; record: RecordLink | undefined } | undefined> {
  const conversation = await findConversationByPk(d.db, conversationPk);
  if (!conversation) return undefined;
  const [company, record] = await Promise.all([companyOfChannel(d.db, conversation.channelId), findRecordLink(d.db, conversationPk)]);
  return { conversation, company, record };
}

export function messageById(d: Pick<WorkspaceDeps, 'db'>, id: string): Promise<Message | undefined> {
  return findMessageById(d.db, id);
}
