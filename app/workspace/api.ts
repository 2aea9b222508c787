import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { iframeAuth, type UiIdentity } from './auth.ts';
import type { WorkspaceDeps } from './deps.ts';
import { surfaceOf } from './surface.ts';
import { listCompanyChannels } from '../store/workspace.ts';

export const uiOf = (ctx: Context): UiIdentity => ctx.state.ui as UiIdentity;

/**
 * The workspace JSON API under /ui/api: every call carries the SDK's fresh iframe token as
 * `Authorization: Bearer`; errors answer `{error:{code,message}}`. Handlers stay thin: the
 * work is in app/workspace/*.ts over the inbox and the store.
 */
export function workspaceApiRouter(d: WorkspaceDeps): Router {
  const router = new Router({ prefix: '/ui/api' });
  router.use(async (ctx: Context, next: Next) => {
    ctx.state.errorShape = 'admin';
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  const auth = iframeAuth({ config: d.config, db: d.db, client: d.client, log: d.log });

  router.get('/me', auth, async (ctx) => {
    const ui = uiOf(ctx);
    const channels = await listCompanyChannels(d.db, ui.companyId);
    ctx.body = {
      user: { id: ui.userId, name: ui.userName, email: ui.userEmail, isAdmin: ui.isAdmin },
      company: { id: ui.companyId, name: ui.companyName },
      surface: (await surfaceOf(d.db, ui.installationId)).surface,
      channels: channels.map((c) => ({ id: c.id, name: c.name, platform: c.provider })),
    };
  });

  return router;
}
