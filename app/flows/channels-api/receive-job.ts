import type { JobHandler } from '../../runtime/outbox.ts';
import { PermanentError } from '../../ground/failures.ts';
import { findChannel } from '../../store/channels.ts';
import { findConversationByPk } from '../../store/conversations.ts';
import type { Db } from '../../store/db.ts';
import { findMessageById } from '../../store/messages.ts';
import type { Channel } from '../../ground/records.ts';
import { presentMessage, type PresentDeps } from './present.ts';

/** The body of Pipedrive's POST /v1/channels/messages/receive. */
export interface ReceiveMessageBody {
  id: string;
  channel_id: string;
  sender_id: string;
  conversation_id: string;
  message: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  created_at: string;
  conversation_link?: string;
  attachments: Array<{ id: string; type: string; url: string; name?: string; size?: number; link_expires?: boolean }>;
}

/**
 * Sends to Pipedrive on behalf of the installation that owns a channel. Implementations
 * classify failures with RetryableError/PermanentError (429 and 5xx retried).
 */
export interface PipedriveGateway {
  /** `signal` aborts the call (the job's lease ran out); the caller is a worker slot, so waits defer. */
  receiveMessage(channel: Channel, body: ReceiveMessageBody, opts?: { signal?: AbortSignal }): Promise<void>;
}

/** Until an installation is linked there is nobody to deliver to: the job is dead-lettered with that reason. */
export const unlinkedGateway: PipedriveGateway = {
  async receiveMessage(channel) {
    throw new PermanentError(`channel ${channel.providerChannelId} is not linked to a Pipedrive installation`);
  },
};

/**
 * Pushes a message (new, or with a changed status) to Pipedrive. The message is read at run
 * time, so a retried job always sends the latest status under the same id (Pipedrive upserts).
 */
export function pipedriveReceiveJob(db: Db, gateway: PipedriveGateway, present: PresentDeps): JobHandler<{ messageId: string }> {
  return {
    async run({ messageId }, _job, { signal }) {
      const message = await findMessageById(db, messageId);
      if (!message) throw new PermanentError(`message ${messageId} no longer exists`);
      const channel = await findChannel(db, message.channelId);
      if (!channel || channel.status === 'deleted') throw new PermanentError('the channel was deleted');
      const conversation = await findConversationByPk(db, message.conversationPk);
      if (!conversation) throw new PermanentError('the conversation no longer exists');
      const m = presentMessage(message, present);
      await gateway.receiveMessage(channel, {
        id: m.id,
        channel_id: channel.providerChannelId,
        sender_id: m.sender_id,
        conversation_id: conversation.id,
        message: m.message,
        status: m.status,
        created_at: m.created_at,
        ...(conversation.link ? { conversation_link: conversation.link } : {}),
        attachments: m.attachments,
      }, { signal });
    },
  };
}
