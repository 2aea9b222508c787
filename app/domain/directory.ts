import type { Attachment, Channel, Installation, WorkspaceUser } from '../ground/records.ts';
import type { Db } from '../store/db.ts';
import type { ChannelCache } from './channel-cache.ts';
import { bumpSessionGeneration, findInstallation, findInstallationByUser, listCompanyInstallations } from '../store/installations.ts';
import { findAttachment } from '../store/messages.ts';
import { findWorkspaceUser, listCompanyChannels, upsertWorkspaceUser } from '../store/workspace.ts';

/**
 * Who and what the HTTP edge looks up by id: installations and their sessions, users of an
 * installed company, channels, attachments. Reads (and the two small writes sign-in needs),
 * so request handlers never hold the database.
 */
export class Directory {
  constructor(
    private readonly db: Db,
    private readonly channels: ChannelCache,
  ) {}

  installation(id: string): Promise<Installation | undefined> {
    return findInstallation(this.db, id);
  }

  /** The installation a Pipedrive user made themselves, if any. */
  installationOf(companyId: number, userId: number): Promise<Installation | undefined> {
    return findInstallationByUser(this.db, companyId, userId);
  }

  /** Every installation of a Pipedrive company (one per user who installed), uninstalled ones included. */
  companyInstallations(companyId: number): Promise<Installation[]> {
    return listCompanyInstallations(this.db, companyId);
  }

  /** Ends every session issued for the installation so far (sign-out everywhere); answers the new generation. */
  newSessionGeneration(installationId: string): Promise<number> {
    return bumpSessionGeneration(this.db, installationId);
  }

  workspaceUser(companyId: number, userId: number): Promise<WorkspaceUser | undefined> {
    return findWorkspaceUser(this.db, companyId, userId);
  }

  saveWorkspaceUser(u: Omit<WorkspaceUser, 'updatedAt'>): Promise<void> {
    return upsertWorkspaceUser(this.db, u, Date.now());
  }

  /** The company's channels, in brief (id, name, platform, owning installation). */
  companyChannels(companyId: number): Promise<Array<{ id: string; name: string; platform: string; installationId: string }>> {
    return listCompanyChannels(this.db, companyId);
  }

  /** Through the channel cache: changes made in this process are seen at once, others' within LOOKUP_TTL_MS. */
  channel(id: string): Promise<Channel | undefined> {
    return this.channels.byId(id);
  }

  attachment(id: string): Promise<Attachment | undefined> {
    return findAttachment(this.db, id);
  }
}
