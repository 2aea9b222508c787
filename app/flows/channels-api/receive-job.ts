import type { JobHandler } from '../../runtime/outbox.ts';
import { PermanentError } from '../../ground/failures.ts';
import type { MessageContexts } from '../message-contexts.ts';
import type { ReceiveMessageBody } from '../../pipedrive/client.ts';
import type { Channel } from '../../ground/records.ts';
import { DEFAULT_SURFACE, type Surface } from '../../domain/surface.ts';
import { presentMessage, type PresentDeps } from './present.ts';

export type { ReceiveMessageBody };

/**
 * Sends to Pipedrive on behalf of the installation that owns a channel. Implementations
 * classify failures with RetryableError/PermanentError (429 and 5xx retried).
 */
export interface PipedriveGateway {
  /**
   * `signal` aborts the call (the job's lease ran out); the caller is a worker slot, so waits defer.
   * `surface` is the installation's surface as the job read it with the message (absent: the gateway reads it).
   */
  receiveMessage(channel: Channel, body: ReceiveMessageBody, opts?: { signal?: AbortSignal; surface?: Surface }): Promise<void>;
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
export function pipedriveReceiveJob(contexts: MessageContexts, gateway: PipedriveGateway, present: PresentDeps): JobHandler<{ messageId: string }> {
  return {
    prefetch: (jobs) => contexts.prefetch(jobs),
    async run({ messageId }, job, { signal }) {
      const loaded = await contexts.load(job, messageId);
      if (!loaded) throw new PermanentError(`message ${messageId} no longer exists`);
      const { message, channel, conversation, surface } = loaded;
      if (!channel || channel.status === 'deleted') throw new PermanentError('the channel was deleted');
      if (!conversation) throw new PermanentError('the conversation no longer exists');
      const m = presentMessage(message, present);
      await gateway.receiveMessage(
        channel,
        {
          id: m.id,
          channel_id: channel.providerChannelId,
          sender_id: m.sender_id,
          conversation_id: conversation.id,
          message: m.message,
          status: m.status,
          created_at: m.created_at,
          ...(conversation.link ? { conversation_link: conversation.link } : {}),
          attachments: m.attachments,
        },
        { signal, surface: surface ?? DEFAULT_SURFACE },
      );
    },
  };
}
