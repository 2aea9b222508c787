import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { sealJson } from '../providers/context.ts';
import { ProviderError } from '../providers/provider.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { Secrets } from '../security/crypto.ts';
import { findChannel, insertChannel, replaceTemplates } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { newId } from './inbox.ts';
import type { Channel, Template } from './types.ts';

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
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('INVALID_BODY', `config.${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const id = newId('ch');
  const providerChannelId = `${req.provider}-${randomUUID()}`;
  const hook = webhookUrl(deps.appUrl, req.provider, id);
  let result;
  try {
    result = await adapter.connect({ channelId: id, providerChannelId, name: req.name, avatarUrl: req.avatarUrl, config: parsed.data, webhookUrl: hook });
  } catch (err) {
    if (err instanceof ProviderError) throw new AppError('BAD_GATEWAY', `${adapter.displayName}: ${err.message}`);
    throw err;
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
