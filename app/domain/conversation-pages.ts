import { AppError, notFound } from '../ground/failures.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import {
  changedSinceSnapshot,
  findConversation,
  listParticipants,
  maxConversationPk,
  pageStableConversations,
  type ActivityKey,
} from '../store/conversations.ts';
import type { Db } from '../store/db.ts';
import { maxMessageSeq, pageMessagesMany } from '../store/messages.ts';
import { decodeConversationsCursor, decodeMessagesCursor, encodeCursor } from './cursor.ts';
import type { Channel, Conversation, Message, Participant } from '../ground/records.ts';

/** The largest page either limit may ask for; larger values are clamped (README). */
export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 30;

export interface ConversationView {
  conversation: Conversation;
  participants: Participant[];
  /** Oldest first within the page; the page holds the newest messages not yet returned. */
  messages: Message[];
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
  let snapshot: { seq: number; convPk: number };
  let before: ActivityKey | null = null;
  if (opts.after) {
    const c = decodeConversationsCursor(secrets, opts.after);
    if (c.ch !== channel.id) throw new AppError('INVALID_BODY', 'This cursor belongs to another channel');
    snapshot = { seq: c.s, convPk: c.cp };
    before = { seq: c.q, pk: c.p };
  } else {
    snapshot = { seq: await maxMessageSeq(db), convPk: await maxConversationPk(db) };
  }

  const limit = opts.conversationsLimit;
  const stable = await pageStableConversations(db, channel.id, snapshot, before, limit + 1);
  const changed = (await changedSinceSnapshot(db, channel.id, snapshot)).filter(
    ({ conversation, keySeq }) => !before || keySeq < before.seq || (keySeq === before.seq && conversation.pk < before.pk),
  );
  const merged = [
    ...stable.map((conversation) => ({ conversation, keySeq: conversation.lastSeq })),
    ...changed,
  ].sort((a, b) => b.keySeq - a.keySeq || b.conversation.pk - a.conversation.pk);

  const page = merged.slice(0, limit);
  const hasMore = merged.length > limit;
  const last = page[page.length - 1];
  const items = await viewsFor(
    db,
    secrets,
    page.map((p) => p.conversation),
    { limit: opts.messagesLimit, maxSeq: snapshot.seq },
  );
  const after =
    hasMore && last
      ? encodeCursor(secrets, { k: 'c', ch: channel.id, s: snapshot.seq, cp: snapshot.convPk, q: last.keySeq, p: last.conversation.pk })
      : undefined;
  return { items, after };
}

export async function conversationPage(
  db: Db,
  secrets: Secrets,
  channel: Channel,
  conversationId: string,
  opts: { messagesLimit: number; after: string | undefined },
): Promise<ConversationView> {
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

async function viewsFor(
  db: Db,
  secrets: Secrets,
  conversations: Conversation[],
  opts: { limit: number; maxSeq?: number; beforeSeq?: number | undefined },
): Promise<ConversationView[]> {
  const participants = await listParticipants(
    db,
    conversations.map((c) => c.pk),
  );
  const pages = await pageMessagesMany(
    db,
    conversations.map((c) => ({ conversationPk: c.pk, beforeSeq: opts.beforeSeq, maxSeq: opts.maxSeq, limit: opts.limit + 1 })),
  );
  const views: ConversationView[] = [];
  for (const conversation of conversations) {
    const newestFirst = pages.get(conversation.pk) ?? [];
    const shown = newestFirst.slice(0, opts.limit);
    const oldest = shown[shown.length - 1];
    views.push({
      conversation,
      participants: participants.filter((p) => p.conversationPk === conversation.pk),
      messages: shown.reverse(),
      nextMessagesCursor: newestFirst.length > opts.limit && oldest ? encodeCursor(secrets, { k: 'm', cv: conversation.id, b: oldest.seq }) : undefined,
    });
  }
  return views;
}
