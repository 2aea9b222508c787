/**
 * Every kind of job the outbox carries. The domain and the flows enqueue them; the job table
 * (app/flows/job-table.ts) is typed by this list, so a kind without a handler, or a handler
 * without a kind, does not compile. Stored in jobs.kind: a rename needs a migration.
 */
export const JOB = {
  /** Deliver a Pipedrive user's message to the channel's platform. */
  platformSend: 'platform.send',
  /** Remove the platform side of a deleted channel. */
  platformDisconnect: 'platform.disconnect',
  /** Push a message (new or changed status) to Pipedrive's receive endpoint. */
  pipedriveReceive: 'pipedrive.receive',
  /** Write a record-linked conversation's new lines to the record as notes (workspace surface). */
  workspaceTranscript: 'workspace.transcript',
} as const;

export type JobKind = (typeof JOB)[keyof typeof JOB];

export const JOB_KINDS: ReadonlySet<string> = new Set<string>(Object.values(JOB));
