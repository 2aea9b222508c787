import { notFound } from '../errors.ts';
import { listDeadLetters } from '../store/admin.ts';
import { listChannels } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { replayDeadJobs } from '../store/jobs.ts';

/** How much of a message the admin sees next to its dead letter. */
const EXCERPT = 120;

/**
 * Dead letters as an installation's admin sees them: only jobs of their own channels, each
 * with the reason and a short summary of what it carried, so they can decide to replay.
 */
export async function deadLettersOf(db: Db, installationId: string, limit = 200) {
  const channels = await listChannels(db, { installationId });
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const rows = await listDeadLetters(db, [...names.keys()], limit);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    channel_id: r.channelId,
    channel_name: names.get(r.channelId) ?? null,
    attempts: r.attempts,
    reason: r.reason,
    summary: summarize(r.kind, r.payload, r.message),
    failed_at: new Date(r.failedAt).toISOString(),
  }));
}

/** Replays one dead letter (`id`) or all of them, within the installation's channels. */
export async function replayDeadLetters(db: Db, installationId: string, which: number | 'all'): Promise<number> {
  const channelIds = (await listChannels(db, { installationId })).map((c) => c.id);
  if (!channelIds.length) {
    if (which === 'all') return 0;
    throw notFound('Dead letter');
  }
  const n = await replayDeadJobs(db, which === 'all' ? { all: true, channelIds } : { id: which, channelIds }, Date.now());
  if (which !== 'all' && n === 0) throw notFound('Dead letter');
  return n;
}

function summarize(kind: string, payload: unknown, message: { id: string; text: string; conversationId: string | null } | null): string {
  if (message) {
    const text = message.text.length > EXCERPT ? `${message.text.slice(0, EXCERPT)}…` : message.text;
    return `message ${message.id} in conversation ${message.conversationId ?? '?'}: "${text}"`;
  }
  const keys = payload && typeof payload === 'object' ? Object.entries(payload as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : [];
  return `${kind}${keys.length ? ` (${keys.join(', ').slice(0, EXCERPT)})` : ''}`;
}
