import type { AlvariaSession, Conversation, Message } from '../../ground/records.ts';

/**
 * The adapter's own tables (sessions, and which of our message parts Alvaria accepted under
 * which id), as the adapter needs them. The composition root passes the store's
 * implementation as `services.repositories.alvariaSessions`.
 */
export interface AlvariaSessionRepository {
  /** The conversation's most recent session (any status), or undefined before the first one. */
  latestSession(channelId: string, conversationId: string): Promise<AlvariaSession | undefined>;
  findSession(channelId: string, sessionId: string): Promise<AlvariaSession | undefined>;
  /** Records a session just created (provisional); a parked NEW_SESSION outcome is adopted. */
  recordSession(s: { channelId: string; sessionId: string; conversationId: string }, now: number): Promise<AlvariaSession>;
  /** Applies a NEW_SESSION outcome; an unknown session is parked until recordSession adopts it. */
  settleSession(
    channelId: string,
    sessionId: string,
    outcome: 'live' | 'failed',
    statusMessage: string | null,
    failThroughSeq: number | null,
    now: number,
  ): Promise<{ result: 'applied' | 'unchanged' | 'parked'; session: AlvariaSession }>;
  /** Ends a provisional or live session; false when it had already ended or failed. */
  endSession(pk: number, statusMessage: string | null, now: number): Promise<boolean>;
  failProvisionalSession(pk: number, statusMessage: string, failThroughSeq: number, now: number): Promise<boolean>;
  setFailThrough(pk: number, failThroughSeq: number): Promise<void>;
  listOpenSessions(channelId: string): Promise<AlvariaSession[]>;
  /** Parts of one of our messages already accepted by Alvaria (a retried send skips them). */
  sentParts(messageId: string): Promise<Map<number, string>>;
  recordPart(p: { channelId: string; alvariaMessageId: string; messageId: string; part: number }, now: number): Promise<void>;
  /** Records a MESSAGE_STATUS FAILED for an Alvaria messageId, known to us yet or not. */
  recordFailure(channelId: string, alvariaMessageId: string, failure: string, now: number): Promise<void>;
  /** Claims a failure whose message is known, exactly once (the sender or the callback gets it). */
  claimFailure(channelId: string, alvariaMessageId: string): Promise<{ messageId: string; failure: string } | null>;
  /** How many parts went out in a conversation since a time (0 = the session is fresh). */
  partsSentSince(channelId: string, conversationPk: number, since: number): Promise<number>;
}

declare module '../contract.ts' {
  interface PlatformRepositories {
    alvariaSessions: AlvariaSessionRepository;
  }
}

/** Alvaria disconnects a session 4 hours after it was created (the API document's overview). */
export const MAX_SESSION_AGE_MS = 4 * 60 * 60 * 1000;

export interface SessionPolicy {
  now: () => number;
  /** A session this old counts as ended. */
  maxAgeMs: number;
  /** A session still provisional this long after creation counts as failed. */
  provisionalTimeoutMs: number;
}

/** What a send must do about the conversation's session. */
export type SessionDecision = { kind: 'live'; session: AlvariaSession } | { kind: 'wait'; session: AlvariaSession } | { kind: 'failed'; reason: string } | { kind: 'open' };

/**
 * The session lifecycle, as seen from one outgoing message: one bridge conversation maps to
 * a sequence of sessions, each provisional until NEW_SESSION, live until SESSION_END or its
 * 4 h age, and a failed session takes down the messages that waited for it.
 */
export class Sessions {
  constructor(
    private readonly repo: AlvariaSessionRepository,
    private readonly policy: SessionPolicy,
  ) {}

  async decide(channelId: string, conversation: Conversation, message: Message): Promise<SessionDecision> {
    let s = await this.repo.latestSession(channelId, conversation.id);
    if (!s) return { kind: 'open' };
    s = await this.age(s, conversation);
    switch (s.status) {
      case 'live':
        return { kind: 'live', session: s };
      case 'provisional':
        return { kind: 'wait', session: s };
      case 'failed':
        if (s.failThroughSeq === null || message.seq <= s.failThroughSeq) return { kind: 'failed', reason: failReason(s) };
        return { kind: 'open' };
      case 'ended':
        return { kind: 'open' };
    }
  }

  /** Records a session just created; a NEW_SESSION that overtook the response is adopted. */
  async record(channelId: string, conversation: Conversation, sessionId: string): Promise<SessionDecision> {
    const s = await this.repo.recordSession({ channelId, sessionId, conversationId: conversation.id }, this.policy.now());
    if (s.status === 'live') return { kind: 'live', session: s };
    if (s.status === 'failed') {
      await this.repo.setFailThrough(s.pk, conversation.lastSeq);
      return { kind: 'failed', reason: failReason(s) };
    }
    return { kind: 'wait', session: s };
  }

  /** Alvaria refused a session we thought live: count it as ended so the next try opens one. */
  async forget(session: AlvariaSession, why: string): Promise<void> {
    await this.repo.endSession(session.pk, why, this.policy.now());
  }

  private async age(s: AlvariaSession, conversation: Conversation): Promise<AlvariaSession> {
    const now = this.policy.now();
    const open = s.status === 'provisional' || s.status === 'live';
    if (open && now - s.createdAt >= this.policy.maxAgeMs) {
      await this.repo.endSession(s.pk, 'the session reached its maximum age', now);
      return { ...s, status: 'ended' };
    }
    if (s.status === 'provisional' && now - s.createdAt >= this.policy.provisionalTimeoutMs) {
      const message = 'Alvaria did not confirm the new session in time';
      if (await this.repo.failProvisionalSession(s.pk, message, conversation.lastSeq, now)) {
        return { ...s, status: 'failed', statusMessage: message, failThroughSeq: conversation.lastSeq };
      }
      // NEW_SESSION settled it meanwhile: go by what it said.
      return (await this.repo.findSession(s.channelId, s.sessionId)) ?? s;
    }
    return s;
  }
}

function failReason(s: AlvariaSession): string {
  return `Alvaria could not open a session${s.statusMessage ? `: ${s.statusMessage}` : ''}`;
}
