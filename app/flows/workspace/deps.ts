import type { JobQueue } from '../../runtime/job-queue.ts';
import type { BridgeServices } from '../services.ts';
import type { FileStore } from '../../ground/file-store.ts';
import type { Flows } from '../flows.ts';

/** What the workspace surface is built from (the bridge's services, nothing of its own). */
export interface WorkspaceDeps extends BridgeServices {
  queue: JobQueue;
  flows: Flows;
  files: FileStore;
  fileUrl(attachmentId: string): string;
}
