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

interface CachedMessage {
  id: string;
  status: string;
  createdAt: number;
  text: string;
  senderId: string;
  /** Whether the message had attachments when the entry was made (retention deletes stored files). */
  hasAttachments: boolean;
  /**
   * UTF-8: the whole message's JSON when it has no attachments; otherwise up to them,
   * `{"id":…,"status":…,"created_at":…,"message":…,"sender_id":…`.
   */
  json: Buffer;
}

/** What an entry costs besides its strings (the entry object, the map slot, the strings' headers). */
const ENTRY_OVERHEAD_BYTES = 200;

/**
 * Each message's JSON (up to its attachments when it has some) as UTF-8, by seq, so a page of
 * messages already shown is bytes copied together instead of JSON.stringify walking 900
 * objects and the result encoded (about a quarter of a 30×30 page's CPU, half of it saved).
 * An entry is used only when every field it was made from equals the row just read (id,
 * status, created_at, text, sender, whether it has attachments), so it can never be stale: a
 * receipt or a failed send changes the status and the entry is replaced; a seq reused after a
 * channel's purge carries another id. Attachments are never cached: their URLs are signed with
 * an expiry taken from the clock on every call, and retention deletes stored files. Bounded in
 * bytes (strings counted at 2 bytes a character); the oldest entries go first.
 */
export class MessageJsonCache {
  private readonly entries = new Map<number, CachedMessage>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  /** The message's JSON as `CachedMessage.json` holds it: whole without attachments, else up to them. */
  json(m: PresentableMessage & { seq: number }): Buffer {
    const hasAttachments = m.attachments.length > 0;
    const e = this.entries.get(m.seq);
    if (e !== undefined && e.id === m.id && e.status === m.status && e.createdAt === m.createdAt && e.text === m.text && e.senderId === m.senderId && e.hasAttachments === hasAttachments) {
      this.hits++;
      return e.json;
    }
    this.misses++;
    const whole = JSON.stringify({ id: m.id, status: m.status, created_at: isoTime(m.createdAt), message: m.text, sender_id: m.senderId });
    const text = hasAttachments ? whole.slice(0, -1) : `${whole.slice(0, -1)},"attachments":[]}`;
    // Its own memory, not a slice of Buffer's shared 8 KB pool: a kept slice would keep the
    // whole pool chunk alive, and the byte bound would not hold.
    const json = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    json.write(text);
    if (e !== undefined) {
      this.entries.delete(m.seq);
      this.bytes -= sizeOf(e);
    }
    const entry: CachedMessage = { id: m.id, status: m.status, createdAt: m.createdAt, text: m.text, senderId: m.senderId, hasAttachments, json };
    const size = sizeOf(entry);
    if (size <= this.maxBytes) {
      while (this.bytes + size > this.maxBytes) {
        const [oldest, old] = this.entries.entries().next().value!;
        this.entries.delete(oldest);
        this.bytes -= sizeOf(old);
      }
      this.entries.set(m.seq, entry);
      this.bytes += size;
    }
    return json;
  }

  get size(): number {
    return this.entries.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}

const sizeOf = (e: CachedMessage) => ENTRY_OVERHEAD_BYTES + 2 * (e.id.length + e.status.length + e.text.length + e.senderId.length) + e.json.length;

const COMMA = Buffer.from(',');

/**
 * A page of conversations as the bytes JSON.stringify would write for
 * `{ success: true, data: views.map(presentConversation), additional_data }` (UTF-8), the
 * same characters in the same order, with each message's JSON from the cache: the page is
 * copied together from bytes already encoded instead of a string built, flattened and encoded.
 */
export function presentConversationsJson(views: readonly ConversationView[], additionalData: Record<string, string>, deps: PresentDeps, cache: MessageJsonCache): Buffer {
  const parts: Buffer[] = [Buffer.from('{"success":true,"data":[')];
  for (let i = 0; i < views.length; i++) {
    if (i > 0) parts.push(COMMA);
    conversationParts(views[i]!, deps, cache, parts);
  }
  parts.push(Buffer.from(`],"additional_data":${JSON.stringify(additionalData)}}`));
  return Buffer.concat(parts);
}

/** One conversation as JSON.stringify(presentConversation(v, deps)) writes it. */
export function conversationJson(v: ConversationView, deps: PresentDeps, cache: MessageJsonCache): Buffer {
  const parts: Buffer[] = [];
  conversationParts(v, deps, cache, parts);
  return Buffer.concat(parts);
}

function conversationParts(v: ConversationView, deps: PresentDeps, cache: MessageJsonCache, parts: Buffer[]): void {
  const c = v.conversation;
  let open = `{"id":${JSON.stringify(c.id)},"link":${JSON.stringify(c.link)},"status":${JSON.stringify(c.status)},"seen":${JSON.stringify(c.seen)}`;
  if (v.nextMessagesCursor) open += `,"next_messages_cursor":${JSON.stringify(v.nextMessagesCursor)}`;
  parts.push(Buffer.from(`${open},"messages":[`));
  const messages = v.messages;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (i > 0) parts.push(COMMA);
    parts.push(cache.json(m));
    if (m.attachments.length) parts.push(Buffer.from(`,"attachments":${JSON.stringify(m.attachments.map((a) => presentAttachment(a, deps)))}}`));
  }
  parts.push(Buffer.from(`],"participants":${JSON.stringify(v.participants.map(presentParticipant))}}`));
}
