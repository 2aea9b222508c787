import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { TemplateSchema } from '../../inbox/channels.ts';
import { deadLettersOf, replayDeadLetters } from '../../inbox/dead-letters.ts';
import { connectForInstallation, deleteForInstallation, listForInstallation } from '../../pipedrive/channels.ts';
import { uninstallFromAdmin } from '../../pipedrive/install.ts';
import { surfaceOf } from '../../pipedrive/surface.ts';
import type { PipedriveServices } from '../../pipedrive/services.ts';
import type { Installation } from '../../store/installations.ts';
import { endSession } from '../session.ts';
import { providerInfos } from './providers.ts';

export const ConnectBody = z.object({
  provider: z.string().trim().min(1).max(32),
  name: z.string().trim().min(1, 'name is required').max(255),
  avatar_url: z
    .union([z.literal(''), z.null(), z.url({ protocol: /^https?$/, error: 'avatar_url must be an http(s) URL' }).max(2048)])
    .optional()
    .transform((v) => v || null),
  config: z.record(z.string(), z.unknown()),
  templates: z.array(TemplateSchema).max(200).default([]),
});

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
 * The admin JSON API (DESIGN.md). Session, CSRF content-type, admin-rights and body parsing
 * all happen in adminApiGuard (guard.ts), before routing, for every spelling of the path.
 */
export function adminApiRouter(s: PipedriveServices): Router {
  const router = new Router({ prefix: '/admin/api' });

  const who = (ctx: Context): Installation => {
    // The guard sets it; a handler reached without it is a wiring bug, refused rather than run.
    if (!ctx.state.installation) throw new AppError('UNAUTHORIZED', 'Sign in with Pipedrive first (/auth/pipedrive)');
    return ctx.state.installation as Installation;
  };

  router.get('/channels', async (ctx) => {
    const pace = s.client.pacer.stateOf(who(ctx).id);
    const surface = await surfaceOf(s.db, who(ctx).id);
    ctx.body = {
      installation: {
        ...presentInstallation(who(ctx)),
        surface: surface.surface,
        surface_reason: surface.reason,
        pipedrive_parked_until: pace.parkedUntil === null ? null : new Date(pace.parkedUntil).toISOString(),
        pipedrive_circuit: pace.breaker,
      },
      providers: providerInfos(s.registry),
      channels: await listForInstallation(s, who(ctx)),
    };
  });

  router.post('/channels', async (ctx) => {
    const body = ConnectBody.parse(ctx.request.body ?? {});
    const { channel, notes, surface } = await connectForInstallation(s, who(ctx), {
      provider: body.provider,
      name: body.name,
      avatarUrl: body.avatar_url,
      config: body.config,
      templates: body.templates,
    });
    const listed = (await listForInstallation(s, who(ctx))).find((c) => c.id === channel.id);
    ctx.status = 201;
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...notes } }, surface: surface.surface, surface_reason: surface.reason };
  });

  router.delete('/channels/:id', async (ctx) => {
    await deleteForInstallation(s, who(ctx), ctx.params.id!);
    ctx.body = { deleted: true };
  });

  router.get('/dead-letters', async (ctx) => {
    ctx.body = { dead_letters: await deadLettersOf(s.db, who(ctx).id) };
  });

  router.post('/dead-letters/replay', async (ctx) => {
    ctx.body = { replayed: await replayDeadLetters(s.db, who(ctx).id, 'all') };
  });

  router.post('/dead-letters/:id/replay', async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('NOT_FOUND', 'Dead letter not found');
    ctx.body = { replayed: await replayDeadLetters(s.db, who(ctx).id, id) };
  });

  /** Uninstall from our side: revoke at Pipedrive, purge tokens, disconnect channels, end the session. */
  router.delete('/installation', async (ctx) => {
    await uninstallFromAdmin(s, who(ctx));
    endSession(ctx, s.config.appUrl);
    ctx.body = { uninstalled: true };
  });

  return router;
}
