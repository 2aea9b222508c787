import { newId } from '../domain/inbox.ts';
import { ensureStandingConversation } from '../domain/standing.ts';
import { findChannel, listChannels } from '../store/channels.ts';
import { bumpSessionGeneration, findInstallationByUser, listCompanyChannelIds, purgeTokens, upsertInstallation, type Installation } from '../store/installations.ts';
import type { BridgeServices } from './services.ts';

/**
 * The OAuth callback's work: exchange the code, learn who installed, store the installation
 * with sealed tokens, and give the user a standing conversation in each channel the company
 * already has.
 */
export async function completeInstall(s: BridgeServices, code: string): Promise<Installation> {
  const token = await s.oauth.exchangeCode(code);
  const apiBase = `${s.config.pipedrive.apiUrl ?? token.api_domain}/api/v1`;
  const me = await s.client.currentUser(token.access_token, apiBase);
  const existing = await findInstallationByUser(s.db, me.company_id, me.id);
  let installation = await upsertInstallation(
    s.db,
    existing?.id ?? newId('inst'),
    {
      companyId: me.company_id,
      userId: me.id,
      apiDomain: token.api_domain,
      userName: me.name,
      userEmail: me.email ?? null,
      companyName: me.company_name ?? null,
      companyDomain: me.company_domain ?? null,
      isAdmin: Boolean(me.is_admin),
      iconUrl: me.icon_url ?? null,
    },
    {
      accessTokenEnc: s.secrets.encrypt(token.access_token),
      refreshTokenEnc: s.secrets.encrypt(token.refresh_token),
      expiresAt: Date.now() + token.expires_in * 1000,
    },
    Date.now(),
  );
  // A reinstall (after an uninstall or a lapsed authorization) starts a new session generation:
  // no cookie from before it is honoured again.
  if (existing && existing.status !== 'active') installation = { ...installation, sessionGeneration: await bumpSessionGeneration(s.db, installation.id) };
  s.tokens.forget(installation.id);
  for (const channelId of await listCompanyChannelIds(s.db, installation.companyId)) {
    const channel = await findChannel(s.db, channelId);
    if (channel) await ensureStandingConversation(s.inbox, channel, installation, platformName(s, channel.platform, channel.name));
  }
  s.log.info({ installation: installation.id, company: installation.companyId, user: installation.userId }, 'pipedrive installation stored');
  return installation;
}

/**
 * Pipedrive's uninstall notice for one user: erase the tokens and take that user's channels
 * down on the platform side (the disconnect runs as a durable job). Unknown users are a no-op.
 */
export async function uninstall(s: BridgeServices, who: { companyId: number; userId: number }): Promise<boolean> {
  const installation = await findInstallationByUser(s.db, who.companyId, who.userId);
  if (!installation) return false;
  await purgeTokens(s.db, installation.id, Date.now());
  s.tokens.forget(installation.id);
  for (const channel of await listChannels(s.db, { installationId: installation.id })) await s.inbox.deleteChannel(channel);
  s.log.info({ installation: installation.id }, 'pipedrive installation uninstalled');
  return true;
}

/**
 * Uninstall started by the vendor (the admin's "Uninstall" button): revoking the refresh
 * token marks the app uninstalled in Pipedrive, then the same
 * local clean-up as Pipedrive's notice. A revoke that fails is logged; the local side still goes.
 */
export async function uninstallFromAdmin(s: BridgeServices, installation: Installation): Promise<void> {
  if (installation.refreshTokenEnc) {
    try {
      await s.oauth.revoke(s.secrets.decrypt(installation.refreshTokenEnc), 'refresh_token');
    } catch (err) {
      s.log.warn({ installation: installation.id, reason: err instanceof Error ? err.message : String(err) }, 'pipedrive token revoke failed');
    }
  }
  await uninstall(s, { companyId: installation.companyId, userId: installation.userId });
}

export function platformName(s: Pick<BridgeServices, 'registry'>, platform: string, channelName: string): string {
  const adapter = s.registry.get(platform);
  return adapter ? `${channelName} (${adapter.displayName})` : channelName;
}
