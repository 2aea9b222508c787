import type { Readable } from 'node:stream';

/**
 * Where attachment bytes live once the message that owns them is committed. Uploads are first
 * staged on local disk (`stagingDir`, where multer writes while enforcing the size limits), then
 * `adopt`ed under their storage key (the attachment id). Two implementations: a local folder
 * (one machine) and an S3-compatible bucket (several machines behind one load balancer).
 */
export interface FileStore {
  /** Local folder where uploads are staged while they are received. */
  readonly stagingDir: string;
  init(): Promise<void>;
  /** Moves a staged upload to its storage key; the staged file is gone afterwards. */
  adopt(stagedPath: string, storageKey: string): Promise<void>;
  /** Deletes a staged upload (no error if it is already gone). */
  discard(stagedPath: string): Promise<void>;
  /** Deletes a stored file (no error if it is already gone). */
  remove(storageKey: string): Promise<void>;
  /** The stored size in bytes, or null when there is no such file. */
  size(storageKey: string): Promise<number | null>;
  /** A stream of the stored bytes and their size, or null when there is no such file. */
  open(storageKey: string): Promise<{ stream: Readable; size: number } | null>;
  /** Removes staged uploads older than `maxAgeMs` (left by a crash mid-request); answers how many. */
  sweepStaged(maxAgeMs: number, now?: number): Promise<number>;
  close(): Promise<void>;
}
