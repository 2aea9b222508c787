import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../ground/failures.ts';
import { TemplateSchema } from '../../flows/channel-lifecycle.ts';
import { fieldErrors, invalidFields } from '../../domain/field-errors.ts';
import type { HttpServices } from '../../flows/flows.ts';
import type { PlatformRegistry } from '../../platforms/registry.ts';
import type { Installation } from '../../ground/records.ts';
import { endSession } from '../session.ts';
import { platformInfos } from './platforms.ts';

const name = z.string().trim().min(1, 'Give the channel a name.').max(255);
const avatarUrl = z
  .union([z.literal(''), z.null(), z.url({ protocol: /^https?$/, error: 'Enter a full address that starts with https://' }).max(2048)])
  .optional()
  .transform((v) => v || null);

export const ConnectBody = z.object({
  provider: z.string().trim().min(1).max(32),
  name,
  avatar_url: avatarUrl,
  config: z.record(z.string(), z.unknown()),
  templates: z.array(TemplateSchema).max(200).default([]),
});

/** An edit: the name and avatar as they should be, and only the settings that change. */
export const UpdateBody = z.object({
  name,
  avatar_url: avatarUrl,
  config: z.record(z.string(), z.unknown()).default({}),
});

/**
 * Every problem of a connect form at once: the body's own fields and, when the platform is
 * known, its settings, so the page can mark each field (not one per submit).
 */
export function parseConnect(registry: PlatformRegistry, raw: unknown) {
  const body = ConnectBody.safeParse(raw);
  const provider = registry.get(String((raw as { provider?: unknown } | null)?.provider ?? ''));
  if (body.success && provider) {
    const config = provider.configSchema.safeParse(body.data.config);
    if (config.success) return body.data;
    throw invalidFields(fieldErrors(config.error, 'config.', body.data.config));
  }
  const errors = body.success ? [] : fieldErrors(body.error, '', raw);
  const config = (raw as { config?: unknown } | null)?.config;
  if (provider && config && typeof config === 'object') {
    const checked = provider.configSchema.safeParse(config);
    if (!checked.success) errors.push(...fieldErrors(checked.error, 'config.', config));
  }
  // An unknown platform is the domain's error (it lists the available ones).
  if (!errors.length) return ConnectBody.parse(raw);
  throw invalidFields(errors);
}

export function presentInstallation(i: Installation) {
  return {
    id: i.id,
    company_id: i.companyId,
    company_name: i.companyName,
    user_id: i.userId,
    user_name: i.userName,
    user_email: i.userEmail,
    is_admin: i.isAdmin,
    status: i.status,
    last_error: i.lastError,
  };
}

/**
 * The admin JSON API. Session, CSRF content-type, admin-rights and body parsing
 * all happen in adminApiGuard (guard.ts), before routing, for every spelling of the path.
 */
export function adminApiRouter(s: HttpServices): Router {
  const router = new Router({ prefix: '/admin/api' });

  const who = (ctx: Context): Installation => {
    // The guard sets it; a handler reached without it is a wiring bug, refused rather than run.
    if (!ctx.state.installation) throw new AppError('UNAUTHORIZED', 'Sign in with Pipedrive first (/auth/pipedrive)');
    return ctx.state.installation as Installation;
  };

  router.get('/channels', async (ctx) => {
    const pace = s.client.pacer.stateOf(who(ctx).id);
    const surface = await s.flows.surfaceOf(who(ctx).id);
    ctx.body = {
      installation: {
        ...presentInstallation(who(ctx)),
        surface: surface.surface,
        surface_reason: surface.reason,
        pipedrive_parked_until: pace.parkedUntil === null ? null : new Date(pace.parkedUntil).toISOString(),
        pipedrive_circuit: pace.breaker,
      },
      providers: platformInfos(s.registry),
      channels: await s.flows.listChannels(who(ctx)),
    };
  });

  router.post('/channels', async (ctx) => {
    const body = parseConnect(s.registry, ctx.request.body ?? {});
    const { channel, notes, surface } = await s.flows.connectForInstallation(who(ctx), {
      platform: body.provider,
      name: body.name,
      avatarUrl: body.avatar_url,
      config: body.config,
      templates: body.templates,
    });
    const listed = (await s.flows.listChannels(who(ctx))).find((c) => c.id === channel.id);
    ctx.status = 201;
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...notes } }, surface: surface.surface, surface_reason: surface.reason };
  });

  router.patch('/channels/:id', async (ctx) => {
    const parsed = UpdateBody.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, '', ctx.request.body));
    const { channel, notes } = await s.flows.updateForInstallation(who(ctx), ctx.params.id!, { name: parsed.data.name, avatarUrl: parsed.data.avatar_url, config: parsed.data.config });
    const listed = (await s.flows.listChannels(who(ctx))).find((c) => c.id === channel.id);
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...notes } } };
  });

  router.delete('/channels/:id', async (ctx) => {
    await s.flows.deleteChannel(who(ctx), ctx.params.id!);
    ctx.body = { deleted: true };
  });

  router.get('/dead-letters', async (ctx) => {
    ctx.body = { dead_letters: await s.flows.deadLetters(who(ctx).id) };
  });

  router.post('/dead-letters/replay', async (ctx) => {
    ctx.body = { replayed: await s.flows.replayDeadLetters(who(ctx).id, 'all') };
  });

  router.post('/dead-letters/:id/replay', async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('NOT_FOUND', 'Dead letter not found');
    ctx.body = { replayed: await s.flows.replayDeadLetters(who(ctx).id, id) };
  });

  /** Uninstall from our side: revoke at Pipedrive, purge tokens, disconnect channels, end the session. */
  router.delete('/installation', async (ctx) => {
    await s.flows.uninstallFromAdmin(who(ctx));
    endSession(ctx, s.config.appUrl);
    ctx.body = { uninstalled: true };
  });

  return router;
}
