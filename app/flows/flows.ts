import type { Installation } from '../ground/records.ts';
import type { BridgeServices } from './services.ts';
import {
  connectChannel,
  connectForInstallation,
  deleteForInstallation,
  listForInstallation,
  reconfigureChannel,
  updateForInstallation,
  type AdminConnect,
  type ConnectRequest,
  type ReconfigureRequest,
} from './channel-lifecycle.ts';
import { deadLettersOf, replayDeadLetters } from './dead-letters.ts';
import { completeInstall, uninstall, uninstallFromAdmin } from './install.ts';
import { setSurface, surfaceOf, type Surface } from '../domain/surface.ts';
import type { Channel } from '../ground/records.ts';

/**
 * The use-cases that span Pipedrive and a platform, bound once to the bridge's services.
 * HTTP handlers, tests, the bench and the demo call these instead of assembling the
 * dependencies themselves.
 */
export class Flows {
  constructor(private readonly s: BridgeServices) {}

  /** The platform side of a channel (adapter connect, stored row); Pipedrive is not told. */
  connectChannel(req: ConnectRequest) {
    return connectChannel(this.s, req);
  }

  /** New settings or name for a channel, checked against the platform first. */
  reconfigureChannel(channel: Channel, req: ReconfigureRequest) {
    return reconfigureChannel(this.s, channel, req);
  }

  /** The admin's connect: platform side, standing conversations, Pipedrive's addChannel, rollback on refusal. */
  connectForInstallation(installation: Installation, req: AdminConnect) {
    return connectForInstallation(this.s, installation, req);
  }

  updateForInstallation(installation: Installation, channelId: string, req: ReconfigureRequest) {
    return updateForInstallation(this.s, installation, channelId, req);
  }

  /** The admin's delete: Pipedrive first, then the platform disconnect as a durable job. */
  deleteChannel(installation: Installation, channelId: string) {
    return deleteForInstallation(this.s, installation, channelId);
  }

  listChannels(installation: Installation) {
    return listForInstallation(this.s, installation);
  }

  /** The OAuth callback's work (code exchange, installation stored, standing conversations). */
  install(code: string) {
    return completeInstall(this.s, code);
  }

  /** Pipedrive's uninstall notice for one user. */
  uninstall(who: { companyId: number; userId: number }) {
    return uninstall(this.s, who);
  }

  /** The admin's "Uninstall": revoke at Pipedrive, then the same clean-up. */
  uninstallFromAdmin(installation: Installation) {
    return uninstallFromAdmin(this.s, installation);
  }

  deadLetters(installationId: string, limit?: number) {
    return deadLettersOf(this.s.db, installationId, limit);
  }

  replayDeadLetters(installationId: string, which: number | 'all') {
    return replayDeadLetters(this.s.db, installationId, which);
  }

  /** Which Pipedrive surface the installation uses (the Channels API, the workspace, both), and why. */
  surfaceOf(installationId: string) {
    return surfaceOf(this.s.db, installationId);
  }

  /** A company's choice of surface, set on each of its installations. */
  async setSurface(installationIds: string[], surface: Surface): Promise<void> {
    for (const id of installationIds) await setSurface(this.s.db, id, surface, null);
  }
}

/** What the HTTP routers are built from: the bridge's services (no database handle) and the flows over them. */
export interface HttpServices extends Omit<BridgeServices, 'db'> {
  flows: Flows;
}
