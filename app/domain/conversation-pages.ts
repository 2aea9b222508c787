import { AppError, notFound } from '../ground/failures.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findConversation, firstConversationsPage, listParticipants, pageConversationsAt, type ActivityKey } from '../store/conversations.ts';
import type { Db } from '../store/db.ts';
import { pageMessagesOf, type PageMessage } from '../store/messages.ts';
import { decodeConversationsCursor, decodeMessagesCursor, encodeCursor } from './cursor.ts';
import type { Channel, Conversation, Participant } from '../ground/records.ts';

/** The largest page either limit may ask for; larger values are clamped (README). */
export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 30;

export interface ConversationView {
  conversation: Conversation;
  participants: Participant[];
  /** Oldest first within the page; the page holds the newest messages not yet returned. */
  messages: PageMessage[];
  nextMessagesCursor: string | undefined;
}

/**
 * Conversations newest activity first, walked with a snapshot cursor: the first page fixes
 * the newest message seq and conversation pk; later pages order every conversation by its
 * activity as of that snapshot. A conversation that gets a message mid-walk therefore keeps
 * its place (no skip, no repeat), and messages newer than the snapshot reach Pipedrive
 * through receive instead.
 */
export async function listConversationPage(
  db: Db,
  secrets: Secrets,
  channel: Channel,
  opts: { conversationsLimit: number; messagesLimit: number; after: string | undefined },
): Promise<{ items: ConversationView[]; after: string | undefined }> {
  const limit = opts.conversationsLimit;
  let snapshot: { seq: number; convPk: number };
  let candidates: Array<{ conversation: Conversation; keySeq: number }>;
  if (opts.after) {
    const c = decodeConversationsCursor(secrets, opts.after);
    if (c.ch !== channel.id) throw new AppError('INVALID_BODY', 'This cursor belongs to another channel');
    snapshot = { seq: c.s, convPk: c.cp };
    const before: ActivityKey = { seq: c.q, pk: c.p };
    // Both candidate lists in one statement: the stable page, and conversations that moved
    // since the snapshot, placed by their activity as of it.
    candidates = (await pageConversationsAt(db, channel.id, snapshot, before, limit + 1))
      .filter(({ conversation, keySeq }) => conversation.lastSeq <= snapshot.seq || keySeq < before.seq || (keySeq === before.seq && conversation.pk < before.pk))
      .sort((a, b) => b.keySeq - a.keySeq || b.conversation.pk - a.conversation.pk);
  } else {
    // The walk starts here: its marks are read with the page, so nothing has moved yet.
    const first = await firstConversationsPage(db, channel.id, limit + 1);
    snapshot = first.snapshot;
    candidates = first.page.map((conversation) => ({ conversation, keySeq: conversation.lastSeq }));
  }

  const page = candidates.slice(0, limit);
  const hasMore = candidates.length > limit;
  const last = page[page.length - 1];
  const items = await viewsFor(
    db,
    secrets,
    page.map((p) => p.conversation),
    { limit: opts.messagesLimit, maxSeq: snapshot.seq },
  );
  const after = hasMore && last ? encodeCursor(secrets, { k: 'c', ch: channel.id, s: snapshot.seq, cp: snapshot.convPk, q: last.keySeq, p: last.conversation.pk }) : undefined;
  return { items, after };
}

export async function conversationPage(db: Db, secrets: Secrets, channel: Channel, conversationId: string, opts: { messagesLimit: number; after: string | undefined }): Promise<ConversationView> {
  const conversation = await findConversation(db, channel.id, conversationId);
  if (!conversation) throw notFound('Conversation');
  let beforeSeq: number | undefined;
  if (opts.after) {
    const c = decodeMessagesCursor(secrets, opts.after);
    if (c.cv !== conversation.id) throw new AppError('INVALID_BODY', 'This cursor belongs to another conversation');
    beforeSeq = c.b;
  }
  const [view] = await viewsFor(db, secrets, [conversation], { limit: opts.messagesLimit, beforeSeq });
  return view!;
}

async function viewsFor(db: Db, secrets: Secrets, conversations: Conversation[], opts: { limit: number; maxSeq?: number; beforeSeq?: number | undefined }): Promise<ConversationView[]> {
  const pks = conversations.map((c) => c.pk);
  const [participants, pages] = await Promise.all([listParticipants(db, pks), pageMessagesOf(db, pks, { limit: opts.limit + 1, maxSeq: opts.maxSeq, beforeSeq: opts.beforeSeq })]);
  // Grouped once, in the order they were listed (by pk).
  const participantsOf = new Map<number, Participant[]>(pks.map((pk) => [pk, []]));
  for (const p of participants) participantsOf.get(p.conversationPk)?.push(p);
  const views: ConversationView[] = [];
  for (const conversation of conversations) {
    // Oldest first, one more than the page when older messages remain: that one is dropped.
    const messages = pages.get(conversation.pk) ?? [];
    const more = messages.length > opts.limit;
    if (more) messages.splice(0, messages.length - opts.limit);
    const oldest = messages[0];
    views.push({
      conversation,
      participants: participantsOf.get(conversation.pk) ?? [],
      messages,
      nextMessagesCursor: more && oldest ? encodeCursor(secrets, { k: 'm', cv: conversation.id, b: oldest.seq }) : undefined,
    });
  }
  return views;
}
