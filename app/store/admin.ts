import type { Tx } from './db.ts';

/** The newest dead-lettered job's reason per channel, for the admin page's "last error". */
export async function lastDeadJobErrors(db: Tx, channelIds: string[]): Promise<Map<string, string>> {
  if (!channelIds.length) return new Map();
  const rows: Array<{ channel_id: string; last_error: string | null }> = await db('jobs')
    .select('channel_id', 'last_error')
    .whereIn('channel_id', channelIds)
    .andWhere('status', 'dead')
    .orderBy('updated_at', 'asc');
  const out = new Map<string, string>();
  for (const r of rows) if (r.last_error) out.set(r.channel_id, r.last_error);
  return out;
}

export interface DeadLetterRow {
  id: number;
  kind: string;
  channelId: string;
  attempts: number;
  reason: string | null;
  payload: unknown;
  failedAt: number;
  /** The message the job carried, when it carried one. */
  message: { id: string; text: string; conversationId: string | null } | null;
}

/** Dead jobs of these channels, newest first, with an excerpt of the message each carried. */
export async function listDeadLetters(db: Tx, channelIds: string[], limit: number): Promise<DeadLetterRow[]> {
  if (!channelIds.length) return [];
  const jobs: Array<{ id: number; kind: string; channel_id: string; attempts: number; last_error: string | null; payload: string; updated_at: number }> = await db('jobs')
    .select('id', 'kind', 'channel_id', 'attempts', 'last_error', 'payload', 'updated_at')
    .whereIn('channel_id', channelIds)
    .andWhere('status', 'dead')
    .orderBy('id', 'desc')
    .limit(limit);
  const payloads = jobs.map((j) => safeJson(j.payload));
  const messageIds = [...new Set(payloads.map(messageIdOf).filter((id): id is string => id !== null))];
  const messages: Array<{ id: string; text: string; conversation_id: string | null }> = messageIds.length
    ? await db('messages as m').leftJoin('conversations as c', 'c.pk', 'm.conversation_pk').select('m.id', 'm.text', 'c.id as conversation_id').whereIn('m.id', messageIds)
    : [];
  const byId = new Map(messages.map((m) => [m.id, m]));
  return jobs.map((j, i) => {
    const m = byId.get(messageIdOf(payloads[i]) ?? '');
    return {
      id: Number(j.id),
      kind: j.kind,
      channelId: j.channel_id,
      attempts: Number(j.attempts),
      reason: j.last_error,
      payload: payloads[i],
      failedAt: Number(j.updated_at),
      message: m ? { id: m.id, text: m.text, conversationId: m.conversation_id } : null,
    };
  });
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

function messageIdOf(payload: unknown): string | null {
  const id = (payload as { messageId?: unknown } | null)?.messageId;
  return typeof id === 'string' ? id : null;
}
