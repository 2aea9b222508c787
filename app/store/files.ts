import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileStore } from '../ground/file-store.ts';

export type { FileStore };

export function checkStorageKey(storageKey: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(storageKey)) throw new Error('invalid storage key');
  return storageKey;
}

/**
 * Removes the files in a staging folder older than `maxAgeMs` (both file stores stage uploads
 * on local disk): a crash mid-request leaves them behind, and nothing else ever will. Younger
 * ones may be another process's upload in flight. Answers how many went.
 */
export async function sweepStagingDir(dir: string, maxAgeMs: number, now: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > maxAgeMs) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
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

  /** Removes staged uploads older than `maxAgeMs` (sweepStagingDir). */
  sweepStaged(maxAgeMs: number, now = Date.now()): Promise<number> {
    return sweepStagingDir(this.stagingDir, maxAgeMs, now);
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
