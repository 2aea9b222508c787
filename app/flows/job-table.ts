import type { Config } from '../ground/config.ts';
import type { Inbox } from '../domain/inbox.ts';
import { JOB, type JobKind } from '../ground/job-kinds.ts';
import type { Logger } from '../ground/log.ts';
import type { Metrics } from '../ground/metrics.ts';
import { PermanentError } from '../ground/failures.ts';
import type { JobHandler } from '../runtime/outbox.ts';
import { channelContext } from '../platforms/context.ts';
import type { ProviderRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findChannel } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { findMessageContext } from '../store/message-context.ts';
import { pipedriveReceiveJob, type PipedriveGateway } from './channels-api/receive-job.ts';
import type { PresentDeps } from './channels-api/present.ts';
import { conversationContext } from './workspace/record-panels.ts';
import { transcriptJob } from './workspace/transcript-notes.ts';
import type { WorkspaceDeps } from './workspace/deps.ts';

export interface JobDeps {
  db: Db;
  inbox: Inbox;
  registry: ProviderRegistry;
  secrets: Secrets;
  config: Config;
  log: Logger;
  metrics: Metrics;
  fileUrl(attachmentId: string): string;
  /** Where `pipedrive.receive` delivers (the installation's client, or a test's fake). */
  pipedrive: PipedriveGateway;
  present: PresentDeps;
  /** What the workspace surface's transcript job is built from. */
  workspace: WorkspaceDeps;
}

/** Delivers a Pipedrive user's message through the channel's adapter. */
function providerSend(d: JobDeps): JobHandler<{ messageId: string }> {
  return {
    async run({ messageId }, _job, { signal }) {
      const loaded = await findMessageContext(d.db, messageId);
      if (!loaded) throw new PermanentError(`message ${messageId} no longer exists`);
      const { message, channel, conversation, sender } = loaded;
      if (!channel || channel.status === 'deleted') throw new PermanentError('the channel was deleted before the message went out');
      const adapter = d.registry.get(channel.provider);
      if (!adapter) throw new PermanentError(`no adapter for provider ${channel.provider} in this build`);
      if (!conversation || !sender) throw new PermanentError('the conversation or its sender no longer exists');
      // What a conversation is about (conversations started from a Pipedrive record), for the platform.
      const context = await conversationContext(d, conversation.pk);
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

/**
 * THE job table: one handler per job kind, and no other. Typed by the kinds' list, so adding a
 * kind without its handler (or the reverse) does not compile; the outbox is built with it.
 */
export function createJobTable(d: JobDeps): Record<JobKind, JobHandler<any>> {
  return {
    [JOB.providerSend]: providerSend(d),
    [JOB.providerDisconnect]: providerDisconnect(d),
    [JOB.pipedriveReceive]: pipedriveReceiveJob(d.db, d.pipedrive, d.present),
    [JOB.workspaceTranscript]: transcriptJob(d.workspace),
  };
}
