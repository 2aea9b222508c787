import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../ground/failures.ts';
import type { HttpServices } from '../../flows/flows.ts';
import { adminPage } from '../admin/page.ts';
import { platformInfos, webhookHints } from '../admin/platforms.ts';
import type { Installation } from '../../ground/records.ts';
import { mountAssets } from './assets.ts';
import { resolveIdentity, verifyIframeToken, type UiIdentity } from './auth.ts';
import { framedPageHeaders, installShell, noticeShell, RECORD_TYPES, workspaceShell, type RecordType } from './shell.ts';

/**
 * The custom UI extension pages Pipedrive loads in iframes (floating window, record panel, app
 * settings). Each verifies the `token` Pipedrive puts in the URL before it renders anything of the
 * company's; the page's script then calls /ui/api with fresh SDK tokens, never this one.
 * https://pipedrive.readme.io/docs/custom-ui-extensions
 */
export function workspacePagesRouter(s: HttpServices): Router {
  const router = new Router();
  mountAssets(router);

  /** The verified viewer and the installation serving them, or a rendered 401/install page (undefined). */
  async function viewer(ctx: Context): Promise<{ ui: UiIdentity; installation: Installation } | undefined> {
    ctx.set(framedPageHeaders(s.config));
    ctx.type = 'html';
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    let ui: UiIdentity;
    try {
      ui = await resolveIdentity(s, await verifyIframeToken(s.config, token, ctx.query));
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 401) throw err;
      if (err.extra.reason === 'not_installed') {
        ctx.status = 200; // a normal state for a company that has not installed yet, not an error
        ctx.body = installShell(s.config.appUrl);
        return undefined;
      }
      ctx.status = 401;
      ctx.body = noticeShell(
        'Open this from Pipedrive',
        'This page only works inside Pipedrive, and its sign-in could not be verified (missing, invalid or expired). Close it and open it again in Pipedrive.',
      );
      return undefined;
    }
    const installation = await s.directory.installation(ui.installationId);
    if (!installation) throw new AppError('SERVICE_UNAVAILABLE', 'The installation changed meanwhile; reload');
    return { ui, installation };
  }

  router.get('/ui/inbox', async (ctx) => {
    const v = await viewer(ctx);
    if (!v) return;
    ctx.body = workspaceShell({ surface: 'inbox', theme: themeOf(ctx), companyName: v.installation.companyName });
  });

  router.get('/ui/panel', async (ctx) => {
    const v = await viewer(ctx);
    if (!v) return;
    const resource = String(ctx.query.resource ?? '');
    // Pipedrive sends the selected entity id; a comma list is tolerated and its first id used.
    const id = Number(String(ctx.query.selectedIds ?? '').split(',')[0]);
    if (!RECORD_TYPES.includes(resource as RecordType) || !Number.isSafeInteger(id) || id <= 0) {
      ctx.status = 400;
      ctx.body = noticeShell('Unsupported record', 'This panel works on deal, person and organization detail views.');
      return;
    }
    ctx.body = workspaceShell({ surface: 'panel', theme: themeOf(ctx), companyName: v.installation.companyName, record: { type: resource as RecordType, id } });
  });

  router.get('/ui/settings', async (ctx) => {
    const v = await viewer(ctx);
    if (!v) return;
    const [channels, deadLetters] = await Promise.all([s.flows.listChannels(v.installation), s.flows.deadLetters(v.installation.id)]);
    ctx.set(framedPageHeaders(s.config, { inlineStyle: true }));
    ctx.body = adminPage(
      {
        installation: v.installation,
        channels,
        deadLetters,
        pacing: s.client.pacer.stateOf(v.installation.id),
        providers: platformInfos(s.registry),
        webhookHints: webhookHints(s.registry),
        appUrl: s.config.appUrl,
      },
      { inPipedrive: { theme: themeOf(ctx), canEdit: v.ui.isAdmin, viewer: v.ui.userName } },
    );
  });

  return router;
}

const themeOf = (ctx: Context): 'dark' | 'light' => (ctx.query.theme === 'dark' ? 'dark' : 'light');
