import { AppError, notFound } from '../../ground/failures.ts';
import type { StagedFile } from '../../domain/inbox.ts';
import { ensureStandingConversation, pipedriveUserKey } from '../../domain/standing.ts';
import type { Channel, Conversation, Message } from '../../ground/records.ts';
import { platformName } from '../install.ts';
import { findChannel } from '../../store/channels.ts';
import { findConversationByPk, listParticipants } from '../../store/conversations.ts';
import type { Installation } from '../../store/installations.ts';
import { findMessageById, pageMessagesMany } from '../../store/messages.ts';
import {
  deadSendJobOf,
  findConversationById,
  findRecordLink,
  listCompanyChannels,
  listRecordLinks,
  listWorkspaceConversations,
  markRead,
  queuedMessageIds,
  type RecordLink,
  type RecordType,
} from '../../store/workspace.ts';
import type { UiIdentity } from '../../ground/records.ts';
import type { WorkspaceDeps } from './deps.ts';
import { presentUiMessage, type UiMessage } from './present.ts';
import { transcriptStates } from './transcript-notes.ts';

export interface UiConversation {
  id: string;
  channelId: string;
  title: string;
  record?: { type: RecordType; id: number; title: string; url: string };
  lastActivityAt: string;
  unread: number;
  lastMessage?: { text: string; at: string; direction: 'out' | 'in' };
  transcript?: { savedAt?: string; pending: boolean };
}

/** The participant profile the inbox needs for a Pipedrive user's standing conversation. */
function asInstallationProfile(ui: UiIdentity): Installation {
  return { companyId: ui.companyId, userId: ui.userId, userName: ui.userName, userEmail: ui.userEmail, iconUrl: null } as Installation;
}

/**
 * Every channel of the company gives each of its users a standing conversation. Users who
 * installed the app got theirs at install or connect; a colleague who only opens the window
 * gets it here, with the same derived id (so it is found again, never duplicated).
 */
async function ensureStanding(d: WorkspaceDeps, ui: UiIdentity, channels: Array<{ id: string }>): Promise<void> {
  for (const c of channels) {
    const channel = await findChannel(d.db, c.id);
    if (channel && channel.status === 'active') await ensureStandingConversation(d.inbox, channel, asInstallationProfile(ui), platformName(d, channel.platform, channel.name));
  }
}

export async function listConversations(d: WorkspaceDeps, ui: UiIdentity, filter: { channelId?: string; record?: { type: RecordType; id: number } }): Promise<UiConversation[]> {
  let channels = await listCompanyChannels(d.db, ui.companyId);
  if (filter.channelId !== undefined) channels = channels.filter((c) => c.id === filter.channelId);
  if (!filter.record) await ensureStanding(d, ui, channels);
  const rows = await listWorkspaceConversations(d.db, {
    companyId: ui.companyId,
    userId: ui.userId,
    sourceUserKey: pipedriveUserKey(ui.companyId, ui.userId),
    channelIds: channels.map((c) => c.id),
    ...(filter.record ? { record: filter.record } : {}),
  });
  return present(d, channels, rows);
}

async function present(d: WorkspaceDeps, channels: Array<{ id: string; name: string }>, rows: Array<{ conversation: Conversation; unread: number }>): Promise<UiConversation[]> {
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const pks = rows.map((r) => r.conversation.pk);
  const [records, lasts, transcripts] = await Promise.all([
    listRecordLinks(d.db, pks),
    pageMessagesMany(
      d.db,
      pks.map((pk) => ({ conversationPk: pk, limit: 1 })),
    ),
    transcriptStates(d.db, pks),
  ]);
  return rows.map(({ conversation: c, unread }) => {
    const record = records.get(c.pk);
    const last = lasts.get(c.pk)?.[0];
    const t = transcripts.get(c.pk);
    return {
      id: c.id,
      channelId: c.channelId,
      title: record ? record.title : (names.get(c.channelId) ?? c.channelId),
      ...(record ? { record: { type: record.type, id: record.id, title: record.title, url: record.url } } : {}),
      lastActivityAt: new Date(last?.createdAt ?? c.createdAt).toISOString(),
      unread,
      ...(last ? { lastMessage: { text: last.text, at: new Date(last.createdAt).toISOString(), direction: last.origin === 'pipedrive' ? ('out' as const) : ('in' as const) } } : {}),
      ...(record ? { transcript: { ...(t?.savedAt ? { savedAt: new Date(t.savedAt).toISOString() } : {}), pending: t?.pending ?? false } } : {}),
    };
  });
}

/** One conversation as the list presents it (after it changed). */
export async function presentOne(d: WorkspaceDeps, ui: UiIdentity, conversation: Conversation): Promise<UiConversation> {
  const channels = await listCompanyChannels(d.db, ui.companyId);
  const rows = await listWorkspaceConversations(d.db, {
    companyId: ui.companyId,
    userId: ui.userId,
    sourceUserKey: pipedriveUserKey(ui.companyId, ui.userId),
    channelIds: [conversation.channelId],
    conversationPk: conversation.pk,
    record: undefined,
  });
  const row = rows[0] ?? { conversation, unread: 0 };
  return (await present(d, channels, [row]))[0]!;
}

export interface Access {
  conversation: Conversation;
  channel: Channel;
  record: RecordLink | undefined;
  /** The user writes in it (their standing conversation, or one about a record they started). */
  owner: boolean;
}

/**
 * A conversation this user may see: in a channel of their company, and either their own
 * standing conversation or one about a record of their company. Anything else is 404, so
 * another company's ids reveal nothing.
 */
export async function access(d: WorkspaceDeps, ui: UiIdentity, conversationId: string): Promise<Access> {
  const conversation = conversationId.length <= 128 ? await findConversationById(d.db, conversationId) : undefined;
  if (!conversation) throw notFound('Conversation');
  const channels = await listCompanyChannels(d.db, ui.companyId);
  const channel = channels.some((c) => c.id === conversation.channelId) ? await findChannel(d.db, conversation.channelId) : undefined;
  if (!channel) throw notFound('Conversation');
  const record = await findRecordLink(d.db, conversation.pk);
  const standing = conversation.sourceUserKey === pipedriveUserKey(ui.companyId, ui.userId);
  if (!standing && !(record && record.companyId === ui.companyId)) throw notFound('Conversation');
  return { conversation, channel, record, owner: standing || (record?.userId === ui.userId && record.companyId === ui.companyId) };
}

export async function listMessages(d: WorkspaceDeps, a: Access, page: { before?: number; limit: number }): Promise<{ messages: UiMessage[]; nextBefore?: string }> {
  const list = (await pageMessagesMany(d.db, [{ conversationPk: a.conversation.pk, beforeSeq: page.before, limit: page.limit }])).get(a.conversation.pk) ?? [];
  const [participants, queued] = await Promise.all([listParticipants(d.db, [a.conversation.pk]), queuedMessageIds(d.db, a.conversation.id)]);
  const oldestFirst = [...list].reverse();
  return {
    messages: oldestFirst.map((m) => presentUiMessage(m, participants, queued, d.fileUrl)),
    ...(list.length === page.limit && oldestFirst[0] ? { nextBefore: String(oldestFirst[0].seq) } : {}),
  };
}

export async function presentMessageOf(d: WorkspaceDeps, conversation: Conversation, message: Message): Promise<UiMessage> {
  const [participants, queued] = await Promise.all([listParticipants(d.db, [conversation.pk]), queuedMessageIds(d.db, conversation.id)]);
  return presentUiMessage(message, participants, queued, d.fileUrl);
}

/** Stores the user's message (and files) and queues its delivery, exactly as postMessage does. */
export async function send(d: WorkspaceDeps, a: Access, input: { text: string; files: StagedFile[] }): Promise<UiMessage> {
  if (!a.owner) throw new AppError('FORBIDDEN', 'Only the person who started this conversation writes in it');
  if (a.channel.status !== 'active') throw notFound('Conversation');
  const message = await d.inbox.postMessage(a.channel, { conversationId: a.conversation.id, text: input.text, files: input.files });
  return presentMessageOf(d, a.conversation, message);
}

/** Send again: the message must be the user's own, failed, in a conversation they may see. */
export async function retry(d: WorkspaceDeps, ui: UiIdentity, messageId: string): Promise<UiMessage> {
  const message = messageId.length <= 64 ? await findMessageById(d.db, messageId) : undefined;
  if (!message || message.origin !== 'pipedrive') throw notFound('Message');
  const conversation = await findConversationByPk(d.db, message.conversationPk);
  if (!conversation) throw notFound('Message');
  const a = await access(d, ui, conversation.id).catch(() => {
    throw notFound('Message');
  });
  if (!a.owner) throw new AppError('FORBIDDEN', 'Only the person who wrote this message can send it again');
  const resent = await d.inbox.resend(message.id, await deadSendJobOf(d.db, conversation.id, message.id));
  return presentMessageOf(d, conversation, resent);
}

export async function markConversationRead(d: WorkspaceDeps, ui: UiIdentity, a: Access): Promise<void> {
  await markRead(d.db, a.conversation.pk, ui.userId, a.conversation.lastSeq, Date.now());
}

export async function unreadTotal(d: WorkspaceDeps, ui: UiIdentity): Promise<number> {
  return (await listConversations(d, ui, {})).reduce((n, c) => n + c.unread, 0);
}
