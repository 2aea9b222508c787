/**
 * Section (a): the limit. The bare Koa handler and the two webhooks of one server process,
 * each at fixed concurrency (throughput, p50/p99) and at a fixed paced rate (p99 ack).
 * After a webhook's throughput run the worker delivers what it queued (to the bench's Pipedrive
 * sink) and the server's CPU and SQL statements from the start of the run to the drained queue
 * are charged per message: ingest + delivery. Afterwards the store is counted: every 2xx must
 * have left a stored message.
 */
import { startServer, type ServerUnderTest } from './client.ts';
import { postgresCpuMs } from './db-cpu.ts';
import { paced, throughput, type LoadResult } from './load.ts';
import type { BenchOptions, Dialect } from './options.ts';
import { airyTarget, alvariaKeys, alvariaTarget, bareTarget, type Target } from './targets.ts';

export interface WebhookRun {
  throughput: LoadResult;
  paced: LoadResult;
  /** 2xx answers over warm-up and both runs. */
  accepted: number;
  /** Ingest + delivery of the messages of the throughput run, up to the drained queue (worker on). */
  perMessage?: MessageCost;
  /** Messages the store holds for the target's channel afterwards: ≥ `accepted` when every ack was persisted (requests in flight when a run stops are stored but not counted). */
  stored?: number;
}

export interface WebhookSection {
  bare?: WebhookRun;
  airy?: WebhookRun;
  alvaria?: WebhookRun;
  jobs: Record<string, number>;
}

/**
 * What one message cost the server, from the start of the throughput run until the worker had
 * delivered everything it queued: CPU (user + system of the server process, both the webhook and
 * its delivery job) and SQL statements (each a round trip on PostgreSQL), split by who ran them.
 */
export interface MessageCost {
  /** Messages the run stored and the worker delivered (the denominator). */
  messages: number;
  /** Server CPU per message, ingest + delivery. */
  cpuMs: number;
  /** Statements per webhook (run while answering it). */
  statementsPerWebhook: number;
  /** Statements of the worker per delivery job (claims, the job's reads, its bookkeeping), or undefined without a worker. */
  statementsPerJob?: number;
  /** Bytes (kB) the server passed to write calls per message, and how many calls (Linux only; files and sockets). */
  written?: { kb: number; calls: number };
  /** PostgreSQL's own CPU per message over the same span (its processes on this machine; undefined on sqlite or when not visible). */
  dbCpuMs?: number;
  /** On sqlite, the time per message the server spent inside the driver's statement calls (part of `cpuMs`): in total, in the outbox's claims, in COMMITs. */
  sqliteMs?: { total: number; claims: number; commits: number };
  /** How long the queue took to drain after the run's last request. */
  drainMs: number;
  /** False when the queue did not drain within the wait: the figures then cover what was delivered. */
  drained: boolean;
}

const CONVERSATIONS = 100;

/** Waits until no job is pending or running (the worker has delivered the backlog). */
async function drain(server: ServerUnderTest, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await server.request('work', {})).open === 0) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function runWebhooks(opts: BenchOptions, dialect: Dialect, log: (s: string) => void): Promise<WebhookSection> {
  const server = await startServer(dialect, {
    pgUrl: opts.pgUrl,
    env: opts.worker ? {} : { BENCH_WORKER_CONCURRENCY: '0' },
  });
  try {
    const keys = await alvariaKeys();
    const airySourceToken = `bench-source-token-${Date.now()}`;
    const fx = await server.request('webhook-fixtures', { airySourceToken, alvariaPublicPem: keys.publicPem, conversations: CONVERSATIONS, jobHistory: opts.jobHistory });
    const targets: Record<'bare' | 'airy' | 'alvaria', () => Promise<Target>> = {
      bare: async () => bareTarget(server.ready.bare),
      airy: async () => airyTarget(server.ready.bridge, fx.airy.channelId, airySourceToken, fx.airy.conversationRefs),
      alvaria: () => alvariaTarget(server.ready.bridge, fx.alvaria.channelId, keys, fx.alvaria.sessionIds),
    };
    const out: Omit<WebhookSection, 'jobs'> = {};
    for (const name of ['bare', 'airy', 'alvaria'] as const) {
      if (!opts.targets.has(name)) continue;
      const target = await targets[name]();
      // Warm-up: JIT, connection pools, sqlite page cache.
      const warm = await throughput(target, { connections: opts.connections, seconds: opts.warmupSeconds });
      const drainWait = opts.quick ? 60_000 : 180_000;
      if (opts.worker && name !== 'bare') await drain(server, drainWait);
      const work0 = await server.request('work', {});
      const cpu0 = await server.request('cpu', {});
      const db0 = dialect === 'postgres' ? postgresCpuMs() : undefined;
      const t = await server.profiled(opts.profilePath(`${dialect}-${name}`), () => throughput(target, { connections: opts.connections, seconds: opts.seconds }));
      const cpuRun = await server.request('cpu', {});
      t.serverCpuMs = round((cpuRun.ms - cpu0.ms) / Math.max(1, t.requests), 3);
      log(
        `  ${dialect} ${target.name}: ${t.rps} req/s at ${opts.connections} connections, p50 ${t.p50} ms, p99 ${t.p99} ms, server CPU ${t.serverCpuMs} ms/request${t.failed ? `, ${t.failed} failed ${JSON.stringify(t.statuses)}` : ''}`,
      );
      let perMessage: MessageCost | undefined;
      if (name !== 'bare') {
        const runEnd = Date.now();
        const drained = opts.worker ? await drain(server, drainWait) : true;
        const drainMs = Date.now() - runEnd;
        const work1 = await server.request('work', {});
        const cpu1 = await server.request('cpu', {});
        const db1 = db0 === undefined ? undefined : postgresCpuMs();
        // Every stored webhook queued one delivery: with the queue drained, delivered = stored.
        const messages = opts.worker ? work1.delivered - work0.delivered : t.ok;
        const m = Math.max(1, messages);
        perMessage = {
          messages,
          cpuMs: round((cpu1.ms - cpu0.ms) / m, 3),
          statementsPerWebhook: round((work1.requestStatements - work0.requestStatements) / m, 2),
          ...(opts.worker ? { statementsPerJob: round((work1.workerStatements - work0.workerStatements) / m, 2) } : {}),
          ...(cpu0.written && cpu1.written ? { written: { kb: round((cpu1.written.bytes - cpu0.written.bytes) / 1024 / m, 1), calls: round((cpu1.written.calls - cpu0.written.calls) / m, 1) } } : {}),
          ...(db0 !== undefined && db1 !== undefined ? { dbCpuMs: round((db1 - db0) / m, 3) } : {}),
          ...(work0.sqlite && work1.sqlite
            ? {
                sqliteMs: {
                  total: round((work1.sqlite.totalMs - work0.sqlite.totalMs) / m, 3),
                  claims: round((work1.sqlite.claimsMs - work0.sqlite.claimsMs) / m, 3),
                  commits: round((work1.sqlite.commitsMs - work0.sqlite.commitsMs) / m, 3),
                },
              }
            : {}),
          drainMs,
          drained,
        };
        log(
          `  ${dialect} ${target.name}: ${messages} messages ${opts.worker ? `delivered (queue drained ${drained ? `in ${(drainMs / 1000).toFixed(1)} s` : 'NOT within the wait'})` : 'stored (no worker)'}: ` +
            `server CPU ${perMessage.cpuMs} ms/message (ingest${opts.worker ? ' + delivery' : ' only'}), ` +
            `${perMessage.statementsPerWebhook} SQL statements per webhook${perMessage.statementsPerJob !== undefined ? `, ${perMessage.statementsPerJob} per delivery job` : ''}` +
            `${perMessage.written ? `, ${perMessage.written.kb} kB in ${perMessage.written.calls} write calls` : ''}` +
            `${perMessage.dbCpuMs !== undefined ? `; PostgreSQL's own CPU ${perMessage.dbCpuMs} ms/message` : ''}` +
            `${perMessage.sqliteMs ? `; in sqlite's calls ${perMessage.sqliteMs.total} ms/message (claims ${perMessage.sqliteMs.claims}, commits ${perMessage.sqliteMs.commits})` : ''}`,
        );
      }
      const p = await paced(target, { rate: opts.rate, seconds: opts.seconds });
      log(`  ${dialect} ${target.name}: at ${opts.rate} req/s p50 ${p.p50} ms, p99 ${p.p99} ms${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.statuses)}` : ''}`);
      out[name] = { throughput: t, paced: p, accepted: warm.ok + t.ok + p.ok, ...(perMessage ? { perMessage } : {}) };
    }
    const counts = await server.request('counts', {});
    for (const [name, channelId] of [
      ['airy', fx.airy.channelId],
      ['alvaria', fx.alvaria.channelId],
    ] as const) {
      if (out[name]) out[name].stored = counts.messagesByChannel[channelId] ?? 0;
    }
    return { ...out, jobs: counts.jobsByStatus };
  } finally {
    await server.close();
  }
}
