import Koa from 'koa';
import Router from '@koa/router';
import type { Config } from '../ground/config.ts';
import { AppError } from '../ground/failures.ts';
import type { Inbox } from '../domain/inbox.ts';
import type { Logger } from '../ground/log.ts';
import { buildManifest } from './channels-api/manifest.ts';
import type { PresentDeps } from '../flows/channels-api/present.ts';
import type { PlatformRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { Directory } from '../domain/directory.ts';
import type { FileStore } from '../ground/file-store.ts';
import type { OutboxGauges } from '../ground/metrics.ts';
import { adminApiGuard } from './admin/guard.ts';
import { checkBearer } from './bearer.ts';
import { errorMiddleware } from './error-responses.ts';
import { healthz } from './health.ts';
import { canonicalPaths } from './paths.ts';
import { filesRouter } from './file-links.ts';
import type { Metrics } from '../ground/metrics.ts';
import { requestMetrics } from './metrics-route.ts';
import { requestLog } from './request-log.ts';
import { channelsApiGuard, channelsApiRouter } from './channels-api/routes.ts';
import { webhooksRouter } from './webhooks/router.ts';
import { PAGE_HEADERS } from './html.ts';
import { landingPage } from './landing.ts';

export interface HttpDeps {
  config: Config;
  directory: Directory;
  /** A real database write for /healthz. */
  probeDatabase(): Promise<void>;
  outboxGauges(): Promise<OutboxGauges>;
  inbox: Inbox;
  files: FileStore;
  secrets: Secrets;
  registry: PlatformRegistry;
  log: Logger;
  present: PresentDeps;
  metrics: Metrics;
  /** Extra routers (OAuth, admin) mounted before the catch-all 404. */
  routers?: Router[];
}

export function createHttpApp(deps: HttpDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  // First: every guard and router below sees one canonical spelling of the path.
  app.use(canonicalPaths());
  app.use(requestLog(deps.log));
  app.use(requestMetrics(deps.metrics));
  app.use(errorMiddleware(deps.log, deps.config.uploads));
  app.use(channelsApiGuard(deps.config));
  app.use(adminApiGuard({ secrets: deps.secrets, directory: deps.directory, appUrl: deps.config.appUrl }));

  const base = new Router();
  base.get('/healthz', healthz({ probeDatabase: deps.probeDatabase, outboxGauges: deps.outboxGauges, files: deps.files, log: deps.log }));
  base.get('/metrics', async (ctx) => {
    checkBearer(ctx, deps.config.metricsToken);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/plain; version=0.0.4';
    ctx.body = await deps.metrics.render();
  });
  base.get('/', (ctx) => {
    ctx.set(PAGE_HEADERS);
    ctx.type = 'html';
    ctx.body = landingPage(deps.config);
  });
  base.get('/manifest.json', (ctx) => {
    ctx.body = buildManifest(deps.config.appUrl);
  });

  const routers = [
    base,
    channelsApiRouter({ config: deps.config, inbox: deps.inbox, files: deps.files, present: deps.present }),
    filesRouter({ directory: deps.directory, secrets: deps.secrets, files: deps.files, limits: deps.config.fileDownloads, log: deps.log }),
    webhooksRouter({ directory: deps.directory, secrets: deps.secrets, registry: deps.registry, metrics: deps.metrics, rate: deps.config.webhookRate }),
    ...(deps.routers ?? []),
  ];
  // A method the router does not know (TRACE, PROPFIND…) is the client's mistake: 405, not the router's 501.
  const notImplemented = () => new AppError('METHOD_NOT_ALLOWED', 'Method not allowed');
  for (const r of routers) {
    app.use(r.routes());
    app.use(r.allowedMethods({ throw: true, notImplemented }));
  }
  return app;
}
