import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Attachment bytes on local disk under FILES_DIR: `tmp/` for uploads being received,
 * `<attachment id>` once the message that owns them is committed.
 */
export class FileStore {
  readonly tmpDir: string;
  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
  }

  /**
   * Removes staged uploads older than `maxAgeMs`: a crash mid-request leaves them behind, and
   * nothing else ever will. Younger ones may be another process's upload in flight. Answers
   * how many went.
   */
  async sweepStaged(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
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

  async remove(pathOrKey: string, isKey = true): Promise<void> {
    await rm(isKey ? this.path(pathOrKey) : pathOrKey, { force: true });
  }

  async size(storageKey: string): Promise<number | null> {
    try {
      return (await stat(this.path(storageKey))).size;
    } catch {
      return null;
    }
  }

  read(storageKey: string) {
    return createReadStream(this.path(storageKey));
  }

  private path(storageKey: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(storageKey)) throw new Error('invalid storage key');
    return join(this.root, storageKey);
  }
}
