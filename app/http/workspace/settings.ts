import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { AppError, notFound } from '../../ground/failures.ts';
import { parseConnect, UpdateBody } from '../admin/admin-api.ts';
import { fieldErrors, invalidFields } from '../../domain/field-errors.ts';
import { platformInfos } from '../admin/platforms.ts';
import { SURFACES, type Surface } from '../../domain/surface.ts';
import type { Installation } from '../../ground/records.ts';
import type { UiIdentity } from './auth.ts';
import type { WorkspaceDeps } from '../../flows/workspace/deps.ts';

type Mw = (ctx: Context, next: Next) => Promise<unknown>;

const SurfaceBody = z.object({ surface: z.enum(SURFACES as [Surface, ...Surface[]]) });

/**
 * The admin page's operations inside Pipedrive (the app settings page), under the iframe's
 * bearer token instead of the OAuth session: anyone of the company may look, only Pipedrive
 * admins may connect, delete, replay or change the surface.
 */
export function settingsRoutes(d: WorkspaceDeps, router: Router, mw: { auth: Mw; json: Mw; requireJson: Mw }): void {
  const ui = (ctx: Context) => ctx.state.ui as UiIdentity;
  const admin = async (ctx: Context, next: Next) => {
    if (!ui(ctx).isAdmin) throw new AppError('FORBIDDEN', 'Only Pipedrive admins of this company can change the app settings');
    await next();
  };
  const company = async (u: UiIdentity) => (await d.directory.companyInstallations(u.companyId)).filter((i) => i.status !== 'uninstalled');
  const acting = async (u: UiIdentity): Promise<Installation> => {
    const i = await d.directory.installation(u.installationId);
    if (!i) throw new AppError('UNAUTHORIZED', 'This Pipedrive company has not installed the app yet');
    return i;
  };

  router.get('/settings/channels', mw.auth, async (ctx) => {
    const u = ui(ctx);
    const surface = await d.flows.surfaceOf(u.installationId);
    const channels = (await Promise.all((await company(u)).map((i) => d.flows.listChannels(i)))).flat();
    ctx.body = { surface: surface.surface, surface_reason: surface.reason, isAdmin: u.isAdmin, providers: platformInfos(d.registry), channels };
  });

  router.post('/settings/channels', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const body = parseConnect(d.registry, ctx.request.body ?? {});
    const installation = await acting(ui(ctx));
    const { channel, notes, surface } = await d.flows.connectForInstallation(installation, {
      platform: body.provider,
      name: body.name,
      avatarUrl: body.avatar_url,
      config: body.config,
      templates: body.templates,
    });
    const listed = (await d.flows.listChannels(installation)).find((c) => c.id === channel.id);
    ctx.status = 201;
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...notes } }, surface: surface.surface, surface_reason: surface.reason };
  });

  router.patch('/settings/channels/:id', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const parsed = UpdateBody.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, '', ctx.request.body));
    const channel = await d.directory.channel(ctx.params.id!);
    const owner = channel && (await company(ui(ctx))).find((i) => i.id === channel.installationId);
    if (!channel || !owner) throw notFound('Channel');
    const updated = await d.flows.updateForInstallation(owner, channel.id, { name: parsed.data.name, avatarUrl: parsed.data.avatar_url, config: parsed.data.config });
    const listed = (await d.flows.listChannels(owner)).find((c) => c.id === updated.channel.id);
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...updated.notes } } };
  });

  router.delete('/settings/channels/:id', mw.auth, admin, async (ctx) => {
    const channel = await d.directory.channel(ctx.params.id!);
    const owner = channel && (await company(ui(ctx))).find((i) => i.id === channel.installationId);
    if (!channel || !owner) throw notFound('Channel');
    await d.flows.deleteChannel(owner, channel.id);
    ctx.body = { deleted: true };
  });

  router.get('/settings/dead-letters', mw.auth, async (ctx) => {
    const lists = await Promise.all((await company(ui(ctx))).map((i) => d.flows.deadLetters(i.id)));
    ctx.body = { dead_letters: lists.flat().sort((a, b) => b.id - a.id) };
  });

  router.post('/settings/dead-letters/:id/replay', mw.auth, admin, async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound('Dead letter');
    for (const i of await company(ui(ctx))) {
      try {
        ctx.body = { replayed: await d.flows.replayDeadLetters(i.id, id) };
        return;
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    throw notFound('Dead letter');
  });

  router.get('/settings/surface', mw.auth, async (ctx) => {
    const s = await d.flows.surfaceOf(ui(ctx).installationId);
    ctx.body = { surface: s.surface, reason: s.reason };
  });

  // The company chooses once: every installation of it follows.
  router.put('/settings/surface', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const { surface } = SurfaceBody.parse(ctx.request.body ?? {});
    await d.flows.setSurface(
      (await company(ui(ctx))).map((i) => i.id),
      surface,
    );
    ctx.body = { surface, reason: null };
  });
}
