import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { AppError, notFound } from '../../ground/failures.ts';
import { parseConnect, UpdateBody } from '../admin/admin-api.ts';
import { fieldErrors, invalidFields } from '../../domain/field-errors.ts';
import { providerInfos } from '../admin/platforms.ts';
import { deadLettersOf, replayDeadLetters } from '../../flows/dead-letters.ts';
import { connectForInstallation, deleteForInstallation, listForInstallation, updateForInstallation } from '../../flows/channel-lifecycle.ts';
import { setSurface, SURFACES, surfaceOf, type Surface } from '../../domain/surface.ts';
import { findChannel } from '../../store/channels.ts';
import { findInstallation, listCompanyInstallations, type Installation } from '../../store/installations.ts';
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
  const company = async (u: UiIdentity) => (await listCompanyInstallations(d.db, u.companyId)).filter((i) => i.status !== 'uninstalled');
  const acting = async (u: UiIdentity): Promise<Installation> => {
    const i = await findInstallation(d.db, u.installationId);
    if (!i) throw new AppError('UNAUTHORIZED', 'This Pipedrive company has not installed the app yet');
    return i;
  };

  router.get('/settings/channels', mw.auth, async (ctx) => {
    const u = ui(ctx);
    const surface = await surfaceOf(d.db, u.installationId);
    const channels = (await Promise.all((await company(u)).map((i) => listForInstallation(d, i)))).flat();
    ctx.body = { surface: surface.surface, surface_reason: surface.reason, isAdmin: u.isAdmin, providers: providerInfos(d.registry), channels };
  });

  router.post('/settings/channels', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const body = parseConnect(d.registry, ctx.request.body ?? {});
    const installation = await acting(ui(ctx));
    const { channel, notes, surface } = await connectForInstallation(d, installation, { provider: body.provider, name: body.name, avatarUrl: body.avatar_url, config: body.config, templates: body.templates });
    const listed = (await listForInstallation(d, installation)).find((c) => c.id === channel.id);
    ctx.status = 201;
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...notes } }, surface: surface.surface, surface_reason: surface.reason };
  });

  router.patch('/settings/channels/:id', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const parsed = UpdateBody.safeParse(ctx.request.body ?? {});
    if (!parsed.success) throw invalidFields(fieldErrors(parsed.error, '', ctx.request.body));
    const channel = await findChannel(d.db, ctx.params.id!);
    const owner = channel && (await company(ui(ctx))).find((i) => i.id === channel.installationId);
    if (!channel || !owner) throw notFound('Channel');
    const updated = await updateForInstallation(d, owner, channel.id, { name: parsed.data.name, avatarUrl: parsed.data.avatar_url, config: parsed.data.config });
    const listed = (await listForInstallation(d, owner)).find((c) => c.id === updated.channel.id);
    ctx.body = { channel: { ...listed, urls: { ...listed?.urls, ...updated.notes } } };
  });

  router.delete('/settings/channels/:id', mw.auth, admin, async (ctx) => {
    const channel = await findChannel(d.db, ctx.params.id!);
    const owner = channel && (await company(ui(ctx))).find((i) => i.id === channel.installationId);
    if (!channel || !owner) throw notFound('Channel');
    await deleteForInstallation(d, owner, channel.id);
    ctx.body = { deleted: true };
  });

  router.get('/settings/dead-letters', mw.auth, async (ctx) => {
    const lists = await Promise.all((await company(ui(ctx))).map((i) => deadLettersOf(d.db, i.id)));
    ctx.body = { dead_letters: lists.flat().sort((a, b) => b.id - a.id) };
  });

  router.post('/settings/dead-letters/:id/replay', mw.auth, admin, async (ctx) => {
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound('Dead letter');
    for (const i of await company(ui(ctx))) {
      try {
        ctx.body = { replayed: await replayDeadLetters(d.db, i.id, id) };
        return;
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    throw notFound('Dead letter');
  });

  router.get('/settings/surface', mw.auth, async (ctx) => {
    const s = await surfaceOf(d.db, ui(ctx).installationId);
    ctx.body = { surface: s.surface, reason: s.reason };
  });

  // The company chooses once: every installation of it follows.
  router.put('/settings/surface', mw.auth, admin, mw.requireJson, mw.json, async (ctx) => {
    const { surface } = SurfaceBody.parse(ctx.request.body ?? {});
    for (const i of await company(ui(ctx))) await setSurface(d.db, i.id, surface, null);
    ctx.body = { surface, reason: null };
  });
}
