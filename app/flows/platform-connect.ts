import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, duringStep } from '../ground/failures.ts';
import { channelContext, sealJson } from '../platforms/context.ts';
import type { ProviderRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { findChannel, insertChannel, replaceTemplates, updateChannel } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { fieldErrors, invalidFields } from '../domain/field-errors.ts';
import { newId } from '../domain/inbox.ts';
import type { Channel, Template } from '../ground/records.ts';

export const TemplateSchema = z.object({
  id: z.string().trim().min(1).max(128),
  name: z.string().trim().min(1).max(255),
  content: z.string().min(1).max(4096),
  language: z.string().trim().min(1).max(32),
});

export interface ConnectRequest {
  provider: string;
  name: string;
  avatarUrl: string | null;
  config: unknown;
  templates: Template[];
  installationId: string | null;
}

export interface ConnectDeps {
  db: Db;
  secrets: Secrets;
  registry: ProviderRegistry;
  appUrl: string;
}

export const webhookUrl = (appUrl: string, provider: string, channelId: string) => `${appUrl}/webhooks/${provider}/${channelId}`;

/**
 * Creates the platform side of a channel through its adapter, then stores the channel with
 * its config and adapter state encrypted. `provider_channel_id` is random, so it is unique
 * across every Pipedrive company this deployment serves.
 */
export async function connectChannel(deps: ConnectDeps, req: ConnectRequest): Promise<{ channel: Channel; notes: Record<string, string> }> {
  const adapter = deps.registry.get(req.provider);
  if (!adapter) {
    throw new AppError('INVALID_BODY', `Unknown provider "${req.provider}"; available: ${[...deps.registry.keys()].join(', ') || 'none'}`);
  }
  const parsed = adapter.configSchema.safeParse(req.config);
  if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, 'config.', req.config));
  const id = newId('ch');
  const providerChannelId = `${req.provider}-${randomUUID()}`;
  const hook = webhookUrl(deps.appUrl, req.provider, id);
  let result;
  try {
    result = await adapter.connect({ channelId: id, providerChannelId, name: req.name, avatarUrl: req.avatarUrl, config: parsed.data, webhookUrl: hook });
  } catch (err) {
    throw duringStep(adapter.displayName, err);
  }
  await deps.db.transaction(async (tx) => {
    await insertChannel(
      tx,
      {
        id,
        providerChannelId,
        installationId: req.installationId,
        provider: req.provider,
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
  const adapter = deps.registry.get(channel.provider);
  if (!adapter) throw new AppError('CONFLICT', `The "${channel.provider}" platform is not available in this build`);
  const current = channelContext<Record<string, unknown>, unknown>(channel, deps.secrets);
  const merged = { ...current.config, ...req.config };
  const parsed = adapter.configSchema.safeParse(merged);
  if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, 'config.', merged));
  const hook = webhookUrl(deps.appUrl, channel.provider, channel.id);
  let result;
  try {
    const next = { channelId: channel.id, providerChannelId: channel.providerChannelId, name: req.name, avatarUrl: req.avatarUrl, config: parsed.data, webhookUrl: hook };
    result = adapter.reconfigure ? await adapter.reconfigure(current, next) : await adapter.connect(next);
  } catch (err) {
    throw duringStep(adapter.displayName, err);
  }
  await updateChannel(
    deps.db,
    channel.id,
    { name: req.name, avatarUrl: req.avatarUrl, configEnc: sealJson(deps.secrets, parsed.data), stateEnc: sealJson(deps.secrets, result.state), lastError: null, ...(channel.status === 'error' ? { status: 'active' as const } : {}) },
    Date.now(),
  );
  return { channel: (await findChannel(deps.db, channel.id))!, notes: { webhook_url: hook, ...result.notes } };
}
