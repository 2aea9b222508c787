import type { Message } from '../ground/records.ts';
import { JOB } from '../ground/job-kinds.ts';
import type { Tx } from './db.ts';
import { unfinished } from './jobs.ts';
import { withAttachments, type MessageRow } from './messages.ts';

export const TRANSCRIPT_JOB = JOB.workspaceTranscript;
export const transcriptOrderingKey = (conversationPk: number) => `tr:${conversationPk}`;

/**
 * Moves the conversation's pending transcript job to `runAt` (the debounce: every new line
 * pushes the flush to "idle for a while"), but never later than `maxWaitMs` after the job was
 * queued, so a conversation that never pauses is still saved. Returns false when there is no
 * pending job to move.
 */
export async function rescheduleTranscriptJob(db: Tx, conversationPk: number, runAt: number, maxWaitMs: number, now: number): Promise<boolean> {
  const n = await db('jobs')
    .where({ kind: TRANSCRIPT_JOB, ordering_key: transcriptOrderingKey(conversationPk), status: 'pending' })
    .whereRaw(unfinished())
    .update({ run_at: db.raw('case when created_at + ? < ? then created_at + ? else ? end', [maxWaitMs, runAt, maxWaitMs, runAt]), updated_at: now });
  return n > 0;
}

export interface TranscriptNote {
  pk: number;
  conversationPk: number;
  recordType: string;
  recordId: number;
  token: string;
  part: number;
  pdNoteId: number | null;
  rev: number;
  syncedRev: number;
  bytes: number;
  full: boolean;
  postAttempted: boolean;
  syncedAt: number | null;
}

const toNote = (r: Record<string, any>): TranscriptNote => ({
  pk: Number(r.pk),
  conversationPk: Number(r.conversation_pk),
  recordType: r.record_type,
  recordId: Number(r.record_id),
  token: r.token,
  part: Number(r.part),
  pdNoteId: r.pd_note_id === null ? null : Number(r.pd_note_id),
  rev: Number(r.rev),
  syncedRev: Number(r.synced_rev),
  bytes: Number(r.bytes),
  full: Boolean(r.full),
  postAttempted: Boolean(r.post_attempted),
  syncedAt: r.synced_at === null ? null : Number(r.synced_at),
});

/** The conversation's messages that are in no note yet, oldest first. */
export async function untranscribedMessages(db: Tx, conversationPk: number, limit: number): Promise<Message[]> {
  const rows: MessageRow[] = await db('messages as m')
    .select('m.*')
    .leftJoin('transcript_entries as e', 'e.message_seq', 'm.seq')
    .where('m.conversation_pk', conversationPk)
    .whereNull('e.message_seq')
    .orderBy('m.seq', 'asc')
    .limit(limit);
  return withAttachments(db, rows);
}

export async function lastNote(db: Tx, conversationPk: number): Promise<TranscriptNote | undefined> {
  const r = await db('transcript_notes').where({ conversation_pk: conversationPk }).orderBy('pk', 'desc').first();
  return r && toNote(r);
}

export async function insertNote(db: Tx, n: { conversationPk: number; recordType: string; recordId: number; token: string; part: number; bytes: number }, now: number): Promise<TranscriptNote> {
  const [row] = await db('transcript_notes')
    .insert({
      conversation_pk: n.conversationPk,
      record_type: n.recordType,
      record_id: n.recordId,
      token: n.token,
      part: n.part,
      bytes: n.bytes,
      rev: 0,
      synced_rev: 0,
      full: false,
      post_attempted: false,
      created_at: now,
    })
    .returning('pk');
  const pk = Number(typeof row === 'object' ? (row as { pk: number }).pk : row);
  return await db('transcript_notes')
    .where({ pk })
    .first()
    .then((r: Record<string, any>) => toNote(r));
}

/** Puts a line in a note: the note's next revision includes it. */
export async function addEntry(db: Tx, e: { messageSeq: number; notePk: number; html: string; bytes: number }): Promise<void> {
  await db('transcript_entries').insert({ message_seq: e.messageSeq, note_pk: e.notePk, html: e.html, bytes: e.bytes });
  await db('transcript_notes')
    .where({ pk: e.notePk })
    .update({ rev: db.raw('rev + 1'), bytes: db.raw('bytes + ?', [e.bytes]) });
}

export async function markNoteFull(db: Tx, notePk: number): Promise<void> {
  await db('transcript_notes').where({ pk: notePk }).update({ full: true });
}

/** Notes whose latest revision Pipedrive has not accepted yet, oldest first. */
export async function unsyncedNotes(db: Tx, conversationPk: number): Promise<TranscriptNote[]> {
  const rows = await db('transcript_notes').where({ conversation_pk: conversationPk }).andWhereRaw('rev > synced_rev').orderBy('pk', 'asc');
  return rows.map(toNote);
}

export async function noteLines(db: Tx, notePk: number): Promise<string[]> {
  const rows: Array<{ html: string }> = await db('transcript_entries').select('html').where({ note_pk: notePk }).orderBy('message_seq', 'asc');
  return rows.map((r) => r.html);
}

/** Recorded before a POST: after a crash, the next attempt looks for the note before posting again. */
export async function markPostAttempted(db: Tx, notePk: number): Promise<void> {
  await db('transcript_notes').where({ pk: notePk }).update({ post_attempted: true });
}

export async function markSynced(db: Tx, notePk: number, pdNoteId: number, rev: number, now: number): Promise<void> {
  await db('transcript_notes').where({ pk: notePk }).update({ pd_note_id: pdNoteId, synced_rev: rev, synced_at: now });
}

/** Per conversation: when a note was last saved, and whether lines wait (unassigned or unsynced). */
export async function transcriptStatesOf(db: Tx, conversationPks: number[]): Promise<Map<number, { savedAt: number | null; pending: boolean }>> {
  const out = new Map<number, { savedAt: number | null; pending: boolean }>();
  if (!conversationPks.length) return out;
  const notes: Array<{ conversation_pk: number; saved: number | null; dirty: number | string }> = await db('transcript_notes')
    .select('conversation_pk')
    .max({ saved: 'synced_at' })
    .sum({ dirty: db.raw('case when rev > synced_rev then 1 else 0 end') })
    .whereIn('conversation_pk', conversationPks)
    .groupBy('conversation_pk');
  for (const n of notes) out.set(Number(n.conversation_pk), { savedAt: n.saved === null ? null : Number(n.saved), pending: Number(n.dirty) > 0 });
  const waiting: Array<{ conversation_pk: number }> = await db('messages as m')
    .distinct('m.conversation_pk')
    .leftJoin('transcript_entries as e', 'e.message_seq', 'm.seq')
    .whereIn('m.conversation_pk', conversationPks)
    .whereNull('e.message_seq');
  for (const w of waiting) {
    const pk = Number(w.conversation_pk);
    out.set(pk, { savedAt: out.get(pk)?.savedAt ?? null, pending: true });
  }
  return out;
}
