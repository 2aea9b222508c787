import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Router from '@koa/router';

/**
 * Static files of the workspace pages, read once at start. The Pipedrive SDK comes from the
 * installed `@pipedrive/app-extensions-sdk` package (its UMD build sets `window.AppExtensionsSDK`),
 * never from a CDN: the iframe then depends only on this service, and the CSP can stay 'self'.
 */
const require = createRequire(import.meta.url);
const here = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');

const ASSETS: Record<string, { type: string; body: string }> = {
  'sdk.js': { type: 'application/javascript', body: readFileSync(require.resolve('@pipedrive/app-extensions-sdk/dist/index.umd.js'), 'utf8') },
  'core.js': { type: 'application/javascript', body: here('core.js') },
  'workspace.js': { type: 'application/javascript', body: here('workspace.js') },
  'settings.js': { type: 'application/javascript', body: here('settings.js') },
  'workspace.css': { type: 'text/css', body: here('workspace.css') },
};

export const ASSET_BASE = '/ui/assets';

export function mountAssets(router: Router): void {
  router.get(`${ASSET_BASE}/:name`, (ctx, next) => {
    const asset = ASSETS[ctx.params.name ?? ''];
    if (!asset) return next();
    // no-cache: the browser revalidates, so a deploy never mixes an old script with a new page.
    ctx.set({ 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
}
