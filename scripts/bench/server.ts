/**
 * The process under test for `npm run bench` (spawned by scripts/bench/index.ts with an IPC
 * channel): the real bridge with the built-in platforms plus a bench platform that accepts
 * every send, the app's Pipedrive client aimed at the bench's sink, and a bare Koa JSON
 * handler in the same process as the baseline. Fixtures, seeding and RSS sampling are IPC requests.
 *   BENCH_DATABASE_URL, BENCH_DATABASE_SCHEMA, BENCH_MAX_UPLOAD_BYTES, BENCH_WORKER_CONCURRENCY,
 *   BENCH_PIPEDRIVE_URL (the bench's Pipedrive sink: PIPEDRIVE_API_URL of the server under test),
 *   BENCH_SQL_TRACE=N (prints the first N counted statements to stderr: who ran them, transaction, SQL)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { z } from 'zod';
import { startBridge } from '../../app/bridge.ts';
import { loadConfig } from '../../app/ground/config.ts';
import { createLogger } from '../../app/ground/log.ts';
import { builtInPlatforms } from '../../app/platforms/registry.ts';
import { benchChannel, uploadFixtures, webhookFixtures } from './fixtures.ts';
import type { Counts, ReadyMessage, RequestMessage, RequestName, Requests, ResponseMessage, RssReport } from './protocol.ts';
import { seedStore } from './seed.ts';
import { timeSqlite } from './sqlite-time.ts';
import { watchStatements, type RanStatement } from '../lib/statements.ts';

if (!process.send) throw new Error('scripts/bench/server.ts is started by `npm run bench` (it needs an IPC channel)');

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`scripts/bench/server.ts needs ${name} (npm run bench sets it)`);
  return v;
}

const dir = mkdtempSync(join(tmpdir(), 'pdb-bench-'));
const config = loadConfig({
  PORT: '0',
  APP_SECRET: randomBytes(32).toString('hex'),
  PIPEDRIVE_CLIENT_ID: 'bench',
  PIPEDRIVE_CLIENT_SECRET: 'bench-secret',
  FILES_STORE: join(dir, 'files'),
  DATABASE_URL: process.env.BENCH_DATABASE_URL || `sqlite:${join(dir, 'bench.sqlite')}`,
  DATABASE_SCHEMA: process.env.BENCH_DATABASE_SCHEMA ?? '',
  MAX_UPLOAD_BYTES: process.env.BENCH_MAX_UPLOAD_BYTES ?? String(64 * 1024 * 1024),
  LOG_LEVEL: 'silent',
  WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY ?? '',
  // The platform fakes listen on loopback, which the outbound policy refuses unless allowed.
  OUTBOUND_ALLOW: '127.0.0.0/8',
  // The bench measures throughput of one channel and one company, far above their default budgets.
  WEBHOOK_RATE_PER_MINUTE: '0',
  QUOTA_MESSAGES_PER_MINUTE: '0',
  // Deliveries go through the app's own Pipedrive client to the bench's sink (another process),
  // so a delivery costs this process what a real one does: token context, pacing, the SDK over
  // axios, the HTTP call, reading the answer. The webhook channels' installation is in
  // ./fixtures.ts. The pacer still runs, above any rate the bench reaches (Pipedrive's own limit
  // would hold the drain to 40 calls/s).
  PIPEDRIVE_API_URL: requiredEnv('BENCH_PIPEDRIVE_URL'),
  PIPEDRIVE_BURST_LIMIT: '10000',
});

/**
 * Who is running: a request of the bridge's HTTP server, an IPC request of the bench (seeding
 * and counting: not charged to the app), or neither (the worker).
 */
const context = new AsyncLocalStorage<'request' | 'ipc'>();
const sqliteTime = config.database.client === 'sqlite' ? timeSqlite(() => context.getStore() === 'ipc') : undefined;
const bridge = await startBridge(config, {
  logger: createLogger('silent'),
  platforms: {
    ...builtInPlatforms,
    bench: () => ({
      kind: 'bench',
      displayName: 'Bench',
      configSchema: z.object({}),
      connect: async () => ({ state: {} }),
      disconnect: async () => {},
      send: async (_ctx, m) => ({ platformMessageId: `b-${m.message.id}` }),
    }),
  },
});

/**
 * Statements per message: every statement knex runs (watchStatements: BEGIN and COMMIT included,
 * and on sqlite the read pool's), split by who ran it (`context`).
 */
let requestStatements = 0;
let workerStatements = 0;
let traceLeft = Number(process.env.BENCH_SQL_TRACE ?? 0);
const countStatement = (q: RanStatement) => {
  const who = context.getStore();
  if (who === 'ipc') return;
  if (who === 'request') requestStatements++;
  else workerStatements++;
  if (traceLeft > 0) {
    traceLeft--;
    process.stderr.write(`sql ${who ?? 'worker'}${q.__knexTxId ? ` ${q.__knexTxId}` : ''}: ${String(q.sql).replace(/\s+/g, ' ').slice(0, 160)}\n`);
  }
};
watchStatements(bridge.db, countStatement);
const requestListeners = bridge.server.listeners('request') as Array<(...args: unknown[]) => void>;
bridge.server.removeAllListeners('request');
bridge.server.on('request', (...args: unknown[]) => context.run('request', () => requestListeners.forEach((l) => l.apply(bridge.server, args))));

let delivered = 0;
bridge.outbox.on('done', (job) => {
  if (job.kind === 'pipedrive.receive') delivered++;
});

// The baseline does what any JSON webhook receiver must: read the body, parse it, answer JSON.
const bare = new Koa();
bare.use(async (ctx) => {
  const raw = await getRawBody(ctx.req, { limit: 1024 * 1024 });
  const parsed: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : null;
  ctx.body = { ok: true, received: typeof parsed };
});
const bareServer = createServer(bare.callback());
await new Promise<void>((resolve) => bareServer.listen(0, '127.0.0.1', resolve));

const mb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10;
let sampler: { timer: NodeJS.Timeout; baseline: number; peak: number; peakAb: number; peakHeap: number; samples: number } | undefined;
const sample = () => {
  if (!sampler) return;
  const m = process.memoryUsage();
  sampler.samples++;
  sampler.peak = Math.max(sampler.peak, m.rss);
  sampler.peakAb = Math.max(sampler.peakAb, m.arrayBuffers);
  sampler.peakHeap = Math.max(sampler.peakHeap, m.heapUsed);
};

/** Bytes passed to write calls and their count (https://docs.kernel.org/filesystems/proc.html, /proc/<pid>/io: wchar, syscw). */
function writtenSoFar(): { written?: { bytes: number; calls: number } } {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    const written = { bytes: field('wchar'), calls: field('syscw') };
    return Number.isFinite(written.bytes) && Number.isFinite(written.calls) ? { written } : {};
  } catch {
    return {};
  }
}

let profiler: Session | undefined;
const handlers: { [K in RequestName]: (args: Requests[K]['args']) => Promise<Requests[K]['result']> } = {
  'webhook-fixtures': (args) => webhookFixtures(bridge, args),
  async 'pages-fixtures'(args) {
    const channel = await benchChannel(bridge);
    const r = await seedStore(bridge.db, channel, args);
    return { providerChannelId: channel.providerChannelId, ...r };
  },
  'upload-fixtures': () => uploadFixtures(bridge),
  async 'rss-start'({ intervalMs }) {
    // Started with --expose-gc: a collected heap makes the baseline comparable between runs.
    (globalThis as { gc?: () => void }).gc?.();
    const rss = process.memoryUsage().rss;
    sampler = { timer: setInterval(sample, intervalMs), baseline: rss, peak: rss, peakAb: 0, peakHeap: 0, samples: 0 };
    return { baselineMb: mb(rss) };
  },
  async 'rss-stop'() {
    if (!sampler) throw new Error('rss-start first');
    sample();
    clearInterval(sampler.timer);
    const s = sampler;
    sampler = undefined;
    const report: RssReport = {
      baselineMb: mb(s.baseline),
      peakMb: mb(s.peak),
      growthMb: mb(s.peak - s.baseline),
      samples: s.samples,
      peakArrayBuffersMb: mb(s.peakAb),
      peakHeapUsedMb: mb(s.peakHeap),
    };
    return report;
  },
  async 'profile-start'() {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return null;
  },
  async 'profile-stop'({ path }) {
    if (!profiler) throw new Error('profile-start first');
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(profile));
    return null;
  },
  async work() {
    const [row] = await bridge.db('jobs').whereIn('status', ['pending', 'running']).count({ n: '*' });
    return { requestStatements, workerStatements, delivered, open: Number(row?.n ?? 0), ...(sqliteTime ? { sqlite: sqliteTime() } : {}) };
  },
  async cpu() {
    const u = process.cpuUsage();
    return { ms: (u.user + u.system) / 1000, ...writtenSoFar() };
  },
  async counts() {
    const messages: Array<{ channel_id: string; n: number | string }> = await bridge.db('messages').select('channel_id').count({ n: '*' }).groupBy('channel_id');
    const jobs: Array<{ status: string; n: number | string }> = await bridge.db('jobs').select('status').count({ n: '*' }).groupBy('status');
    const counts: Counts = {
      messagesByChannel: Object.fromEntries(messages.map((r) => [r.channel_id, Number(r.n)])),
      jobsByStatus: Object.fromEntries(jobs.map((r) => [r.status, Number(r.n)])),
    };
    return counts;
  },
  async stop() {
    setImmediate(async () => {
      bareServer.close();
      await bridge.stop();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
    return null;
  },
};

process.on('message', async (msg: RequestMessage) => {
  if (msg?.type !== 'request') return;
  let reply: ResponseMessage;
  try {
    const handler = handlers[msg.name] as (args: unknown) => Promise<unknown>;
    reply = { type: 'response', id: msg.id, ok: true, result: await context.run('ipc', () => handler(msg.args)) };
  } catch (err) {
    // A failed bulk insert's message quotes the whole statement: keep the head.
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    reply = { type: 'response', id: msg.id, ok: false, error: text.length > 2000 ? `${text.slice(0, 1000)} … ${text.slice(-1000)}` : text };
  }
  process.send!(reply);
});
// The bench went away (Ctrl-C, crash): do not linger holding the database.
process.on('disconnect', () => {
  void bridge.stop().finally(() => process.exit(0));
});

const ready: ReadyMessage = {
  type: 'ready',
  bridge: bridge.url,
  bare: `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}`,
  pid: process.pid,
  db: config.database.client,
};
process.send(ready);
