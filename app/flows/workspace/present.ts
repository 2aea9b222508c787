import type { Message, Participant } from '../../ground/records.ts';

export type UiStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

export interface UiMessage {
  id: string;
  direction: 'out' | 'in';
  text: string;
  sender: { name: string };
  at: string;
  status: UiStatus;
  failure?: { reason: string };
  attachments: Array<{ id: string; name: string; mime: string; size: number | null; url: string }>;
}

const MAX_REASON = 200;

/**
 * A failure reason a person can read. Stored reasons are our own sentences, but some end in
 * what a platform said; bodies (JSON, HTML) and the outbox's "gave up after n attempts"
 * prefix are cut, and the rest is bounded.
 */
export function readableFailure(error: string | null): string {
  if (!error) return 'The platform did not accept the message';
  let s = error.replace(/^gave up after \d+ attempts: /, '');
  const body = s.search(/[{<[]/);
  if (body >= 0) s = s.slice(0, body);
  s = s
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/[\s:;,(-]+$/, '')
    .trim();
  if (!s) return 'The platform did not accept the message';
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s;
}

export function presentUiMessage(m: Message, participants: Participant[], queued: Set<string>, fileUrl: (id: string) => string): UiMessage {
  const sender = participants.find((p) => p.id === m.senderId);
  const out = m.origin === 'pipedrive';
  const status: UiStatus = out && m.status === 'sent' && queued.has(m.id) ? 'queued' : m.status;
  return {
    id: m.id,
    direction: out ? 'out' : 'in',
    text: m.text,
    sender: { name: sender?.name ?? (m.origin === 'system' ? 'System' : m.senderId) },
    at: new Date(m.createdAt).toISOString(),
    status,
    ...(m.status === 'failed' ? { failure: { reason: readableFailure(m.error) } } : {}),
    attachments: m.attachments.map((a) => ({ id: a.id, name: a.name, mime: a.mimeType, size: a.size, url: a.storageKey ? fileUrl(a.id) : (a.remoteUrl ?? '') })),
  };
}
