import type Router from '@koa/router';
import type { Outbox } from '../../runtime/outbox.ts';
import { workspaceApiRouter } from './workspace-api.ts';
import type { WorkspaceDeps } from '../../flows/workspace/deps.ts';
import { StreamHub } from './stream.ts';
import { scheduleTranscripts } from '../../flows/workspace/transcript-notes.ts';

export type { WorkspaceDeps };

/** The workspace surface as the bridge mounts it: its API router and what must stop with the process (its job is in the job table). */
export function createWorkspace(d: WorkspaceDeps, outbox: Pick<Outbox, 'on'>): { routers: Router[]; stop(): void } {
  const hub = new StreamHub(d, outbox);
  scheduleTranscripts(d);
  return { routers: [workspaceApiRouter(d, hub)], stop: () => hub.stop() };
}
