import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Conversation, Participant } from '../../ground/records.ts';
import type { ChannelContext, PlatformServices, WebhookReply, WebhookRequest } from '../contract.ts';
import type { AlvariaSessionRepository } from './sessions.ts';
import { verifyCallbackJwt } from './verify.ts';
import { CallbackSchema, describeAttachment, type AlvariaConfig, type AlvariaState, type Callback } from './schema.ts';

/**
 * (channel, Alvaria session id) → our session row and its conversation. Fixed once the session
 * is recorded with its conversation (a parked one, without, is not kept), so only bounded,
 * never expired. Keys carry the channel: one channel's sessions never answer for another's.
 */
export type KnownSessions = LRUCache<string, { pk: number; conversationId: string }>;
export const knownSessions = (max = 20_000): KnownSessions => new LRUCache({ max });

export interface CallbackDeps {
  services: PlatformServices;
  repo: AlvariaSessionRepository;
  sessions: KnownSessions;
  now: () => number;
  /** Oldest callback token accepted, by its `iat`. */
  maxAgeSeconds: number;
}

const KNOWN_EVENTS = new Set(['NEW_SESSION', 'AGENT_JOINED', 'MESSAGE_STATUS', 'SESSION_REROUTE', 'SESSION_END', 'MESSAGE']);
const Envelope = z.object({ eventId: z.string().min(1), event: z.string().optional() });

/**
 * POST /webhooks/alvaria/:channelId. Verifies the JWT before reading the body, deduplicates
 * by `eventId` (Alvaria retries for up to 4 h), persists, then answers 200. Every effect is
 * idempotent and the event key is recorded last, so a failure half-way is simply redone by
 * Alvaria's retry. 5xx only when persisting fails; out-of-order events are parked or
 * ignored, never refused.
 */
export async function handleCallback(d: CallbackDeps, ctx: ChannelContext<AlvariaConfig, AlvariaState>, req: WebhookRequest): Promise<WebhookReply> {
  const { log, domain } = d.services;
  const { channel, config } = ctx;
  const auth = await verifyCallbackJwt(req.headers.authorization, config.callback_public_keys, d.now, {
    maxAgeSeconds: d.maxAgeSeconds,
    ...(config.callback_issuer ? { issuer: config.callback_issuer } : {}),
    ...(config.callback_audience ? { audience: config.callback_audience } : {}),
  });
  if (!auth.ok) {
    log.warn({ channel: channel.id, reason: auth.reason }, 'alvaria callback rejected: bad token');
    return { status: 401, body: { error: auth.reason === 'missing' ? 'missing Authorization token' : 'invalid Authorization token' } };
  }

  let json: unknown;
  try {
    json = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    return { status: 400, body: { error: 'body is not JSON' } };
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) return { status: 400, body: { error: 'callback without an eventId' } };
  const eventName = envelope.data.event ?? 'MESSAGE';
  if (!KNOWN_EVENTS.has(eventName)) {
    log.warn({ channel: channel.id, event: eventName }, 'alvaria callback of an unknown type ignored');
    return { status: 200, body: { ignored: true } };
  }
  const parsed = CallbackSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { status: 400, body: { error: `malformed ${eventName} callback${issue ? `: ${issue.path.join('.')} ${issue.message}` : ''}` } };
  }

  const source = `alvaria:${channel.id}`;
  try {
    // A MESSAGE is deduplicated where it is stored (recordInbound checks the event key in its
    // transaction) and does nothing before that a redelivery could repeat harmfully, so the
    // busiest callback skips the pre-check's round trip. The others act before recording.
    if (eventName !== 'MESSAGE' && (await domain.eventSeen(source, parsed.data.eventId))) return { status: 200, body: { duplicate: true } };
    const outcome = await apply(d, ctx, source, parsed.data);
    return { status: 200, body: outcome };
  } catch (err) {
    log.error({ channel: channel.id, event: eventName, err: err instanceof Error ? err.message : String(err) }, 'alvaria callback could not be stored');
    return { status: 503, body: { error: 'temporarily unavailable; retry later' } };
  }
}

type Outcome = { ok: true } | { ignored: true } | { duplicate: true };

async function apply(d: CallbackDeps, { channel }: ChannelContext<AlvariaConfig, AlvariaState>, source: string, e: Callback): Promise<Outcome> {
  const { domain, log } = d.services;
  const done = async (o: Outcome = { ok: true }): Promise<Outcome> => {
    await domain.recordEvent(source, e.eventId);
    return o;
  };
  const session = await knownSession(d, channel.id, e.sessionId);
  // Which conversation (cached); the branches that decide on its state read it afresh.
  const conversation = session?.conversationId ? await domain.knownConversation(channel, { id: session.conversationId }) : undefined;
  const current = async () => (conversation ? await domain.findConversation(channel, { id: conversation.id }) : undefined);

  // A line from the platform side, deduplicated under the event's key.
  const line = async (
    c: Conversation,
    senderId: string,
    text: string,
    extra: { origin?: 'platform' | 'system'; attachments?: Array<{ name: string; mimeType: string; size: number | null; url: string }> } = {},
  ) => {
    const r = await domain.recordInbound(channel, {
      dedupe: { source, key: e.eventId },
      conversation: c,
      senderId,
      text,
      platformMessageId: e.eventId,
      createdAt: Date.now(),
      origin: extra.origin ?? 'system',
      ...(extra.attachments ? { attachments: extra.attachments } : {}),
    });
    return 'duplicate' in r ? ({ duplicate: true } as const) : ({ ok: true } as const);
  };

  if (e.event === 'NEW_SESSION') {
    const outcome = e.status === 'SUCCESS' ? 'live' : 'failed';
    const failThrough = outcome === 'failed' ? ((await current())?.lastSeq ?? null) : null;
    const r = await d.repo.settleSession(channel.id, e.sessionId, outcome, e.statusMessage ?? null, failThrough, d.now());
    if (r.result === 'parked') log.info({ channel: channel.id, session: e.sessionId }, 'NEW_SESSION for a session not recorded yet: parked');
    // The sends deferred behind this session go now (or fail, for FAILED); the session may have
    // been recorded with its conversation since we looked it up.
    const waiting = conversation ?? (r.session.conversationId ? await domain.knownConversation(channel, { id: r.session.conversationId }) : undefined);
    if (waiting) await domain.wakePlatformSends(waiting);
    return done();
  }

  if (e.event === 'MESSAGE_STATUS') {
    if (e.status !== 'FAILED') return done();
    await d.repo.recordFailure(channel.id, e.messageId, e.statusMessage || 'Alvaria could not deliver the message', d.now());
    // Unknown message yet (the status overtook the send's response): the sender claims it.
    const failure = await d.repo.claimFailure(channel.id, e.messageId);
    if (failure) await domain.setMessageStatus(failure.messageId, 'failed', { error: failure.failure });
    return done();
  }

  if (!session || !conversation) {
    log.warn({ channel: channel.id, session: e.sessionId, event: e.event ?? 'MESSAGE' }, 'alvaria callback for an unknown session ignored');
    return done({ ignored: true });
  }
  const agent = await endUser(d, conversation);

  switch (e.event) {
    case 'AGENT_JOINED':
      await domain.upsertParticipant(conversation, { ...agent, name: e.agentAlias || agent.name });
      return line(conversation, agent.id, `${e.agentAlias || 'An agent'} joined the conversation`);
    case 'SESSION_REROUTE': {
      if (e.agentAlias) await domain.upsertParticipant(conversation, { ...agent, name: e.agentAlias });
      const to = e.agentAlias ? e.agentAlias : e.worktypeId !== undefined ? `work type ${e.worktypeId}` : 'another queue';
      return line(conversation, agent.id, `The conversation was transferred to ${to}`);
    }
    case 'SESSION_END': {
      if (e.status !== 'SUCCESS') {
        log.warn({ channel: channel.id, session: e.sessionId }, 'alvaria reports a session end FAILED; the session stays as it was');
        return done();
      }
      await d.repo.endSession(session.pk, e.from ? `ended by ${e.from}` : 'ended', d.now());
      // Only the conversation's current session closes it: an old session's late end does not.
      const latest = await d.repo.latestSession(channel.id, conversation.id);
      if (latest?.pk !== session.pk) return done();
      const now = (await current()) ?? conversation;
      if (now.status !== 'closed') await domain.updateConversation(now, { status: 'closed' });
      return line(conversation, agent.id, e.from === 'SYSTEM' ? 'The session was closed by Alvaria' : 'The session has ended');
    }
    default: {
      // MESSAGE, from an agent or SYSTEM: text and/or one attachment.
      const a = e.message.attachment;
      const attachments = a && !('dropped' in a) ? [{ ...describeAttachment(a), size: null, url: a.url }] : [];
      let text = e.message.text ?? '';
      if (a && 'dropped' in a) {
        log.warn({ channel: channel.id, event: e.eventId }, 'alvaria attachment dropped: not an http(s) URL');
        text = `${text}${text ? '\n' : ''}[An attachment was dropped: ${a.dropped}]`;
      }
      if (!text && !attachments.length) return done({ ignored: true });
      return line(conversation, agent.id, text, { origin: 'platform', attachments });
    }
  }
}

async function knownSession(d: CallbackDeps, channelId: string, sessionId: string): Promise<{ pk: number; conversationId: string | null } | undefined> {
  const key = `${channelId}\u0000${sessionId}`;
  const hit = d.sessions.get(key);
  if (hit) return hit;
  const s = await d.repo.findSession(channelId, sessionId);
  if (s?.conversationId) d.sessions.set(key, { pk: s.pk, conversationId: s.conversationId });
  return s;
}

/** The conversation's end_user (whoever answers on Alvaria); created if the conversation lacks one. */
async function endUser(d: CallbackDeps, conversation: Conversation): Promise<Omit<Participant, 'conversationPk'>> {
  const found = (await d.services.domain.participants(conversation)).find((p) => p.role === 'end_user');
  if (found) return { id: found.id, role: 'end_user', name: found.name, avatarUrl: found.avatarUrl, email: found.email };
  const agent = { id: `alvaria-agent-${conversation.id}`.slice(0, 128), role: 'end_user' as const, name: 'Alvaria', avatarUrl: null, email: null };
  await d.services.domain.upsertParticipant(conversation, agent);
  return agent;
}
