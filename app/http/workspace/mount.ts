import type Router from '@koa/router';
import type { JobHandlers } from '../../runtime/outbox.ts';
import { workspaceApiRouter } from './workspace-api.ts';
import type { WorkspaceDeps } from '../../flows/workspace/deps.ts';
import { StreamHub } from './stream.ts';
import { scheduleTranscripts, TRANSCRIPT_JOB, transcriptJob } from '../../flows/workspace/transcript-notes.ts';

export type { WorkspaceDeps };

/** The workspace surface as the bridge mounts it: its API router, its outbox jobs, and what must stop with the process. */
export function createWorkspace(d: WorkspaceDeps): { routers: Router[]; jobs: JobHandlers; stop(): void } {
  const hub = new StreamHub(d);
  scheduleTranscripts(d);
  return { routers: [workspaceApiRouter(d, hub)], jobs: { [TRANSCRIPT_JOB]: transcriptJob(d) }, stop: () => hub.stop() };
}
