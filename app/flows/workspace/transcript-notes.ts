import { randomBytes } from 'node:crypto';
import type { Conversation, Message, Participant } from '../../ground/records.ts';
import { PermanentError } from '../../ground/failures.ts';
import type { JobHandler } from '../../runtime/outbox.ts';
import type { CallOptions, PipedriveRecordType } from '../../pipedrive/client.ts';
import { findChannel } from '../../store/channels.ts';
import { findConversationByPk, listParticipants } from '../../store/conversations.ts';
import type { Tx } from '../../store/db.ts';
import { listCompanyInstallations } from '../../store/installations.ts';
import {
  addEntry,
  insertNote,
  lastNote,
  markNoteFull,
  markPostAttempted,
  markSynced,
  noteLines,
  rescheduleTranscriptJob,
  TRANSCRIPT_JOB,
  transcriptOrderingKey,
  transcriptStatesOf,
  unsyncedNotes,
  untranscribedMessages,
  type TranscriptNote,
} from '../../store/transcripts.ts';
import { findRecordLink, listRecordLinks, type RecordLink } from '../../store/workspace.ts';
import type { WorkspaceDeps } from './deps.ts';

export { TRANSCRIPT_JOB };

/**
 * Pipedrive caps a note at about 100 KB ("approximately 100,000 characters (or 100KB per
 * note)", https://developers.pipedrive.com/docs/api/v1/Notes): a note grows by PUT up to this
 * many bytes, then the conversation continues in a new note.
 */
export const NOTE_BUDGET_BYTES = 95_000;
/** One message's line never takes more than this (a 64 KB message of quotes escapes to 390 KB). */
const LINE_MAX_BYTES = 20_000;
/** A conversation that never goes idle is still written after this many idle periods. */
const MAX_WAIT_FACTOR = 10;
/** Lines assigned per transaction. */
const BATCH = 500;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Pipedrive sanitizes note HTML by rules it does not publish: every text is escaped, and only p, b, br and a are used. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

const stamp = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Escapes `text`, cut so that the result stays within `max` bytes. */
function escapedWithin(text: string, max: number): string {
  const full = escapeHtml(text).replaceAll('\n', '<br>');
  if (bytes(full) <= max) return full;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const piece = ch === '\n' ? '<br>' : escapeHtml(ch);
    const b = bytes(piece);
    if (used + b > max - 100) break;
    out += piece;
    used += b;
  }
  return `${out}… (shortened; the whole message is in the conversation)`;
}

/** One message as a line of the note: time, sender, text, and its attachments as links to the conversation. */
export function renderLine(m: Message, participants: Participant[], conversationLink: string): string {
  const sender = participants.find((p) => p.id === m.senderId)?.name ?? (m.origin === 'system' ? 'System' : m.senderId);
  const files = m.attachments.map((a) => `<br>Attachment: <a href="${escapeHtml(conversationLink)}">${escapeHtml(a.name)}</a>`).join('');
  const head = `<p>${stamp(m.createdAt)} · <b>${escapeHtml(sender)}</b>: `;
  const room = LINE_MAX_BYTES - bytes(head) - bytes(files) - 8;
  return `${head}${escapedWithin(m.text, Math.max(200, room))}${files}</p>`;
}

/** The note's first line; it carries the note's token, by which a note whose POST outlived its process is found again. */
export function renderHeader(note: Pick<TranscriptNote, 'token' | 'part'>, channelName: string, record: Pick<RecordLink, 'title'>): string {
  return `<p><b>Conversation on ${escapeHtml(channelName)} about ${escapeHtml(record.title)}</b> (part ${note.part}, ref ${note.token})</p>`;
}

/**
 * Every message of a conversation about a record goes to that record as notes. Storing a
 * message (re)schedules the conversation's flush job for when it has been idle for
 * TRANSCRIPT_FLUSH_SECONDS (at most ten of them after the first new line); a closed conversation
 * (an Alvaria session end) flushes at once.
 */
export function scheduleTranscripts(d: WorkspaceDeps): void {
  const schedule = async (tx: Tx, conversation: Conversation, runAt: number) => {
    const now = Date.now();
    if (await rescheduleTranscriptJob(tx, conversation.pk, runAt, MAX_WAIT_FACTOR * d.config.transcriptFlushMs, now)) return;
    await d.queue.enqueue(tx, { kind: TRANSCRIPT_JOB, payload: { conversationPk: conversation.pk }, orderingKey: transcriptOrderingKey(conversation.pk), channelId: conversation.channelId, runAt });
  };
  // Once per transaction: one read finds which of its conversations are about a record (none
  // when the write that stored them said so itself), and each of those is (re)scheduled once,
  // however many of its lines the transaction stored.
  d.inbox.onStored(async (tx, stored) => {
    const conversations = new Map(stored.map((s) => [s.conversation.pk, s.conversation]));
    const told = new Map(stored.flatMap((s) => (s.aboutRecord === undefined ? [] : [[s.conversation.pk, s.aboutRecord] as const])));
    const unknown = [...conversations.keys()].filter((pk) => !told.has(pk));
    const linked = unknown.length ? await listRecordLinks(tx, unknown) : new Map();
    for (const [pk, conversation] of conversations) {
      if (!(told.get(pk) ?? linked.has(pk))) continue;
      const current = await findConversationByPk(tx, pk);
      await schedule(tx, conversation, current?.status === 'closed' ? Date.now() : Date.now() + d.config.transcriptFlushMs);
    }
  });
  d.inbox.onClosed(async (conversation) => {
    if (!(await findRecordLink(d.db, conversation.pk))) return;
    await d.db.transaction((tx) => schedule(tx, conversation, Date.now()));
    d.queue.kick();
  });
}

/**
 * The flush. Idempotent across crashes and retries, never a duplicate note, never a lost line:
 * 1. lines are assigned to notes in the database first (a note's `rev` counts its lines);
 * 2. each note whose `rev` Pipedrive has not accepted is written whole: PUT when its id is
 *    known; otherwise POST, with `post_attempted` recorded before, so that after a crash between
 *    Pipedrive's answer and our record the note is found by its token instead of posted again;
 * 3. `synced_rev` moves only after Pipedrive accepted. Re-sending a note replaces its content
 *    with the same lines, so a repeated PUT never doubles a line.
 */
export function transcriptJob(d: WorkspaceDeps): JobHandler<{ conversationPk: number }> {
  return {
    async run({ conversationPk }, _job, { signal }) {
      const call = { signal, inWorker: true };
      const record = await findRecordLink(d.db, conversationPk);
      const conversation = await findConversationByPk(d.db, conversationPk);
      if (!record || !conversation) return;
      const channel = await findChannel(d.db, conversation.channelId);
      const channelName = channel?.name ?? 'a channel';
      const installationId = await noteInstallation(d, record);
      while (await assign(d, conversation, record, channelName)) {
        // assigned a full batch: look for more
      }
      const target = { type: record.type, id: record.id };
      for (const note of await unsyncedNotes(d.db, conversationPk)) {
        const content = renderHeader(note, channelName, record) + (await noteLines(d.db, note.pk)).join('');
        // A failure goes to the outbox as thrown: Pipedrive's carry their classification.
        let id = note.pdNoteId;
        if (id === null && note.postAttempted) id = await findByToken(d, installationId, target, note.token, call);
        if (id === null) {
          await markPostAttempted(d.db, note.pk);
          id = (await d.client.addNote(installationId, { content, record: target }, call)).id;
        } else {
          await d.client.updateNote(installationId, id, content, call);
        }
        await markSynced(d.db, note.pk, id, note.rev, Date.now());
      }
    },
  };
}

/** Assigns one batch of new messages to notes; true when the batch was full (more may wait). */
async function assign(d: WorkspaceDeps, conversation: Conversation, record: RecordLink, channelName: string): Promise<boolean> {
  return d.db.transaction(async (tx) => {
    const messages = await untranscribedMessages(tx, conversation.pk, BATCH);
    if (!messages.length) return false;
    const participants = await listParticipants(tx, [conversation.pk]);
    let note = await lastNote(tx, conversation.pk);
    for (const m of messages) {
      const html = renderLine(m, participants, record.url);
      const size = bytes(html);
      if (!note || note.full || (note.rev > 0 && note.bytes + size > NOTE_BUDGET_BYTES)) {
        if (note && !note.full) await markNoteFull(tx, note.pk);
        const draft = { token: `tr-${randomBytes(8).toString('hex')}`, part: (note?.part ?? 0) + 1 };
        note = await insertNote(tx, { conversationPk: conversation.pk, recordType: record.type, recordId: record.id, ...draft, bytes: bytes(renderHeader(draft, channelName, record)) }, Date.now());
      }
      await addEntry(tx, { messageSeq: m.seq, notePk: note.pk, html, bytes: size });
      note = { ...note, rev: note.rev + 1, bytes: note.bytes + size };
    }
    return messages.length === BATCH;
  });
}

/** Looks through the record's notes (newest first) for the one carrying this token. */
async function findByToken(d: WorkspaceDeps, installationId: string, record: { type: PipedriveRecordType; id: number }, token: string, call: CallOptions): Promise<number | null> {
  let start: number | null = 0;
  for (let page = 0; start !== null && page < 50; page++) {
    const r = await d.client.listNotes(installationId, record, start, call);
    const hit = r.notes.find((n) => n.content.includes(token));
    if (hit) return hit.id;
    start = r.nextStart;
  }
  return null;
}

/** The installation whose token writes the notes: the starter's own, else an admin's of the company. */
async function noteInstallation(d: WorkspaceDeps, record: RecordLink): Promise<string> {
  const usable = (await listCompanyInstallations(d.db, record.companyId)).filter((i) => i.status === 'active' && i.accessTokenEnc);
  const pick = usable.find((i) => i.userId === record.userId) ?? usable.find((i) => i.isAdmin) ?? usable[0];
  if (!pick) throw new PermanentError('no installation of the company can write notes to Pipedrive (the app was uninstalled or needs re-authorization)');
  return pick.id;
}

/** Per conversation about a record: when its transcript was last saved, and whether lines wait. */
export function transcriptStates(db: Tx, pks: number[]): Promise<Map<number, { savedAt: number | null; pending: boolean }>> {
  return transcriptStatesOf(db, pks);
}
