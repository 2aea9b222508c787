import type { Config } from '../ground/config.ts';
import type { PlatformInbox } from '../domain/platform-inbox.ts';
import { JOB, type JobKind } from '../ground/job-kinds.ts';
import type { Logger } from '../ground/log.ts';
import type { Metrics } from '../ground/metrics.ts';
import { PermanentError } from '../ground/failures.ts';
import type { JobHandler } from '../runtime/outbox.ts';
import { channelContext } from '../platforms/context.ts';
import type { OutgoingMessage } from '../platforms/contract.ts';
import type { PlatformRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findChannel } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { MessageContexts } from './message-contexts.ts';
import { pipedriveReceiveJob, type PipedriveGateway } from './channels-api/receive-job.ts';
import type { PresentDeps } from './channels-api/present.ts';
import { conversationContext } from './workspace/record-panels.ts';
import { transcriptJob } from './workspace/transcript-notes.ts';
import type { WorkspaceDeps } from './workspace/deps.ts';

export interface JobDeps {
  db: Db;
  /** Where the send's outcome is recorded (the platform-facing side of the domain). */
  platform: PlatformInbox;
  registry: PlatformRegistry;
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
function platformSend(d: JobDeps, contexts: MessageContexts): JobHandler<{ messageId: string }> {
  return {
    prefetch: (jobs) => contexts.prefetch(jobs),
    async run({ messageId }, job, { signal }) {
      const loaded = await contexts.load(job, messageId);
      if (!loaded) throw new PermanentError(`message ${messageId} no longer exists`);
      const { message, channel, conversation, sender } = loaded;
      if (!channel || channel.status === 'deleted') throw new PermanentError('the channel was deleted before the message went out');
      const adapter = d.registry.get(channel.platform);
      if (!adapter) throw new PermanentError(`no adapter for platform ${channel.platform} in this build`);
      if (!conversation || !sender) throw new PermanentError('the conversation or its sender no longer exists');
      // What a conversation is about (conversations started from a Pipedrive record), for the platform.
      const context = await conversationContext(d, conversation.pk);
      const ctx = channelContext(channel, d.secrets);
      const outgoing: OutgoingMessage = {
        message,
        conversation,
        sender,
        files: message.attachments.map((a) => ({ id: a.id, name: a.name, mimeType: a.mimeType, size: a.size, url: a.storageKey ? d.fileUrl(a.id) : (a.remoteUrl ?? '') })),
        signal,
        ...(context ? { context } : {}),
      };
      // The adapter reports the platform's ids; this job records them, once. An id known
      // before sending is recorded first, so a receipt that overtakes the answer finds it.
      let recorded = message.platformMessageId;
      const known = adapter.platformMessageId?.(ctx, outgoing) ?? null;
      if (known !== null && known !== recorded) {
        await d.platform.recordPlatformMessageId(messageId, known);
        recorded = known;
      }
      const outcome = await d.metrics.time(channel.platform, 'send', () => adapter.send(ctx, outgoing));
      if (outcome.failed !== undefined) {
        // Nothing on the platform side will ever carry it: it fails in Pipedrive, no dead letter.
        await d.platform.setMessageStatus(messageId, 'failed', { error: outcome.failed });
      } else if (message.status === 'failed') {
        // A replayed dead letter went through after all: tell Pipedrive (same id, new status).
        await d.platform.setMessageStatus(messageId, 'sent', { error: null, platformMessageId: outcome.platformMessageId });
      } else if (outcome.platformMessageId !== null && outcome.platformMessageId !== recorded) {
        await d.platform.recordPlatformMessageId(messageId, outcome.platformMessageId);
      }
    },
    async onDead({ messageId }, reason, tx) {
      await d.platform.setMessageStatus(messageId, 'failed', { error: reason, tx });
    },
  };
}

/** Removes the platform side of a deleted channel. */
function platformDisconnect(d: JobDeps): JobHandler<{ channelId: string }> {
  return {
    async run({ channelId }) {
      const channel = await findChannel(d.db, channelId);
      if (!channel) return;
      const adapter = d.registry.get(channel.platform);
      if (!adapter) throw new PermanentError(`no adapter for platform ${channel.platform} in this build`);
      await d.metrics.time(channel.platform, 'disconnect', () => adapter.disconnect(channelContext(channel, d.secrets)));
    },
  };
}

/**
 * THE job table: one handler per job kind, and no other. Typed by the kinds' list, so adding a
 * kind without its handler (or the reverse) does not compile; the outbox is built with it.
 */
export function createJobTable(d: JobDeps): Record<JobKind, JobHandler<any>> {
  // The message jobs of one claim read their contexts together (JobHandler.prefetch).
  const contexts = new MessageContexts(d.db);
  return {
    [JOB.platformSend]: platformSend(d, contexts),
    [JOB.platformDisconnect]: platformDisconnect(d),
    [JOB.pipedriveReceive]: pipedriveReceiveJob(contexts, d.pipedrive, d.present),
    [JOB.workspaceTranscript]: transcriptJob(d.workspace),
  };
}
