import { createHash } from 'node:crypto';
import type { Installation } from '../store/installations.ts';
import type { Inbox } from './inbox.ts';
import type { Channel, Conversation } from '../ground/records.ts';

/** The end_user of a standing conversation until an agent of the platform joins. */
export const PLATFORM_PARTICIPANT_ID = 'platform';

/** The source_user participant id of a Pipedrive user (stable, derived from the user id). */
export const pipedriveUserParticipantId = (companyId: number, userId: number) => `pd-${companyId}-${userId}`;

/** The identity key of a Pipedrive user within a channel (conversations.source_user_key). */
export const pipedriveUserKey = (companyId: number, userId: number) => `pd:${companyId}:${userId}`;

/**
 * Pipedrive cannot open a conversation (it only replies), so each (channel, Pipedrive user)
 * gets one standing conversation whose id is derived from the user's identity: installing
 * twice, or connecting the channel again, finds the same conversation.
 */
export function standingConversationId(channel: Channel, companyId: number, userId: number): string {
  const digest = createHash('sha256').update(`${channel.id}|${companyId}|${userId}`).digest('hex');
  return `pdu_${digest.slice(0, 32)}`;
}

export function ensureStandingConversation(inbox: Inbox, channel: Channel, user: Installation, platformName: string): Promise<Conversation> {
  return inbox.ensureConversation(channel, {
    id: standingConversationId(channel, user.companyId, user.userId),
    sourceUserKey: pipedriveUserKey(user.companyId, user.userId),
    participants: [
      {
        id: pipedriveUserParticipantId(user.companyId, user.userId),
        role: 'source_user',
        name: user.userName ?? `Pipedrive user ${user.userId}`,
        avatarUrl: user.iconUrl,
        email: user.userEmail,
      },
      { id: PLATFORM_PARTICIPANT_ID, role: 'end_user', name: platformName, avatarUrl: null, email: null },
    ],
  });
}
