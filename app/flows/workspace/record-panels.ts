import { createHash } from 'node:crypto';
import { AppError, notFound } from '../../ground/failures.ts';
import { PLATFORM_PARTICIPANT_ID, pipedriveUserParticipantId } from '../../domain/standing.ts';
import type { Conversation } from '../../ground/records.ts';
import { PipedriveApiError } from '../../pipedrive/api-errors.ts';
import { platformName } from '../install.ts';
import type { ConversationContext } from '../../platforms/contract.ts';
import { findChannel } from '../../store/channels.ts';
import { listParticipants } from '../../store/conversations.ts';
import { findRecordLink, insertRecordLink, listCompanyChannels, type RecordType } from '../../store/workspace.ts';
import type { UiIdentity } from '../../ground/records.ts';
import type { WorkspaceDeps } from './deps.ts';

const PATH: Record<RecordType, string> = { deal: 'deal', person: 'person', organization: 'organization' };

/** The record's page in Pipedrive (https://{company}.pipedrive.com/deal/5). */
export function recordUrl(companyDomain: string | null, type: RecordType, id: number): string {
  return `https://${companyDomain ?? 'app'}.pipedrive.com/${PATH[type]}/${id}`;
}

/**
 * Starts (or finds again) the user's conversation about a record on one channel: a bridge
 * conversation of its own (so its own Airy conversation or Alvaria session), separate from the
 * user's standing conversation. Its id is derived from (channel, user, record), so starting it
 * twice finds the first. The record's title comes from Pipedrive, with the installation's token.
 */
export async function startRecordConversation(
  d: WorkspaceDeps,
  ui: UiIdentity,
  channelId: string,
  record: { type: RecordType; id: number },
): Promise<{ conversation: Conversation; created: boolean }> {
  const channels = await listCompanyChannels(d.db, ui.companyId);
  const channel = channels.some((c) => c.id === channelId) ? await findChannel(d.db, channelId) : undefined;
  if (!channel || channel.status !== 'active') throw notFound('Channel');
  const id = `pdr_${createHash('sha256').update(`${channel.id}|${ui.companyId}|${ui.userId}|${record.type}|${record.id}`).digest('hex').slice(0, 32)}`;
  const existing = await d.inbox.findConversation(channel, { id });
  if (existing && (await findRecordLink(d.db, existing.pk))) return { conversation: existing, created: false };

  let title: string;
  try {
    // A read: a connection dropped on the way (a kept-alive socket closed under us) is tried once more.
    title = await d.client.recordTitle(ui.installationId, record.type, record.id).catch((err) => {
      if (err instanceof PipedriveApiError && err.status === null) return d.client.recordTitle(ui.installationId, record.type, record.id);
      throw err;
    });
  } catch (err) {
    if (err instanceof PipedriveApiError && (err.status === 404 || err.status === 410)) throw notFound(`This ${record.type}`);
    if (err instanceof PipedriveApiError && err.status === 403) throw new AppError('FORBIDDEN', `Pipedrive does not let this app read the ${record.type}; an admin may need to re-authorize the app`);
    d.log.warn({ company: ui.companyId, record: `${record.type}:${record.id}`, reason: err instanceof Error ? err.message : String(err) }, 'could not read a record title from Pipedrive');
    throw new AppError('BAD_GATEWAY', `Pipedrive could not tell the ${record.type}'s title; try again`);
  }
  const url = recordUrl(ui.companyDomain, record.type, record.id);
  const conversation = await d.inbox.ensureConversation(channel, {
    id,
    sourceUserKey: `pdr:${ui.companyId}:${ui.userId}:${record.type}:${record.id}`,
    link: url,
    participants: [
      { id: pipedriveUserParticipantId(ui.companyId, ui.userId), role: 'source_user', name: ui.userName, avatarUrl: null, email: ui.userEmail },
      { id: PLATFORM_PARTICIPANT_ID, role: 'end_user', name: platformName(d, channel.platform, channel.name), avatarUrl: null, email: null },
    ],
  });
  // A crash between the two writes leaves a conversation without its record; starting again completes it.
  await insertRecordLink(d.db, {
    conversationPk: conversation.pk,
    companyId: ui.companyId,
    userId: ui.userId,
    type: record.type,
    id: record.id,
    title: title.slice(0, 255),
    url,
    companyName: ui.companyName,
    createdAt: Date.now(),
  });
  return { conversation, created: !existing };
}

/** What the platform is told about a conversation started from a record (none for standing ones). */
export async function conversationContext(d: Pick<WorkspaceDeps, 'db'>, conversationPk: number): Promise<ConversationContext | undefined> {
  const record = await findRecordLink(d.db, conversationPk);
  if (!record) return undefined;
  const user = (await listParticipants(d.db, [conversationPk])).find((p) => p.role === 'source_user');
  const who = user ? `${user.name}${user.email ? ` <${user.email}>` : ''}` : 'A Pipedrive user';
  const company = record.companyName ? ` of ${record.companyName}` : '';
  return {
    line: `${who}${company} is writing about the Pipedrive ${record.type} "${record.title}": ${record.url}`,
    fields: {
      user_name: user?.name ?? '',
      user_email: user?.email ?? '',
      company: record.companyName ?? '',
      record_type: record.type,
      record_id: String(record.id),
      record_title: record.title,
      record_url: record.url,
    },
  };
}
