/**
 * The IPC conversation between the bench (load generator) and the server under test. The
 * server announces itself with `ready`, then answers each request with the same `id`.
 */
export interface ReadyMessage {
  type: 'ready';
  bridge: string;
  bare: string;
  pid: number;
  db: 'sqlite' | 'pg';
}

export interface WebhookFixtures {
  airy: { channelId: string; conversationRefs: string[] };
  alvaria: { channelId: string; sessionIds: string[] };
}

export interface PagesFixtures {
  providerChannelId: string;
  conversationId: string;
  messageId: string;
  conversations: number;
  messages: number;
  attachments: number;
  seedMs: number;
}

export interface UploadFixtures {
  providerChannelId: string;
  conversationId: string;
}

export interface RssReport {
  baselineMb: number;
  peakMb: number;
  growthMb: number;
  samples: number;
  /** Peak of V8's ArrayBuffer memory (Buffers), a hint at where RSS went. */
  peakArrayBuffersMb: number;
  peakHeapUsedMb: number;
}

export interface Counts {
  messagesByChannel: Record<string, number>;
  jobsByStatus: Record<string, number>;
}

export interface WorkCounts {
  /** Statements run while answering an HTTP request of the bridge (webhooks, manifest endpoints). */
  requestStatements: number;
  /** Statements run outside any request: the outbox worker (claims, job handlers, bookkeeping), timers. */
  workerStatements: number;
  /** pipedrive.receive jobs the worker finished (done) since the start. */
  delivered: number;
  /** Jobs pending or running now (the queue is drained at 0). */
  open: number;
  /** sqlite's own time so far (on sqlite only). */
  sqlite?: SqliteTime;
}

/** Time spent inside the sqlite driver's statement calls (scripts/bench/sqlite-time.ts), in ms. */
export interface SqliteTime {
  totalMs: number;
  /** The outbox's claim statements, each with its own commit. */
  claimsMs: number;
  /** COMMITs of transactions (the webhooks' batches, the outbox's bookkeeping in a transaction). */
  commitsMs: number;
}

export interface Requests {
  'webhook-fixtures': { args: { airySourceToken: string; alvariaPublicPem: string; conversations: number; jobHistory: number }; result: WebhookFixtures };
  'pages-fixtures': { args: { messages: number; maxConversations: number }; result: PagesFixtures };
  'upload-fixtures': { args: Record<string, never>; result: UploadFixtures };
  'rss-start': { args: { intervalMs: number }; result: { baselineMb: number } };
  'rss-stop': { args: Record<string, never>; result: RssReport };
  counts: { args: Record<string, never>; result: Counts };
  /**
   * What the server has done so far, for per-message figures: SQL statements (every statement
   * knex runs, BEGIN and COMMIT included; on sqlite both the writer and the read pool) split by
   * who ran them, delivery jobs finished by the worker, jobs not finished yet.
   */
  work: { args: Record<string, never>; result: WorkCounts };
  /**
   * CPU time the server process has used so far (user + system), to charge a run per request;
   * and what it has passed to write calls so far (files and sockets: on sqlite the WAL and the
   * database file are most of it), from Linux's /proc/self/io, absent where that is unreadable.
   */
  cpu: { args: Record<string, never>; result: { ms: number; written?: { bytes: number; calls: number } } };
  /** A V8 CPU profile of the server between start and stop, written to `path` (BENCH_CPU_PROF=1). */
  'profile-start': { args: Record<string, never>; result: null };
  'profile-stop': { args: { path: string }; result: null };
  stop: { args: Record<string, never>; result: null };
}

export type RequestName = keyof Requests;

export interface RequestMessage<K extends RequestName = RequestName> {
  type: 'request';
  id: number;
  name: K;
  args: Requests[K]['args'];
}

export type ResponseMessage = { type: 'response'; id: number; ok: true; result: unknown } | { type: 'response'; id: number; ok: false; error: string };
