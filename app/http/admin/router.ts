import Router from '@koa/router';
import type { HttpServices } from '../../flows/flows.ts';
import { html, page, PAGE_HEADERS, raw } from '../html.ts';
import { endSession, sessionInstallation } from '../session.ts';
import { adminApiRouter } from './admin-api.ts';
import { ADMIN_JS } from './assets.ts';
import { adminPage } from './page.ts';
import { platformInfos, webhookHints } from './platforms.ts';

/** GET /admin (the page), its script, and the JSON API under /admin/api. */
export function adminRouters(s: HttpServices): Router[] {
  const router = new Router();

  router.get('/admin', async (ctx) => {
    ctx.set(PAGE_HEADERS);
    ctx.type = 'html';
    const installation = await sessionInstallation(ctx, s.secrets, s.directory, s.config.appUrl);
    if (!installation) {
      ctx.status = 401;
      // Arriving from another site (a link in Pipedrive), the browser withheld the SameSite=Strict
      // cookie: reloading from this page is a same-site navigation that carries it, if there is one.
      const fromElsewhere = ctx.get('sec-fetch-site') === 'cross-site';
      ctx.body = page(
        'Sign in',
        html`${fromElsewhere ? raw('<meta http-equiv="refresh" content="0">') : ''}<h1>Pipedrive messaging bridge</h1><p>Sign in by installing the app in your Pipedrive account.</p>
<p><a id="install" href="/auth/pipedrive">Install / sign in with Pipedrive</a></p>`,
      );
      return;
    }
    const [channels, deadLetters] = await Promise.all([s.flows.listChannels(installation), s.flows.deadLetters(installation.id)]);
    ctx.body = adminPage({
      installation,
      channels,
      deadLetters,
      pacing: s.client.pacer.stateOf(installation.id),
      providers: platformInfos(s.registry),
      webhookHints: webhookHints(s.registry),
      appUrl: s.config.appUrl,
    });
  });

  /**
   * Sign-out ends every session of this installation on the server (its session generation
   * moves on), not just this browser's cookie. A plain form POST: a cross-site one carries no
   * SameSite=Strict cookie, so it can sign nobody out.
   */
  router.post('/admin/logout', async (ctx) => {
    const installation = await sessionInstallation(ctx, s.secrets, s.directory, s.config.appUrl);
    if (installation) await s.directory.newSessionGeneration(installation.id);
    endSession(ctx, s.config.appUrl);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect('/admin');
  });

  router.get('/admin/assets/admin.js', (ctx) => {
    ctx.set({ 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    ctx.type = 'application/javascript';
    ctx.body = ADMIN_JS;
  });

  return [router, adminApiRouter(s)];
}
