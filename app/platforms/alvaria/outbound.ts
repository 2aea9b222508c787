import { isAxiosError } from 'axios';
import { classifyHttpError, DeferError, RetryableError } from '../../ground/failures.ts';
import type { ChannelContext, OutgoingMessage, PlatformServices, SendOutcome } from '../contract.ts';
import type { AlvariaClient, OutgoingPart } from './client.ts';
import { attachmentType, type AlvariaConfig, type AlvariaState } from './schema.ts';
import type { AlvariaSessionRepository, Sessions } from './sessions.ts';

export interface SendDeps {
  services: PlatformServices;
  sessions: Sessions;
  api: AlvariaClient;
  repo: AlvariaSessionRepository;
  /** Bounds of the wait between looks at a provisional session (NEW_SESSION wakes it sooner). */
  deferMs: { min: number; max: number };
  now: () => number;
}

/** The part number of a session's context line (see below); message parts count from 0. */
const CONTEXT_PART = -1;

/** Status codes with which Alvaria refuses a session id it no longer knows (exact code unconfirmed). */
const SESSION_GONE = new Set([404, 410]);

/**
 * Delivers one Pipedrive message: through the conversation's live session, or by opening
 * one and waiting (durably, without spending attempts) for NEW_SESSION. Text goes first,
 * then each attachment as its own message; parts already accepted are not sent again when
 * a later part is retried.
 */
export async function sendMessage(d: SendDeps, { channel, config }: ChannelContext<AlvariaConfig, AlvariaState>, out: OutgoingMessage): Promise<SendOutcome> {
  const { domain } = d.services;
  let decision = await d.sessions.decide(channel.id, out.conversation, out.message);

  if (decision.kind === 'open') {
    let sessionId: string;
    try {
      sessionId = await d.api.createSession({ workTypeId: config.work_type_id, contactName: out.sender.name || 'Pipedrive user', integration: 'Pipedrive' }, out.signal);
    } catch (err) {
      throw classifyHttpError(err, 'Alvaria Create Session', d.services.log);
    }
    decision = await d.sessions.record(channel.id, out.conversation, sessionId);
    // A new session after SESSION_END reopens the conversation in Pipedrive.
    if (out.conversation.status === 'closed') await domain.updateConversation(out.conversation, { status: 'open' });
    d.services.log.info({ channel: channel.id, conversation: out.conversation.id, session: sessionId }, 'alvaria session requested');
  }

  if (decision.kind === 'failed') {
    // Nothing will ever carry this message: it fails in Pipedrive and the job ends here.
    return { platformMessageId: null, failed: decision.reason };
  }
  if (decision.kind === 'wait') {
    // NEW_SESSION wakes this job, but it can arrive while the job is still running (before the
    // outbox records the defer) and wake nothing: look again soon, then less and less often.
    const age = Math.max(0, d.now() - decision.session.createdAt);
    const ms = Math.min(d.deferMs.max, Math.max(d.deferMs.min, Math.floor(age / 2)));
    throw new DeferError(`waiting for Alvaria to confirm session ${decision.session.sessionId}`, ms);
  }
  if (decision.kind !== 'live') throw new Error(`unexpected session decision ${decision.kind}`);
  const session = decision.session;

  const parts: OutgoingPart[] = [];
  if (out.message.text.trim()) parts.push({ text: out.message.text });
  for (const f of out.files) parts.push({ attachment: { type: attachmentType(f.mimeType), url: f.url } });

  const sendPart = async (part: OutgoingPart): Promise<string> => {
    try {
      return await d.api.sendMessage(session.sessionId, part, out.signal);
    } catch (err) {
      const status = isAxiosError(err) ? err.response?.status : undefined;
      if (status !== undefined && SESSION_GONE.has(status)) {
        // We missed its SESSION_END (or it aged out early): the retry opens a new session.
        await d.sessions.forget(session, `Alvaria refused the session (HTTP ${status})`);
        throw new RetryableError(`Alvaria no longer knows session ${session.sessionId} (HTTP ${status}); a new session opens on retry`);
      }
      throw classifyHttpError(err, 'Alvaria Send Message', d.services.log);
    }
  };

  const done = await d.repo.sentParts(out.message.id);
  // Sessions carry only contactName: a conversation started from a Pipedrive record opens each
  // of its sessions with a context line (recorded as a part of the message that went first, so
  // a retry of that message does not repeat it).
  if (out.context && !done.has(CONTEXT_PART) && (await d.repo.partsSentSince(channel.id, out.conversation.pk, session.createdAt)) === 0) {
    const contextId = await sendPart({ text: out.context.line });
    await d.repo.recordPart({ channelId: channel.id, alvariaMessageId: contextId, messageId: out.message.id, part: CONTEXT_PART }, d.now());
  }
  let first: string | null = done.get(0) ?? null;
  for (const [i, part] of parts.entries()) {
    if (done.has(i)) continue;
    const alvariaMessageId = await sendPart(part);
    await d.repo.recordPart({ channelId: channel.id, alvariaMessageId, messageId: out.message.id, part: i }, d.now());
    // A MESSAGE_STATUS FAILED may have overtaken this response: apply it now, exactly once.
    const failure = await d.repo.claimFailure(channel.id, alvariaMessageId);
    if (failure) await domain.setMessageStatus(failure.messageId, 'failed', { error: failure.failure, platformMessageId: first ?? alvariaMessageId });
    first ??= alvariaMessageId;
  }
  return { platformMessageId: first };
}
