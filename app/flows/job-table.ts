import type { Config } from '../ground/config.ts';
import { JOB, type Inbox } from '../domain/inbox.ts';
import type { Logger } from '../ground/log.ts';
import type { Metrics } from '../ground/metrics.ts';
import { PermanentError } from '../ground/failures.ts';
import type { JobHandler, JobHandlers } from '../runtime/outbox.ts';
import { channelContext } from '../platforms/context.ts';
import type { ConversationContext } from '../platforms/contract.ts';
import type { ProviderRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findChannel } from '../store/channels.ts';
import { findConversationByPk, listParticipants } from '../store/conversations.ts';
import type { Db } from '../store/db.ts';
import { findMessageById } from '../store/messages.ts';

export interface JobDeps {
  db: Db;
  inbox: Inbox;
  registry: ProviderRegistry;
  secrets: Secrets;
  config: Config;
  log: Logger;
  metrics: Metrics;
  fileUrl(attachmentId: string): string;
  /** What a conversation is about (conversations started from a Pipedrive record), for the platform. */
  conversationContext?(conversationPk: number): Promise<ConversationContext | undefined>;
}

/** Delivers a Pipedrive user's message through the channel's adapter. */
function providerSend(d: JobDeps): JobHandler<{ messageId: string }> {
  return {
    async run({ messageId }, _job, { signal }) {
      const message = await findMessageById(d.db, messageId);
      if (!message) throw new PermanentError(`message ${messageId} no longer exists`);
      const channel = await findChannel(d.db, message.channelId);
      if (!channel || channel.status === 'deleted') throw new PermanentError('the channel was deleted before the message went out');
      const adapter = d.registry.get(channel.provider);
      if (!adapter) throw new PermanentError(`no adapter for provider ${channel.provider} in this build`);
      const conversation = await findConversationByPk(d.db, message.conversationPk);
      const sender = (await listParticipants(d.db, [message.conversationPk])).find((p) => p.id === message.senderId && p.role === 'source_user');
      if (!conversation || !sender) throw new PermanentError('the conversation or its sender no longer exists');
      const context = await d.conversationContext?.(conversation.pk);
      const outcome = await d.metrics.time(channel.provider, 'send', () =>
        adapter.send(channelContext(channel, d.secrets), {
          message,
          conversation,
          sender,
          files: message.attachments.map((a) => ({ id: a.id, name: a.name, mimeType: a.mimeType, size: a.size, url: a.storageKey ? d.fileUrl(a.id) : (a.remoteUrl ?? '') })),
          signal,
          ...(context ? { context } : {}),
        }),
      );
      if (message.status === 'failed') {
        // A replayed dead letter went through after all: tell Pipedrive (same id, new status).
        await d.inbox.setMessageStatus(messageId, 'sent', { error: null, providerMessageId: outcome.providerMessageId });
      } else if (outcome.providerMessageId !== null) {
        await d.inbox.setProviderMessageId(messageId, outcome.providerMessageId);
      }
    },
    async onDead({ messageId }, reason, tx) {
      await d.inbox.setMessageStatus(messageId, 'failed', { error: reason, tx });
    },
  };
}

/** Removes the platform side of a deleted channel. */
function providerDisconnect(d: JobDeps): JobHandler<{ channelId: string }> {
  return {
    async run({ channelId }) {
      const channel = await findChannel(d.db, channelId);
      if (!channel) return;
      const adapter = d.registry.get(channel.provider);
      if (!adapter) throw new PermanentError(`no adapter for provider ${channel.provider} in this build`);
      await d.metrics.time(channel.provider, 'disconnect', () => adapter.disconnect(channelContext(channel, d.secrets)));
    },
  };
}

export function createJobHandlers(d: JobDeps, extra: JobHandlers = {}): JobHandlers {
  return {
    [JOB.providerSend]: providerSend(d),
    [JOB.providerDisconnect]: providerDisconnect(d),
    ...extra,
  };
}
