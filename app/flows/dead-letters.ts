import { notFound } from '../ground/failures.ts';
import { listDeadLetters } from '../store/admin.ts';
import { listChannels } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import type { PlatformAdapter } from '../platforms/contract.ts';
import type { PlatformRegistry } from '../platforms/registry.ts';
import { replayDeadJobs } from '../store/jobs.ts';

/** How much of a message the admin sees next to its dead letter. */
const EXCERPT = 120;

/**
 * Dead letters as an installation's admin sees them: only jobs of their own channels, each
 * with the reason and a short summary of what it carried, so they can decide to replay.
 */
export async function deadLettersOf(db: Db, registry: PlatformRegistry, installationId: string, limit = 200) {
  const channels = await listChannels(db, { installationId });
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const platforms = new Map(channels.map((c) => [c.id, c.platform]));
  const rows = await listDeadLetters(db, [...names.keys()], limit);
  return rows.map((r) => ({
    ...explainFailure(r.kind, r.reason ?? '', registry.get(platforms.get(r.channelId) ?? ''), r.attempts),
    message_text: r.message ? excerpt(r.message.text, 500) : null,
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

/** What a dead letter's explanation needs from the channel's adapter (absent when it is not in this build). */
type PlatformWords = Pick<PlatformAdapter, 'shortName' | 'explainSendFailure'> | undefined;

/**
 * A dead letter's reason in words an admin can act on, with the next step. The stored reason
 * (the outside system's status and body) stays for operators; the page shows only these.
 */
export function explainFailure(kind: string, reason: string, adapter: PlatformWords, attempts: number): { problem: string; action: string } {
  const status = Number(/HTTP (\d{3})/.exec(reason)?.[1] ?? 0);
  const code = status ? ` (HTTP ${status})` : '';
  const platform = adapter?.shortName ?? 'The platform';
  if (/deleted/.test(reason)) return { problem: 'The channel was deleted before this could be delivered.', action: 'Nothing to do: replaying it would fail again.' };
  if (/no longer exists/.test(reason)) return { problem: 'The message or its conversation no longer exists.', action: 'Nothing to do: replaying it would fail again.' };
  if (kind === 'platform.disconnect') {
    return { problem: `${platform} did not confirm that the channel was removed${code}.`, action: `Check on ${platform} that the channel is gone and remove it there if not; replay to try again.` };
  }
  if (kind === 'pipedrive.receive') {
    if (status === 401 || /not installed|reinstall|authoriz/i.test(reason))
      return { problem: 'The Pipedrive authorization lapsed, so the message could not reach Pipedrive.', action: 'Install the app again from Pipedrive, then replay.' };
    if (status === 403) return { problem: `Pipedrive refused access${code}.`, action: 'Make sure a Pipedrive admin has the app installed, then replay.' };
    if (status === 404) return { problem: `Pipedrive no longer knows this channel${code}.`, action: 'Reconnect the channel: delete it and connect it again, then replay.' };
    if (status >= 400 && status < 500) return { problem: `Pipedrive refused the message${code}.`, action: 'Replay it once; if it fails again the message itself is the problem: tell your operator.' };
    return { problem: `Pipedrive did not accept the message after ${attempts} attempts${code}.`, action: 'Check that Pipedrive is reachable (status.pipedrive.com), then replay.' };
  }
  // platform.send: a Pipedrive user's message on its way to the platform.
  const specific = adapter?.explainSendFailure?.(status, reason);
  if (specific) return specific;
  if (status === 401 || status === 403) return { problem: `${platform} refused the channel's credentials${code}.`, action: 'Edit the channel and enter the current credentials, then replay.' };
  if (status === 404 || status === 410)
    return { problem: `${platform} no longer knows this channel or conversation${code}.`, action: 'Reconnect the channel: delete it and connect it again, then replay.' };
  if (status >= 400 && status < 500)
    return { problem: `${platform} refused the message as invalid${code}.`, action: 'Check the message (an attachment type or size the platform does not take); replaying sends it unchanged.' };
  return {
    problem: `${platform} did not take the message after ${attempts} attempts${code || ' (no answer)'}.`,
    action: `Check that ${platform} is reachable with the channel's address, then replay.`,
  };
}

const excerpt = (text: string, n: number) => (text.length > n ? `${text.slice(0, n)}…` : text);

function summarize(kind: string, payload: unknown, message: { id: string; text: string; conversationId: string | null } | null): string {
  if (message) {
    const text = message.text.length > EXCERPT ? `${message.text.slice(0, EXCERPT)}…` : message.text;
    return `message ${message.id} in conversation ${message.conversationId ?? '?'}: "${text}"`;
  }
  const keys = payload && typeof payload === 'object' ? Object.entries(payload as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : [];
  return `${kind}${keys.length ? ` (${keys.join(', ').slice(0, EXCERPT)})` : ''}`;
}
