/**
 * Section (b): getConversations 30×30 (the first page, as Pipedrive's sync asks for it) on
 * stores of increasing size, one request at a time, timed with sub-millisecond precision.
 * Each size gets a fresh server and database, seeded before the server answers anything.
 */
import { Agent, request } from 'node:http';
import { startServer } from './client.ts';
import { summarize } from './load.ts';
import { formatSize, type BenchOptions, type Dialect } from './options.ts';
import type { PagesFixtures } from './protocol.ts';

export const BASIC = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;

export interface PageRun {
  size: number;
  seed: Omit<PagesFixtures, 'providerChannelId' | 'conversationId' | 'messageId'>;
  requests: number;
  /** Conversations × messages in the answer (30×30 when the page is full). */
  shape: string;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Server CPU per request (user + system). */
  serverCpuMs: number;
  /** SQL statements per request (each a round trip on PostgreSQL). */
  statements: number;
}

export function get(agent: Agent, url: string): Promise<{ status: number; body: Buffer; ms: number }> {
  const u = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent, headers: { authorization: BASIC } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.once('error', reject);
    req.end();
  });
}

export async function timeGets<T>(url: string, warmup: number, count: number, snapshot: () => Promise<T>): Promise<{ latencies: number[]; first: unknown; before: T }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    let first: unknown;
    for (let i = 0; i < warmup; i++) {
      const r = await get(agent, url);
      if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
      first ??= JSON.parse(r.body.toString('utf8'));
    }
    const latencies: number[] = [];
    const before = await snapshot();
    for (let i = 0; i < count; i++) {
      const r = await get(agent, url);
      if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}`);
      latencies.push(r.ms);
    }
    return { latencies, first, before };
  } finally {
    agent.destroy();
  }
}

export async function runPages(opts: BenchOptions, dialect: Dialect, log: (s: string) => void): Promise<PageRun[]> {
  const runs: PageRun[] = [];
  for (const size of opts.sizes) {
    const server = await startServer(dialect, { pgUrl: opts.pgUrl });
    try {
      const fx = await server.request('pages-fixtures', { messages: size, maxConversations: 1000 });
      log(`  ${dialect} seeded ${formatSize(size)} messages in ${fx.conversations} conversations (${fx.attachments} attachments) in ${(fx.seedMs / 1000).toFixed(1)} s`);
      const url = `${server.ready.bridge}/api/channels/${fx.providerChannelId}/conversations?conversations_limit=30&messages_limit=30`;
      const snapshot = async () => ({ cpu: (await server.request('cpu', {})).ms, statements: (await server.request('work', {})).requestStatements });
      const { latencies, first, before } = await server.profiled(opts.profilePath(`${dialect}-pages-${formatSize(size)}`), () =>
        timeGets(url, Math.max(1, opts.pageWarmup), opts.pageRequests, snapshot),
      );
      const after = await snapshot();
      const serverCpuMs = Math.round(((after.cpu - before.cpu) / latencies.length) * 100) / 100;
      const statements = Math.round(((after.statements - before.statements) / latencies.length) * 100) / 100;
      const data = (first as { data: Array<{ messages: unknown[] }> }).data;
      const shape = `${data.length}×${Math.min(...data.map((c) => c.messages.length))}`;
      const s = summarize(latencies);
      log(`  ${dialect} getConversations 30×30 on ${formatSize(size)}: p50 ${s.p50} ms, p99 ${s.p99} ms (${shape}), server CPU ${serverCpuMs} ms/request, ${statements} SQL statements/request`);
      const { providerChannelId: _p, conversationId: _c, messageId: _m, ...seed } = fx;
      runs.push({ size, seed, requests: latencies.length, shape, ...s, serverCpuMs, statements });
    } finally {
      await server.close();
    }
  }
  return runs;
}
