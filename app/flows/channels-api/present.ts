import type { ConversationView } from '../../domain/conversation-pages.ts';
import type { Attachment, Message, Participant, Template } from '../../ground/records.ts';

/**
 * Domain records in the shapes of Pipedrive's provider-endpoint contract
 * (https://pipedrive.readme.io/docs/messaging-app-extension).
 */
export interface PresentDeps {
  fileUrl(attachmentId: string): string;
}

/** What presenting a message reads: a stored message, or a page's (app/store/messages.ts, PageMessage). */
export type PresentableMessage = Pick<Message, 'id' | 'status' | 'createdAt' | 'text' | 'senderId' | 'attachments'>;

/**
 * A 30×30 page presents 900 messages, so each is one object literal of a fixed shape (no
 * spreads, no helper objects) that JSON.stringify walks fast, and its time is formatted
 * without a Date (isoTime).
 */
export function presentMessage(m: PresentableMessage, deps: PresentDeps) {
  return {
    id: m.id,
    status: m.status,
    // Full ISO-8601 UTC with milliseconds: Pipedrive sorts by it, minute precision would not order a burst.
    created_at: isoTime(m.createdAt),
    message: m.text,
    sender_id: m.senderId,
    attachments: m.attachments.length ? m.attachments.map((a) => presentAttachment(a, deps)) : [],
  };
}

function presentAttachment(a: Attachment, deps: PresentDeps) {
  const stored = a.storageKey !== null;
  const url = stored ? deps.fileUrl(a.id) : (a.remoteUrl ?? '');
  // Our URLs are signed and expire: Pipedrive re-fetches the message through getMessageById.
  return a.size !== null ? { id: a.id, type: a.mimeType, name: a.name, size: a.size, url, link_expires: stored } : { id: a.id, type: a.mimeType, name: a.name, url, link_expires: stored };
}

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const DAY_MS = 86_400_000;
/** The first instant toISOString writes with a six-digit year (+010000-01-01). */
const YEAR_10000_MS = 253_402_300_800_000;
const dayPrefixes = new Map<number, string>();

/**
 * `new Date(ms).toISOString()`, the same characters, at a fifth of its cost: the date part
 * ("2026-12-02T") comes from toISOString once per day and is remembered, the time of day is
 * arithmetic. Outside 1970–9999 (never a stored time) it is toISOString itself.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const t = ms % DAY_MS;
  const day = ms - t;
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4096) dayPrefixes.clear();
    prefix = new Date(day).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  const s = Math.floor(t / 1000);
  return `${prefix}${PAD2[Math.floor(s / 3600)]}:${PAD2[Math.floor(s / 60) % 60]}:${PAD2[s % 60]}.${PAD3[t % 1000]}Z`;
}

export function presentParticipant(p: Participant) {
  return p.avatarUrl ? { id: p.id, name: p.name, role: p.role, avatar_url: p.avatarUrl } : { id: p.id, name: p.name, role: p.role };
}

export function presentConversation(v: ConversationView, deps: PresentDeps) {
  const c = v.conversation;
  const messages = v.messages.map((m) => presentMessage(m, deps));
  const participants = v.participants.map(presentParticipant);
  // next_messages_cursor is omitted (not null) on the last page: Pipedrive's OpenAPI file for
  // these endpoints types it as a string (https://github.com/pipedrive/omnichannel-api-docs).
  return v.nextMessagesCursor
    ? { id: c.id, link: c.link, status: c.status, seen: c.seen, next_messages_cursor: v.nextMessagesCursor, messages, participants }
    : { id: c.id, link: c.link, status: c.status, seen: c.seen, messages, participants };
}

export function presentSender(p: Participant) {
  return { id: p.id, name: p.name, avatar_url: p.avatarUrl ?? '' };
}

export function presentTemplates(templates: Template[]) {
  return { templates: templates.map((t) => ({ id: t.id, name: t.name, content: t.content, language: t.language })) };
}
