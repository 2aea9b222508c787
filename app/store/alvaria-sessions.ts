import type { AlvariaSession, AlvariaSessionStatus } from '../ground/records.ts';
import type { Tx } from './db.ts';

/**
 * Repository for the Alvaria adapter's sessions and message-part map (migration 004). The
 * adapter declares the shape it needs (`AlvariaSessionRepository`); the composition root
 * hands it `alvariaSessionRepository(db)`.
 */

export type { AlvariaSession, AlvariaSessionStatus };

interface SessionRow {
  pk: number;
  channel_id: string;
  session_id: string;
  conversation_id: string | null;
  status: AlvariaSessionStatus;
  status_message: string | null;
  fail_through_seq: number | null;
  created_at: number;
  updated_at: number;
}

const toSession = (r: SessionRow): AlvariaSession => ({
  pk: Number(r.pk),
  channelId: r.channel_id,
  sessionId: r.session_id,
  conversationId: r.conversation_id,
  status: r.status,
  statusMessage: r.status_message,
  failThroughSeq: r.fail_through_seq === null ? null : Number(r.fail_through_seq),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** The conversation's most recent session (any status), or undefined before the first one. */
export async function latestSession(db: Tx, channelId: string, conversationId: string): Promise<AlvariaSession | undefined> {
  const row = await db<SessionRow>('alvaria_sessions').where({ channel_id: channelId, conversation_id: conversationId }).orderBy('pk', 'desc').first();
  return row && toSession(row);
}

export async function findSession(db: Tx, channelId: string, sessionId: string): Promise<AlvariaSession | undefined> {
  const row = await db<SessionRow>('alvaria_sessions').where({ channel_id: channelId, session_id: sessionId }).first();
  return row && toSession(row);
}

/**
 * Records a session we just created (provisional). If its NEW_SESSION callback overtook
 * the create response, the parked row is adopted with the outcome it already carries.
 */
export async function recordSession(db: Tx, s: { channelId: string; sessionId: string; conversationId: string }, now: number): Promise<AlvariaSession> {
  await db('alvaria_sessions')
    .insert({ channel_id: s.channelId, session_id: s.sessionId, conversation_id: s.conversationId, status: 'provisional', created_at: now, updated_at: now })
    .onConflict(['channel_id', 'session_id'])
    .merge({ conversation_id: s.conversationId, created_at: now, updated_at: now });
  return (await findSession(db, s.channelId, s.sessionId))!;
}

/**
 * Applies a NEW_SESSION outcome. Only a provisional session changes ('applied'); an unknown
 * session is parked without a conversation until recordSession adopts it ('parked').
 */
export async function settleSession(
  db: Tx,
  channelId: string,
  sessionId: string,
  outcome: 'live' | 'failed',
  statusMessage: string | null,
  failThroughSeq: number | null,
  now: number,
): Promise<{ result: 'applied' | 'unchanged' | 'parked'; session: AlvariaSession }> {
  for (let i = 0; i < 2; i++) {
    const n = await db('alvaria_sessions')
      .where({ channel_id: channelId, session_id: sessionId, status: 'provisional' })
      .update({ status: outcome, status_message: statusMessage, fail_through_seq: failThroughSeq, updated_at: now });
    const existing = await findSession(db, channelId, sessionId);
    // Still provisional after an update that changed nothing: the creator recorded it between
    // the two statements; apply to its row (next turn) rather than lose the outcome.
    if (existing && (n > 0 || existing.status !== 'provisional')) return { result: n > 0 ? 'applied' : 'unchanged', session: existing };
    if (existing) continue;
    const inserted = await db('alvaria_sessions')
      .insert({ channel_id: channelId, session_id: sessionId, conversation_id: null, status: outcome, status_message: statusMessage, created_at: now, updated_at: now })
      .onConflict(['channel_id', 'session_id'])
      .ignore()
      .returning('pk');
    if (inserted.length) return { result: 'parked', session: (await findSession(db, channelId, sessionId))! };
    // The creator recorded it between our update and insert: apply to its row.
  }
  throw new Error('could not settle the session');
}

/** Ends a provisional or live session. False when it had already ended or failed. */
export async function endSession(db: Tx, pk: number, statusMessage: string | null, now: number): Promise<boolean> {
  const n = await db('alvaria_sessions').where({ pk }).whereIn('status', ['provisional', 'live']).update({ status: 'ended', status_message: statusMessage, updated_at: now });
  return n > 0;
}

/** A provisional session that never got its NEW_SESSION: counted as failed. */
export async function failProvisionalSession(db: Tx, pk: number, statusMessage: string, failThroughSeq: number, now: number): Promise<boolean> {
  const n = await db('alvaria_sessions').where({ pk, status: 'provisional' }).update({ status: 'failed', status_message: statusMessage, fail_through_seq: failThroughSeq, updated_at: now });
  return n > 0;
}

/** Sets which messages a failed session takes down with it, when the failure was parked before we knew the conversation. */
export async function setFailThrough(db: Tx, pk: number, failThroughSeq: number): Promise<void> {
  await db('alvaria_sessions').where({ pk, status: 'failed' }).whereNull('fail_through_seq').update({ fail_through_seq: failThroughSeq });
}

export async function listOpenSessions(db: Tx, channelId: string): Promise<AlvariaSession[]> {
  const rows = await db<SessionRow>('alvaria_sessions').where({ channel_id: channelId }).whereIn('status', ['provisional', 'live']).orderBy('pk');
  return rows.map(toSession);
}

// ── message parts ────────────────────────────────────────────────────────────────────

/** Parts of one of our messages already accepted by Alvaria (a retried send skips them). */
export async function sentParts(db: Tx, messageId: string): Promise<Map<number, string>> {
  const rows: Array<{ part: number; alvaria_message_id: string }> = await db('alvaria_messages').select('part', 'alvaria_message_id').where({ message_id: messageId });
  return new Map(rows.map((r) => [Number(r.part), r.alvaria_message_id]));
}

/** Maps an Alvaria messageId (202 of a send) to our message part. */
export async function recordPart(db: Tx, p: { channelId: string; alvariaMessageId: string; messageId: string; part: number }, now: number): Promise<void> {
  await db('alvaria_messages')
    .insert({ channel_id: p.channelId, alvaria_message_id: p.alvariaMessageId, message_id: p.messageId, part: p.part, created_at: now })
    .onConflict(['channel_id', 'alvaria_message_id'])
    .merge({ message_id: p.messageId, part: p.part });
}

/** Records a MESSAGE_STATUS FAILED for an Alvaria messageId, known to us yet or not. */
export async function recordFailure(db: Tx, channelId: string, alvariaMessageId: string, failure: string, now: number): Promise<void> {
  await db('alvaria_messages')
    .insert({ channel_id: channelId, alvaria_message_id: alvariaMessageId, message_id: null, failure, created_at: now })
    .onConflict(['channel_id', 'alvaria_message_id'])
    .merge({ failure });
}

/**
 * Claims a failure whose message is known, exactly once: whichever side completes the pair
 * (the sender recording the part, or the callback recording the failure) gets it.
 */
export async function claimFailure(db: Tx, channelId: string, alvariaMessageId: string): Promise<{ messageId: string; failure: string } | null> {
  const rows: Array<{ message_id: string; failure: string }> = await db('alvaria_messages')
    .where({ channel_id: channelId, alvaria_message_id: alvariaMessageId, failure_applied: false })
    .whereNotNull('message_id')
    .whereNotNull('failure')
    .update({ failure_applied: true })
    .returning(['message_id', 'failure']);
  const r = rows[0];
  return r ? { messageId: r.message_id, failure: r.failure } : null;
}

/** How many parts went out in a conversation since a time (its session's start): 0 = the session is fresh. */
export async function partsSentSince(db: Tx, channelId: string, conversationPk: number, since: number): Promise<number> {
  const row = await db('alvaria_messages as am')
    .join('messages as m', 'm.id', 'am.message_id')
    .where('am.channel_id', channelId)
    .andWhere('m.conversation_pk', conversationPk)
    .andWhere('am.created_at', '>=', since)
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** The functions above bound to one database: what the Alvaria adapter is given. */
export function alvariaSessionRepository(db: Tx) {
  return {
    latestSession: (channelId: string, conversationId: string) => latestSession(db, channelId, conversationId),
    findSession: (channelId: string, sessionId: string) => findSession(db, channelId, sessionId),
    recordSession: (s: { channelId: string; sessionId: string; conversationId: string }, now: number) => recordSession(db, s, now),
    settleSession: (channelId: string, sessionId: string, outcome: 'live' | 'failed', statusMessage: string | null, failThroughSeq: number | null, now: number) =>
      settleSession(db, channelId, sessionId, outcome, statusMessage, failThroughSeq, now),
    endSession: (pk: number, statusMessage: string | null, now: number) => endSession(db, pk, statusMessage, now),
    failProvisionalSession: (pk: number, statusMessage: string, failThroughSeq: number, now: number) => failProvisionalSession(db, pk, statusMessage, failThroughSeq, now),
    setFailThrough: (pk: number, failThroughSeq: number) => setFailThrough(db, pk, failThroughSeq),
    listOpenSessions: (channelId: string) => listOpenSessions(db, channelId),
    sentParts: (messageId: string) => sentParts(db, messageId),
    recordPart: (p: { channelId: string; alvariaMessageId: string; messageId: string; part: number }, now: number) => recordPart(db, p, now),
    recordFailure: (channelId: string, alvariaMessageId: string, failure: string, now: number) => recordFailure(db, channelId, alvariaMessageId, failure, now),
    claimFailure: (channelId: string, alvariaMessageId: string) => claimFailure(db, channelId, alvariaMessageId),
    partsSentSince: (channelId: string, conversationPk: number, since: number) => partsSentSince(db, channelId, conversationPk, since),
  };
}
