/**
 * Section (a): the limit. The bare Koa handler and the two webhooks of one server process,
 * each at fixed concurrency (throughput, p50/p99) and at a fixed paced rate (p99 ack).
 * Afterwards the store is counted: every 2xx must have left a stored message.
 */
import { startServer } from './client.ts';
import { paced, throughput, type LoadResult } from './load.ts';
import type { BenchOptions, Dialect } from './options.ts';
import { airyTarget, alvariaKeys, alvariaTarget, bareTarget, type Target } from './targets.ts';

export interface WebhookRun {
  throughput: LoadResult;
  paced: LoadResult;
  /** 2xx answers over warm-up and both runs. */
  accepted: number;
  /** Messages the store holds for the target's channel afterwards: ≥ `accepted` when every ack was persisted (requests in flight when a run stops are stored but not counted). */
  stored?: number;
}

export interface WebhookSection {
  bare?: WebhookRun;
  airy?: WebhookRun;
  alvaria?: WebhookRun;
  jobs: Record<string, number>;
}

const CONVERSATIONS = 100;

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
      const cpu0 = await server.request('cpu', {});
      const t = await server.profiled(opts.profilePath(`${dialect}-${name}`), () => throughput(target, { connections: opts.connections, seconds: opts.seconds }));
      t.serverCpuMs = Math.round((((await server.request('cpu', {})).ms - cpu0.ms) / Math.max(1, t.requests)) * 1000) / 1000;
      log(
        `  ${dialect} ${target.name}: ${t.rps} req/s at ${opts.connections} connections, p50 ${t.p50} ms, p99 ${t.p99} ms, server CPU ${t.serverCpuMs} ms/request${t.failed ? `, ${t.failed} failed ${JSON.stringify(t.statuses)}` : ''}`,
      );
      const p = await paced(target, { rate: opts.rate, seconds: opts.seconds });
      log(`  ${dialect} ${target.name}: at ${opts.rate} req/s p50 ${p.p50} ms, p99 ${p.p99} ms${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.statuses)}` : ''}`);
      out[name] = { throughput: t, paced: p, accepted: warm.ok + t.ok + p.ok };
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
