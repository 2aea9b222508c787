import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
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

export function checkStorageKey(storageKey: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(storageKey)) throw new Error('invalid storage key');
  return storageKey;
}

/** Attachment bytes on local disk under FILES_STORE: `tmp/` for uploads being received, `<key>` after. */
export class LocalFileStore implements FileStore {
  readonly stagingDir: string;
  constructor(readonly root: string) {
    this.stagingDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.stagingDir, { recursive: true });
  }

  /**
   * Removes staged uploads older than `maxAgeMs`: a crash mid-request leaves them behind, and
   * nothing else ever will. Younger ones may be another process's upload in flight. Answers
   * how many went.
   */
  async sweepStaged(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.stagingDir)) {
      const path = join(this.stagingDir, name);
      const st = await stat(path).catch(() => null);
      if (st?.isFile() && now - st.mtimeMs > maxAgeMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Moves a staged upload into place under its storage key (same filesystem: a rename). */
  async adopt(stagedPath: string, storageKey: string): Promise<void> {
    await rename(stagedPath, this.path(storageKey));
  }

  async discard(stagedPath: string): Promise<void> {
    await rm(stagedPath, { force: true });
  }

  async remove(storageKey: string): Promise<void> {
    await rm(this.path(storageKey), { force: true });
  }

  async size(storageKey: string): Promise<number | null> {
    try {
      return (await stat(this.path(storageKey))).size;
    } catch {
      return null;
    }
  }

  async open(storageKey: string): Promise<{ stream: Readable; size: number } | null> {
    const size = await this.size(storageKey);
    return size === null ? null : { stream: createReadStream(this.path(storageKey)), size };
  }

  async close(): Promise<void> {}

  private path(storageKey: string): string {
    return join(this.root, checkStorageKey(storageKey));
  }
}
