import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, duringStep, notFound } from '../ground/failures.ts';
import { waitSeconds } from '../ground/security/token-buckets.ts';
import { ensureStandingConversation } from '../domain/standing.ts';
import { fieldErrors, invalidFields, refusedSetting } from '../domain/field-errors.ts';
import { newId } from '../domain/inbox.ts';
import type { Channel, Template } from '../ground/records.ts';
import { channelContext, sealJson } from '../platforms/context.ts';
import { visibleSettings } from '../platforms/fields.ts';
import { lastDeadJobErrors } from '../store/admin.ts';
import { findChannel, insertChannel, listChannels, purgeChannel, replaceTemplates, updateChannel } from '../store/channels.ts';
import { countConversations } from '../store/conversations.ts';
import { listCompanyInstallations, type Installation } from '../store/installations.ts';
import { backlogByChannel } from '../store/jobs.ts';
import { isChannelsApiRemoved, PipedriveApiError } from '../pipedrive/api-errors.ts';
import { channelsApiRemoved, surfaceOf, usesChannelsApi, type Surface } from '../domain/surface.ts';
import { platformName } from './install.ts';
import type { BridgeServices } from './services.ts';

/*
 * A channel's life as both sides see it: the platform side (the adapter connects, the row is
 * stored with its settings sealed) and the Pipedrive side (standing conversations, addChannel,
 * rollback when Pipedrive refuses), then edits, deletion and the admin's listing.
 */

export const TemplateSchema = z.object({
  id: z.string().trim().min(1).max(128),
  name: z.string().trim().min(1).max(255),
  content: z.string().min(1).max(4096),
  language: z.string().trim().min(1).max(32),
});

export interface ConnectRequest {
  platform: string;
  name: string;
  avatarUrl: string | null;
  config: unknown;
  templates: Template[];
  installationId: string | null;
}

/** What the platform side of connect needs: a subset of the bridge's services. */
export type ConnectDeps = Pick<BridgeServices, 'db' | 'secrets' | 'registry' | 'config' | 'inbox'>;

export const webhookUrl = (appUrl: string, platform: string, channelId: string) => `${appUrl}/webhooks/${platform}/${channelId}`;

/**
 * Creates the platform side of a channel through its adapter, then stores the channel with
 * its config and adapter state encrypted. `provider_channel_id` is random, so it is unique
 * across every Pipedrive company this deployment serves.
 */
export async function connectChannel(deps: ConnectDeps, req: ConnectRequest): Promise<{ channel: Channel; notes: Record<string, string> }> {
  const adapter = deps.registry.get(req.platform);
  if (!adapter) {
    throw new AppError('INVALID_BODY', `Unknown provider "${req.platform}"; available: ${[...deps.registry.keys()].join(', ') || 'none'}`);
  }
  const parsed = adapter.configSchema.safeParse(req.config);
  if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, 'config.', req.config));
  const id = newId('ch');
  const providerChannelId = `${req.platform}-${randomUUID()}`;
  const hook = webhookUrl(deps.config.appUrl, req.platform, id);
  let result;
  try {
    result = await adapter.connect({ channelId: id, providerChannelId, name: req.name, avatarUrl: req.avatarUrl, config: parsed.data, webhookUrl: hook });
  } catch (err) {
    // A refused platform URL is the admin's input (a field error); anything else is the step's failure.
    throw refusedSetting(err) ?? duringStep(adapter.displayName, err);
  }
  await deps.db.transaction(async (tx) => {
    await insertChannel(
      tx,
      {
        id,
        providerChannelId,
        installationId: req.installationId,
        platform: req.platform,
        name: req.name,
        avatarUrl: req.avatarUrl,
        configEnc: sealJson(deps.secrets, parsed.data),
        stateEnc: sealJson(deps.secrets, result.state),
        status: 'active',
      },
      Date.now(),
    );
    await replaceTemplates(tx, id, req.templates);
  });
  return { channel: (await findChannel(deps.db, id))!, notes: { webhook_url: hook, ...result.notes } };
}

export interface ReconfigureRequest {
  name: string;
  avatarUrl: string | null;
  /** Only the settings that change; the rest (secrets left empty on the form) are kept. */
  config: Record<string, unknown>;
}

/**
 * Edits a channel without deleting it: the new settings are merged over the stored ones,
 * validated, and checked against the platform (adapter.reconfigure, else connect) before
 * anything is stored. Conversations, messages and the Pipedrive registration stay.
 */
export async function reconfigureChannel(deps: ConnectDeps, channel: Channel, req: ReconfigureRequest): Promise<{ channel: Channel; notes: Record<string, string> }> {
  const adapter = deps.registry.get(channel.platform);
  if (!adapter) throw new AppError('CONFLICT', `The "${channel.platform}" platform is not available in this build`);
  const current = channelContext<Record<string, unknown>, unknown>(channel, deps.secrets);
  const merged = { ...current.config, ...req.config };
  const parsed = adapter.configSchema.safeParse(merged);
  if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, 'config.', merged));
  const hook = webhookUrl(deps.config.appUrl, channel.platform, channel.id);
  let result;
  try {
    const next = { channelId: channel.id, providerChannelId: channel.providerChannelId, name: req.name, avatarUrl: req.avatarUrl, config: parsed.data, webhookUrl: hook };
    result = adapter.reconfigure ? await adapter.reconfigure(current, next) : await adapter.connect(next);
  } catch (err) {
    throw refusedSetting(err) ?? duringStep(adapter.displayName, err);
  }
  await updateChannel(
    deps.db,
    channel.id,
    {
      name: req.name,
      avatarUrl: req.avatarUrl,
      configEnc: sealJson(deps.secrets, parsed.data),
      stateEnc: sealJson(deps.secrets, result.state),
      lastError: null,
      ...(channel.status === 'error' ? { status: 'active' as const } : {}),
    },
    Date.now(),
  );
  // New credentials (an Airy source token, Alvaria's callback keys) count from this commit on.
  deps.inbox.channelChanged(channel.id);
  return { channel: (await findChannel(deps.db, channel.id))!, notes: { webhook_url: hook, ...result.notes } };
}

export interface AdminConnect {
  platform: string;
  name: string;
  avatarUrl: string | null;
  config: unknown;
  templates: Template[];
}

/**
 * The admin's "Connect channel": platform side first (adapter), then standing conversations
 * for every user of the company, then Pipedrive's addChannel (which calls getConversations
 * back, so the conversations must exist before). If Pipedrive refuses, the platform side is
 * rolled back and the channel forgotten; the admin sees Pipedrive's message.
 */
export async function connectForInstallation(s: BridgeServices, installation: Installation, req: AdminConnect) {
  usable(installation);
  // Every attempt makes calls to a host the admin names: bounded, so connect is no scanner.
  const wait = s.connectLimiter.take(installation.id);
  if (wait > 0) {
    const seconds = waitSeconds(wait);
    throw new AppError('RATE_LIMIT_EXCEEDED', `Too many connect attempts; try again in ${seconds} s`, { retry_after_seconds: seconds });
  }
  const { channel, notes } = await connectChannel(s, { ...req, installationId: installation.id });
  let surface: { surface: Surface; reason: string | null };
  try {
    const name = platformName(s, channel.platform, channel.name);
    for (const user of await listCompanyInstallations(s.db, installation.companyId)) await ensureStandingConversation(s.inbox, channel, user, name);
    surface = await surfaceOf(s.db, installation.id);
    if (usesChannelsApi(surface.surface)) {
      try {
        await s.client.addChannel(installation.id, {
          name: channel.name,
          provider_channel_id: channel.providerChannelId,
          ...(channel.avatarUrl ? { avatar_url: channel.avatarUrl } : {}),
          provider_type: 'other',
          ...(req.templates.length ? { template_support: true } : {}),
        });
      } catch (err) {
        // Pipedrive removed the Channels API: the channel still works, on the workspace surface.
        if (!isChannelsApiRemoved(err, true)) throw err;
        await channelsApiRemoved(s.db, installation.id, err instanceof PipedriveApiError ? err.status : null);
        surface = await surfaceOf(s.db, installation.id);
        s.log.warn({ installation: installation.id, channel: channel.id }, 'the Channels API answered as removed: the installation now uses the workspace surface');
      }
    }
  } catch (err) {
    await rollback(s, channel);
    throw duringStep('Pipedrive refused the channel', err);
  }
  s.log.info({ channel: channel.id, platform: channel.platform, surface: surface.surface }, 'channel connected');
  return { channel, notes, surface };
}

async function rollback(s: BridgeServices, channel: Channel): Promise<void> {
  try {
    await s.registry.get(channel.platform)?.disconnect(channelContext(channel, s.secrets));
  } catch (err) {
    s.log.warn({ channel: channel.id, err: err instanceof Error ? err.message : String(err) }, 'rollback: platform disconnect failed');
  }
  await purgeChannel(s.db, channel.id);
  s.inbox.channelChanged(channel.id);
}

/**
 * Admin edit: new credentials or name, checked against the platform, without deleting the
 * channel. Pipedrive's Channels API has no rename, so Pipedrive keeps the name it was
 * registered with; the bridge and the platform take the new one.
 */
export async function updateForInstallation(s: BridgeServices, installation: Installation, channelId: string, req: ReconfigureRequest) {
  const channel = await findChannel(s.db, channelId);
  if (!channel || channel.installationId !== installation.id || channel.status === 'deleted') throw notFound('Channel');
  usable(installation);
  const updated = await reconfigureChannel(s, channel, req);
  s.log.info({ channel: channel.id, platform: channel.platform }, 'channel settings updated');
  return updated;
}

/** Admin delete: Pipedrive first (already gone is fine), then the domain queues the platform disconnect. */
export async function deleteForInstallation(s: BridgeServices, installation: Installation, channelId: string): Promise<void> {
  const channel = await findChannel(s.db, channelId);
  if (!channel || channel.installationId !== installation.id || channel.status === 'deleted') throw notFound('Channel');
  usable(installation);
  if (usesChannelsApi((await surfaceOf(s.db, installation.id)).surface)) {
    try {
      await s.client.deleteChannel(installation.id, channel.providerChannelId);
    } catch (err) {
      if (isChannelsApiRemoved(err)) await channelsApiRemoved(s.db, installation.id, (err as PipedriveApiError).status);
      else if (!(err instanceof PipedriveApiError && err.status === 404)) throw duringStep('Pipedrive could not delete the channel', err);
    }
  }
  await s.inbox.deleteChannel(channel);
}

export async function listForInstallation(s: BridgeServices, installation: Installation) {
  const channels = await listChannels(s.db, { installationId: installation.id });
  const ids = channels.map((c) => c.id);
  const [counts, backlog, errors] = await Promise.all([countConversations(s.db, ids), backlogByChannel(s.db, ids), lastDeadJobErrors(s.db, ids)]);
  return channels.map((c) => ({
    id: c.id,
    provider_channel_id: c.providerChannelId,
    provider: c.platform,
    provider_name: s.registry.get(c.platform)?.displayName ?? c.platform,
    name: c.name,
    avatar_url: c.avatarUrl,
    status: c.status,
    conversations: counts.get(c.id) ?? 0,
    backlog: backlog.get(c.id) ?? { pending: 0, dead: 0 },
    last_error: c.lastError ?? errors.get(c.id) ?? null,
    urls: channelUrls(s, c),
    /** The non-secret settings, for the edit form (secrets are never sent back). */
    settings: settingsOf(s, c),
    created_at: new Date(c.createdAt).toISOString(),
  }));
}

function settingsOf(s: BridgeServices, c: Channel): Record<string, unknown> {
  const adapter = s.registry.get(c.platform);
  if (!adapter || c.status === 'deleted') return {};
  return visibleSettings(adapter.configSchema, channelContext<Record<string, unknown>, unknown>(c, s.secrets).config);
}

/** The URLs the platform must call for this channel. */
export function channelUrls(s: Pick<BridgeServices, 'config' | 'registry'>, c: Pick<Channel, 'id' | 'platform'>): Record<string, string> {
  const url = webhookUrl(s.config.appUrl, c.platform, c.id);
  return { webhook_url: url, ...Object.fromEntries((s.registry.get(c.platform)?.webhookUrlAliases ?? []).map((name) => [name, url])) };
}

function usable(installation: Installation): void {
  if (installation.status === 'needs_reinstall') {
    throw new AppError('CONFLICT', 'The Pipedrive authorization of this installation lapsed: install the app again from /auth/pipedrive');
  }
}
