import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './ground/config.ts';
import { createHttpApp } from './http/app.ts';
import { fileUrlSigner } from './http/file-links.ts';
import { Metrics } from './ground/metrics.ts';
import { Directory } from './domain/directory.ts';
import { createInboxes, type Inbox } from './domain/inbox.ts';
import type { PlatformInbox } from './domain/platform-inbox.ts';
import { Quotas } from './domain/quotas.ts';
import { Flows } from './flows/flows.ts';
import { createJobTable } from './flows/job-table.ts';
import type { BridgeServices } from './flows/services.ts';
import type { WorkspaceDeps } from './flows/workspace/deps.ts';
import { createLogger, type Logger } from './ground/log.ts';
import { JobQueue } from './runtime/job-queue.ts';
import { Outbox } from './runtime/outbox.ts';
import { retentionTask } from './runtime/retention-task.ts';
import { Singletons } from './runtime/singletons.ts';
import { createLeaderLock } from './store/leader.ts';
import { alvariaSessionRepository } from './store/alvaria-sessions.ts';
import { adminRouters } from './http/admin/router.ts';
import { createWorkspace } from './http/workspace/mount.ts';
import { oauthRouter } from './http/oauth.ts';
import { workspacePagesRouter } from './http/workspace/page-routes.ts';
import { installationGateway } from './flows/channels-api/gateway.ts';
import type { PipedriveGateway } from './flows/channels-api/receive-job.ts';
import { createPipedrivePort } from './pipedrive/port.ts';
import type { TokenRepository } from './pipedrive/tokens.ts';
import type { AdapterFactory } from './platforms/contract.ts';
import { builtInPlatforms, createRegistry, type PlatformRegistry } from './platforms/registry.ts';
import { createSecrets, type Secrets } from './ground/security/crypto.ts';
import { TokenBuckets } from './ground/security/token-buckets.ts';
import { createDb, knownMigrations, migrate, waitForDatabase, type Db } from './store/db.ts';
import { LocalFileStore, type FileStore } from './store/files.ts';
import { S3FileStore } from './store/files-s3.ts';
import { probeWrite } from './store/health-probe.ts';
import { findInstallation, saveTokens, setInstallationStatus } from './store/installations.ts';
import { jobGauges } from './store/jobs.ts';

export interface BridgeOptions {
  /** Platforms to serve; defaults to the built-in registry. */
  platforms?: Record<string, AdapterFactory>;
  logger?: Logger;
  pipedrive?: PipedriveGateway;
}

export interface Bridge {
  config: Config;
  db: Db;
  /** The domain's Pipedrive-facing façade (manifest reads, Pipedrive commands). */
  inbox: Inbox;
  /** The domain's platform-facing side: what adapters (through their port) and the send job record. */
  platform: PlatformInbox;
  outbox: Outbox;
  registry: PlatformRegistry;
  secrets: Secrets;
  files: FileStore;
  log: Logger;
  /** Pipedrive OAuth, per-installation tokens, the Channels API client, and what the flows share. */
  pipedrive: BridgeServices;
  /** The use-cases that span Pipedrive and a platform: connect, delete, install, uninstall, dead letters. */
  flows: Flows;
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

  const outboxGauges = () => jobGauges(db, Date.now());
  const metrics = new Metrics(outboxGauges);
  // Built in dependency order, each once: the queue (what the domain writes jobs with), the
  // domain, the platforms, Pipedrive, the flows, then the job table and the worker that runs it.
  const queue = new JobQueue(config.worker);
  const { inbox, platform } = createInboxes(db, secrets, queue, files, log, new Quotas(db, config.quotas), config.ingest);
  const directory = new Directory(db, inbox.channels);
  const registry = createRegistry(opts.platforms ?? builtInPlatforms, {
    config,
    domain: platform,
    repositories: { alvariaSessions: alvariaSessionRepository(db) },
    secrets,
    log,
    fileUrl,
  });
  const tokenStore: TokenRepository = {
    find: (id) => findInstallation(db, id),
    saveTokens: (id, t) => saveTokens(db, id, t, Date.now()),
    needsReinstall: (id, reason) => setInstallationStatus(db, id, 'needs_reinstall', reason, Date.now()),
  };
  const services: BridgeServices = {
    db,
    inbox,
    directory,
    secrets,
    registry,
    config,
    log,
    metrics,
    ...createPipedrivePort({ config, log, metrics, secrets, tokenStore }),
    // A minute's attempts may be spent at once, then they refill evenly.
    connectLimiter: new TokenBuckets({ perMinute: config.outbound.connectAttemptsPerMinute, burst: config.outbound.connectAttemptsPerMinute }),
  };
  const flows = new Flows(services);
  const workspaceDeps: WorkspaceDeps = { ...services, queue, flows, files, fileUrl };
  const jobs = createJobTable({
    db,
    platform,
    registry,
    secrets,
    config,
    log,
    metrics,
    fileUrl,
    pipedrive: opts.pipedrive ?? installationGateway(services.client, db),
    present,
    workspace: workspaceDeps,
  });
  const outbox = new Outbox(db, jobs, config.worker, log);
  queue.on('kick', () => outbox.kick());

  const workspace = createWorkspace(workspaceDeps, outbox);
  const http = { ...services, flows };
  const core = { config, db, inbox, platform, outbox, registry, secrets, files, log, pipedrive: services, flows, fileUrl, metrics };
  for (const outcome of ['done', 'retry', 'dead', 'lost'] as const) outbox.on(outcome, (job: { kind: string }) => metrics.outbox.inc({ kind: job.kind, outcome }));
  inbox.on('duplicate', (source) => metrics.duplicates.inc({ provider: source.split(':')[0] ?? source }));
  const app = createHttpApp({
    config,
    directory,
    probeDatabase: () => probeWrite(db, 'healthz', Date.now()),
    outboxGauges,
    inbox,
    files,
    secrets,
    registry,
    log,
    present,
    metrics,
    routers: [oauthRouter(http), ...adminRouters(http), ...workspace.routers, workspacePagesRouter(http)],
  });
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
      ...[...registry.values()].filter((a) => a.start).map((a) => ({ name: `platform:${a.kind}`, start: () => a.start!(), stop: () => a.stop?.() })),
    ],
    log,
    config.worker.leaderCheckMs,
  );
  metrics.sources = { isLeader: () => singletons.isLeader, pipedrive: () => services.client.pacer.figures() };
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
        // Inbound events and posts already in a batch are written (or failed) before the database closes.
        await Promise.all([platform.drain(), inbox.drain()]);
        await db.destroy();
        await files.close();
      })();
      return stopping;
    },
  };
}
