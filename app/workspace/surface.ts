import type { Db, Tx } from '../store/db.ts';
import { findSurface, saveSurface, type Surface } from '../store/workspace.ts';

export type { Surface };

/**
 * Which Pipedrive surface an installation's channels use: the Messaging inbox (Channels API),
 * the workspace (floating window, panels, notes), or both. New installations start on both;
 * the first answer of Pipedrive that the Channels API is gone moves them to the workspace.
 */
export async function surfaceOf(db: Tx, installationId: string): Promise<{ surface: Surface; reason: string | null }> {
  return (await findSurface(db, installationId)) ?? { surface: 'both', reason: null };
}

export async function setSurface(db: Db, installationId: string, surface: Surface, reason: string | null): Promise<void> {
  await saveSurface(db, installationId, surface, reason, Date.now());
}

/** Whether messages still go to Pipedrive's Messaging inbox. */
export const usesChannelsApi = (s: Surface) => s !== 'workspace';
