import type { Db, Tx } from '../store/db.ts';
import { findSurface, saveSurface, type Surface } from '../store/workspace.ts';

export type { Surface };

export const SURFACES: readonly Surface[] = ['channels', 'workspace', 'both'];

/** The surface of an installation that never chose one. */
export const DEFAULT_SURFACE: Surface = 'both';

/**
 * Which Pipedrive surface an installation's channels use: the Messaging inbox (Channels API),
 * the workspace (floating window, record panels, notes), or both. New installations start on
 * both; the first answer of Pipedrive that the Channels API is gone moves them to the workspace.
 */
export async function surfaceOf(db: Tx, installationId: string): Promise<{ surface: Surface; reason: string | null }> {
  return (await findSurface(db, installationId)) ?? { surface: DEFAULT_SURFACE, reason: null };
}

export async function setSurface(db: Tx, installationId: string, surface: Surface, reason: string | null): Promise<void> {
  await saveSurface(db, installationId, surface, reason, Date.now());
}

/** Whether messages still go to Pipedrive's Messaging inbox. */
export const usesChannelsApi = (s: Surface) => s !== 'workspace';

export const removedReason = (status: number | null) =>
  `Pipedrive answered${status ? ` HTTP ${status}` : ''} that its Channels API (the Messaging inbox) is gone: it was removed on 2026-02-01. ` +
  'Channels work on the workspace surface instead: the floating window, the record panels and transcripts as notes.';

/** The Channels API answered as removed: the installation moves to the workspace surface (once). */
export async function channelsApiRemoved(db: Db, installationId: string, status: number | null): Promise<void> {
  await setSurface(db, installationId, 'workspace', removedReason(status));
}
