import type { Conversation, Message } from '../../ground/records.ts';
import {
  endSession,
  failProvisionalSession,
  findSession,
  latestSession,
  recordSession,
  setFailThrough,
  type AlvariaSession,
} from '../../store/alvaria-sessions.ts';
import type { Db } from '../../store/db.ts';

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
export type SessionDecision =
  | { kind: 'live'; session: AlvariaSession }
  | { kind: 'wait'; session: AlvariaSession }
  | { kind: 'failed'; reason: string }
  | { kind: 'open' };

/**
 * The session lifecycle, as seen from one outgoing message: one bridge conversation maps to
 * a sequence of sessions, each provisional until NEW_SESSION, live until SESSION_END or its
 * 4 h age, and a failed session takes down the messages that waited for it.
 */
export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly policy: SessionPolicy,
  ) {}

  async decide(channelId: string, conversation: Conversation, message: Message): Promise<SessionDecision> {
    let s = await latestSession(this.db, channelId, conversation.id);
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
    const s = await recordSession(this.db, { channelId, sessionId, conversationId: conversation.id }, this.policy.now());
    if (s.status === 'live') return { kind: 'live', session: s };
    if (s.status === 'failed') {
      await setFailThrough(this.db, s.pk, conversation.lastSeq);
      return { kind: 'failed', reason: failReason(s) };
    }
    return { kind: 'wait', session: s };
  }

  /** Alvaria refused a session we thought live: count it as ended so the next try opens one. */
  async forget(session: AlvariaSession, why: string): Promise<void> {
    await endSession(this.db, session.pk, why, this.policy.now());
  }

  private async age(s: AlvariaSession, conversation: Conversation): Promise<AlvariaSession> {
    const now = this.policy.now();
    const open = s.status === 'provisional' || s.status === 'live';
    if (open && now - s.createdAt >= this.policy.maxAgeMs) {
      await endSession(this.db, s.pk, 'the session reached its maximum age', now);
      return { ...s, status: 'ended' };
    }
    if (s.status === 'provisional' && now - s.createdAt >= this.policy.provisionalTimeoutMs) {
      const message = 'Alvaria did not confirm the new session in time';
      if (await failProvisionalSession(this.db, s.pk, message, conversation.lastSeq, now)) {
        return { ...s, status: 'failed', statusMessage: message, failThroughSeq: conversation.lastSeq };
      }
      // NEW_SESSION settled it meanwhile: go by what it said.
      return (await findSession(this.db, s.channelId, s.sessionId)) ?? s;
    }
    return s;
  }
}

function failReason(s: AlvariaSession): string {
  return `Alvaria could not open a session${s.statusMessage ? `: ${s.statusMessage}` : ''}`;
}
