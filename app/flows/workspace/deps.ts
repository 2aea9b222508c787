import type { Outbox } from '../../runtime/outbox.ts';
import type { PipedriveServices } from '../../pipedrive/services.ts';
import type { FileStore } from '../../store/files.ts';

/** What the workspace surface is built from (the bridge's services, nothing of its own). */
export interface WorkspaceDeps extends PipedriveServices {
  outbox: Outbox;
  files: FileStore;
  fileUrl(attachmentId: string): string;
}
