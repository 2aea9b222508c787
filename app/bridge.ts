import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Router from '@koa/router';
import type { Config } from './ground/config.ts';
import { createHttpApp } from './http/app.ts';
import { fileUrlSigner } from './http/file-links.ts';
import { Metrics } from './ground/metrics.ts';
import { createInboxes, JOB, type Inbox } from './domain/inbox.ts';
import type { PlatformInbox } from './domain/platform-inbox.ts';
import { Quotas } from './domain/quotas.ts';
import { createJobHandlers } from './flows/job-table.ts';
import { createLogger, type Logger } from './ground/log.ts';
import { Outbox, type JobHandlers } from './runtime/outbox.ts';
import { retentionTask } from './runtime/retention-task.ts';
import { Singletons } from './runtime/singletons.ts';
import { createLeaderLock } from './store/leader.ts';
import { alvariaSessionRepository } from './store/alvaria-sessions.ts';
import { adminRouters } from './http/admin/router.ts';
import { createWorkspace } from './http/workspace/mount.ts';
import { conversationContext } from './flows/workspace/record-panels.ts';
import { oauthRouter } from './http/oauth.ts';
import { workspacePagesRouter } from './http/workspace/page-routes.ts';
import { installationGateway } from './flows/channels-api/gateway.ts';
import { pipedriveReceiveJob, type PipedriveGateway } from './flows/channels-api/receive-job.ts';
import { createPipedriveServices, type PipedriveServices } from './pipedrive/services.ts';
import type { AdapterFactory } from './platforms/contract.ts';
import { builtInProviders, createRegistry, type ProviderRegistry } from './platforms/registry.ts';
import { createSecrets, type Secrets } from './ground/security/crypto.ts';
import { createDb, knownMigrations, migrate, waitForDatabase, type Db } from './store/db.ts';
import { LocalFileStore, type FileStore } from './store/files.ts';
import { S3FileStore } from './store/files-s3.ts';

export interface BridgeOptions {
  /** Platforms to serve; defaults to the built-in registry. */
  providers?: Record<string, AdapterFactory>;
  logger?: Logger;
  pipedrive?: PipedriveGateway;
  /** Extra HTTP routers (mounted before the 404 fallback). */
  routers?: (b: Omit<Bridge, 'stop' | 'url' | 'server' | 'singletons'>) => Router[];
}

export interface Bridge {
  config: Config;
  db: Db;
  /** The domain's Pipedrive-facing façade (manifest reads, Pipedrive commands). */
  inbox: Inbox;
  /** The domain's platform-facing side: what adapters (through their port) and the send job record. */
  platform: PlatformInbox;
  outbox: Outbox;
  registry: ProviderRegistry;
  secrets: Secrets;
  files: FileStore;
  log: Logger;
  /** Pipedrive OAuth, per-installation tokens and the Channels API client. */
  pipedrive: PipedriveServices;
  fileUrl(attachmentId: string): string;
  metrics: Metrics;
  /** Leader election for the work that must run in exactly one process. */
  singletons: Singletons;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/** The composition root: config → db (migrated) → domain → http server → workers. */
export async function startBridge(config: Config, opts: BridgeOptions = {}): Promise<Bridge> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const db = createDb(config.database, log);
  try {
    await waitForDatabase(db, config.databaseWaitMs, (err, elapsedMs) =>
      log.warn({ code: (err as { code?: string }).code, elapsedMs }, `the database is not reachable yet; retrying for up to ${Math.round(config.databaseWaitMs / 1000)} s (DATABASE_WAIT_SECONDS)`),
    );
    const applied = await migrate(db, config.database.client === 'pg' ? config.database.schema : undefined);
    const known = await knownMigrations();
    log.info({ applied, latest: known.at(-1) }, applied.length ? `migrations applied: ${applied.join(', ')}` : `database schema up to date (${known.length} migrations, latest ${known.at(-1)})`);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
  const files: FileStore = config.files.kind === 's3' ? new S3FileStore(config.files.s3) : new LocalFileStore(config.files.dir);
  await files.init();
  const swept = await files.sweepStaged(config.stagedUploadMaxAgeMs);
  if (swept) log.info({ swept }, 'removed staged uploads left over from an interrupted run');
  const secrets = createSecrets(config.appSecret);
  const fileUrl = fileUrlSigner(config.appUrl, secrets, config.fileUrlTtlSeconds);
  const present = { fileUrl };

  const metrics = new Metrics();
  const handlers: JobHandlers = {};
  const outbox = new Outbox(db, handlers, config.worker, log);
  const { inbox, platform } = createInboxes(db, secrets, outbox, files, log, new Quotas(db, config.quotas));
  const registry = createRegistry(opts.providers ?? builtInProviders, {
    config,
    domain: platform,
    repositories: { alvariaSessions: alvariaSessionRepository(db) },
    secrets,
    log,
    fileUrl,
  });
  const pipedrive = createPipedriveServices({ db, inbox, secrets, registry, config, log, metrics });
  Object.assign(
    handlers,
    createJobHandlers(
      { db, platform, registry, secrets, config, log, fileUrl, metrics, conversationContext: (pk) => conversationContext({ db }, pk) },
      { [JOB.pipedriveReceive]: pipedriveReceiveJob(db, opts.pipedrive ?? installationGateway(pipedrive.client, db), present) },
    ),
  );

  const workspace = createWorkspace({ ...pipedrive, outbox, files, fileUrl });
  Object.assign(handlers, workspace.jobs);
  const core = { config, db, inbox, platform, outbox, registry, secrets, files, log, pipedrive, fileUrl, metrics };
  for (const outcome of ['done', 'retry', 'dead', 'lost'] as const) outbox.on(outcome, (job: { kind: string }) => metrics.outbox.inc({ kind: job.kind, outcome }));
  inbox.on('duplicate', (source) => metrics.duplicates.inc({ provider: source.split(':')[0] ?? source }));
  const app = createHttpApp({ config, db, inbox, files, secrets, registry, log, present, metrics, routers: [oauthRouter(pipedrive), ...adminRouters(pipedrive), ...workspace.routers, workspacePagesRouter(pipedrive), ...(opts.routers?.(core) ?? [])] });
  const server = createServer(app.callback());
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  outbox.start();
  // Singletons (platform subscriptions, sweepers) run in the one process holding the leader lock.
  const singletons = new Singletons(
    createLeaderLock(db, 'singletons', config.database.client === 'pg' ? config.database.schema : undefined),
    [
      retentionTask(db, log, { files, ...config.retention }),
      ...[...registry.values()].filter((a) => a.start).map((a) => ({ name: `provider:${a.kind}`, start: () => a.start!(), stop: () => a.stop?.() })),
    ],
    log,
    config.worker.leaderCheckMs,
  );
  metrics.sources = { isLeader: () => singletons.isLeader, pipedrive: () => pipedrive.client.pacer.figures() };
  singletons.start();
  log.info({ port, db: config.database.client }, 'bridge listening');

  let stopping: Promise<void> | undefined;
  return {
    ...core,
    singletons,
    server,
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopping ??= (async () => {
        workspace.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await singletons.stop();
        await outbox.stop();
        await db.destroy();
        await files.close();
      })();
      return stopping;
    },
  };
}
