import type Router from '@koa/router';
import { workspaceApiRouter } from './api.ts';
import type { WorkspaceDeps } from './deps.ts';
import { StreamHub } from './stream.ts';

export type { WorkspaceDeps };

/** The workspace surface as the bridge mounts it: its API router, and what must stop with the process. */
export function createWorkspace(d: WorkspaceDeps): { routers: Router[]; stop(): void } {
  const hub = new StreamHub(d);
  return { routers: [workspaceApiRouter(d, hub)], stop: () => hub.stop() };
}
