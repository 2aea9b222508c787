import Router from '@koa/router';
import { HttpMethodEnum, koaBody } from 'koa-body';
import { z } from 'zod';
import { AppError, badRequest, NeedsReinstallError } from '../ground/failures.ts';
import { PipedriveApiError } from '../pipedrive/api-errors.ts';
import type { HttpServices } from '../flows/flows.ts';
import { safeEqual } from '../ground/security/crypto.ts';
import { pipedriveBasicAuth } from './basic-auth.ts';
import { html, page, PAGE_HEADERS } from './html.ts';
import { answerErrorsAs } from './paths.ts';
import { signInSetupPage } from './landing.ts';
import { issueState, startSession, takeState } from './session.ts';

/** Pipedrive's uninstall notice. */
const UninstallBody = z.object({
  client_id: z.string().min(1),
  company_id: z.coerce.number().int().positive(),
  user_id: z.coerce.number().int().positive(),
  timestamp: z.unknown().optional(),
});

/**
 * Install (`GET /auth/pipedrive` → Pipedrive → `GET /auth/pipedrive/callback`) and uninstall
 * (`DELETE /auth/pipedrive/callback`, sent by Pipedrive's OAuth server with basic auth).
 */
export function oauthRouter(s: HttpServices): Router {
  const router = new Router({ prefix: '/auth/pipedrive' });
  const { config, secrets } = s;

  router.get('/', (ctx) => {
    if (!s.oauth.configured) {
      // A person followed a sign-in link on a fresh install: show the setup steps (no link back here).
      ctx.set(PAGE_HEADERS);
      ctx.type = 'html';
      ctx.body = signInSetupPage(config);
      return;
    }
    const state = issueState(ctx, secrets, config.appUrl);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(s.oauth.authorizationUrl(state));
  });

  router.get('/callback', async (ctx) => {
    const q = z.object({ code: z.string().max(2048).optional(), state: z.string().max(256).optional(), error: z.string().max(200).optional() }).safeParse(ctx.query);
    if (!q.success) throw badRequest('The callback query is malformed');
    const expected = takeState(ctx, secrets, config.appUrl);
    if (q.data.error) {
      ctx.set(PAGE_HEADERS);
      ctx.type = 'html';
      if (q.data.error === 'user_denied') {
        ctx.body = page(
          'Installation cancelled',
          html`<h1>Installation cancelled</h1><p class="banner warn">You declined to give this app access to Pipedrive, so nothing was installed.</p>
<p><a href="/auth/pipedrive">Start the installation again</a></p>`,
        );
        return;
      }
      ctx.status = 400;
      ctx.body = page('Installation failed', html`<h1>Installation failed</h1><p class="banner err">Pipedrive answered: ${q.data.error}</p><p><a href="/auth/pipedrive">Try again</a></p>`);
      return;
    }
    // The state check comes before anything else: no exchange for a request we did not start.
    if (!q.data.state || !expected || !safeEqual(q.data.state, expected)) {
      throw badRequest('This sign-in link is not valid for this browser (missing or mismatched state). Start again from /auth/pipedrive.');
    }
    if (!q.data.code) throw badRequest('Pipedrive did not send an authorization code');
    let installation;
    try {
      installation = await s.flows.install(q.data.code);
    } catch (err) {
      if (err instanceof PipedriveApiError && err.status !== null && err.status >= 400 && err.status < 500) {
        throw badRequest(`Pipedrive did not accept the authorization (${err.message}). Start again from /auth/pipedrive.`);
      }
      if (err instanceof PipedriveApiError || err instanceof NeedsReinstallError) throw new AppError('BAD_GATEWAY', 'Pipedrive could not be reached to complete the installation; try again.');
      throw err;
    }
    startSession(ctx, secrets, config.appUrl, installation);
    // Not a 302: the session cookie is SameSite=Strict and browsers withhold it from a redirect
    // chain that started on Pipedrive's site, so /admin is reached by a navigation from this page.
    ctx.set(PAGE_HEADERS);
    ctx.type = 'html';
    ctx.body = page('Signed in', html`<meta http-equiv="refresh" content="0; url=/admin"><h1>Signed in</h1><p><a id="continue" href="/admin">Continue to the admin page</a></p>`);
  });

  const basic = pipedriveBasicAuth(config.pipedrive.clientId, config.pipedrive.clientSecret);
  router.delete(
    '/callback',
    async (ctx, next) => {
      answerErrorsAs(ctx, 'webhook');
      await next();
    },
    // Credentials before parsing: an unauthenticated caller's body is never read.
    basic,
    koaBody({ parsedMethods: [HttpMethodEnum.DELETE], json: true, urlencoded: false, text: false, multipart: false, jsonLimit: '16kb' }),
    async (ctx) => {
      const body = UninstallBody.parse(ctx.request.body ?? {});
      if (!safeEqual(body.client_id, config.pipedrive.clientId ?? '')) throw badRequest('client_id does not match this app');
      const found = await s.flows.uninstall({ companyId: body.company_id, userId: body.user_id });
      ctx.body = { success: true, uninstalled: found };
    },
  );

  return router;
}
