/**
 * The two load shapes of section (a).
 *
 * throughput(): autocannon, closed loop at a fixed number of connections, a fresh body per
 * request through its setupRequest hook.
 *
 * paced(): an open-loop generator at a fixed rate. autocannon's overallRate sends each
 * connection's share of a second as a burst at the start of that second, and its
 * coordinated-omission correction then uses a 1 ms interval; neither is "N requests per
 * second". Here request i is due at start + i/rate and its latency counts from when it was
 * due, so a stall shows up in the figures instead of silently lowering the rate.
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import type { Target } from './targets.ts';

export interface LoadResult {
  target: string;
  mode: string;
  seconds: number;
  requests: number;
  ok: number;
  failed: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /**
   * CPU the server process spent per answered request (user + system). Unlike req/s it
   * barely moves when other work shares the machine; PostgreSQL's own CPU is not in it.
   */
  serverCpuMs?: number;
  /** Non-2xx answers by status, e.g. { "401": 3 } (a broken signature shows up here). */
  statuses: Record<string, number>;
}

export async function throughput(target: Target, opts: { connections: number; seconds: number }): Promise<LoadResult> {
  const r = await autocannon({
    url: target.url,
    method: 'POST',
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const { body, headers } = target.next();
          return { ...req, body, headers: { ...req.headers, ...headers } };
        },
      },
    ],
  });
  const statuses: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) if (!code.startsWith('2')) statuses[code] = s.count ?? 0;
  if (r.errors) statuses.errors = r.errors;
  if (r.timeouts) statuses.timeouts = r.timeouts;
  return {
    target: target.name,
    mode: `${opts.connections} connections`,
    seconds: r.duration,
    requests: r.requests.total,
    ok: r['2xx'],
    failed: r.non2xx + r.errors,
    rps: Math.round(r['2xx'] / r.duration),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    statuses,
  };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarize(latencies: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return { p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? 0) };
}

export async function paced(target: Target, opts: { rate: number; seconds: number }): Promise<LoadResult> {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const total = Math.round(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();

  const fire = (due: number) => {
    const { body, headers } = target.next();
    const p = new Promise<void>((resolve) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.once('end', () => {
          latencies.push(performance.now() - due);
          if (res.statusCode && res.statusCode < 300) ok++;
          else {
            failed++;
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.once('error', (err) => {
        failed++;
        statuses[err.message] = (statuses[err.message] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  };

  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    // Catch up on every request that fell due while the loop was away.
    while (sent < total && start + sent * interval <= now) fire(start + sent++ * interval);
    if (sent < total) await new Promise((r) => setTimeout(r, Math.max(0, start + sent * interval - performance.now())));
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    target: target.name,
    mode: `${opts.rate} req/s paced`,
    seconds: Math.round(seconds * 10) / 10,
    requests: total,
    ok,
    failed,
    rps: Math.round(ok / seconds),
    ...summarize(latencies),
    statuses,
  };
}
