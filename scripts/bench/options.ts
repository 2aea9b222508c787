/**
 * What one `npm run bench` does, from the environment (README "Benchmarks"):
 *   BENCH_QUICK=1        short runs, sizes 1k,10k: a sanity check in a few minutes
 *   BENCH_DB             sqlite,postgres (default: both, postgres only when reachable)
 *   BENCH_PG_URL         default postgres://postgres@127.0.0.1:5432/test
 *   BENCH_SIZES          store sizes for getConversations, e.g. 1k,100k,1m
 *   BENCH_SECONDS        seconds per load run (default 10, quick 3)
 *   BENCH_CONNECTIONS    concurrent connections for the throughput runs (default 10)
 *   BENCH_RATE           the fixed-rate run's requests per second (default 300)
 *   BENCH_PAGE_REQUESTS  timed getConversations calls per size (default 300, quick 60)
 *   BENCH_SECTIONS       which sections to run: webhooks,pages,upload,manifest,http (default all)
 *   BENCH_TARGETS        which section (a) targets: bare,airy,alvaria (default all; e.g. one of them to profile it)
 *   BENCH_JOB_HISTORY    finished jobs in the webhook store before the load (default 100000, quick 10000)
 *   BENCH_WORKER=0       the server under test runs no outbox worker (isolates the ack path)
 *   BENCH_CPU_PROF=1     a V8 CPU profile of the server during each measured run, in bench-results/profiles
 *                        (read one with scripts/bench/profile-summary.ts)
 *   BENCH_OUT            the JSON report (default bench-results/latest.json)
 */
export type Dialect = 'sqlite' | 'postgres';
export type Section = 'webhooks' | 'pages' | 'upload' | 'manifest' | 'http';

export interface BenchOptions {
  quick: boolean;
  dialects: Dialect[];
  pgUrl: string;
  sizes: number[];
  seconds: number;
  warmupSeconds: number;
  connections: number;
  rate: number;
  pageRequests: number;
  pageWarmup: number;
  sections: Set<Section>;
  targets: Set<'bare' | 'airy' | 'alvaria'>;
  worker: boolean;
  jobHistory: number;
  /** Where a run's server CPU profile goes, or undefined when not profiling. */
  profilePath(name: string): string | undefined;
  out: string;
  uploadBytes: number;
  uploadRepeats: number;
}

/** "1k" → 1000, "1m" → 1_000_000, "2500" → 2500. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(s.trim());
  if (!m) throw new Error(`BENCH_SIZES: cannot read "${s}" (use e.g. 1k,100k,1m)`);
  const mult = { '': 1, k: 1_000, m: 1_000_000 }[m[2]!.toLowerCase() as '' | 'k' | 'm'];
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`;
  return String(n);
}

const num = (v: string | undefined, def: number) => (v === undefined || v.trim() === '' ? def : Number(v));

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const dialects = (env.BENCH_DB ?? 'sqlite,postgres')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (s === 'pg') return 'postgres';
      if (s !== 'sqlite' && s !== 'postgres') throw new Error(`BENCH_DB: unknown database "${s}" (sqlite, postgres)`);
      return s;
    });
  const sections = new Set(
    (env.BENCH_SECTIONS ?? 'webhooks,pages,upload,manifest,http')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean) as Section[],
  );
  return {
    quick,
    dialects: [...new Set(dialects)],
    pgUrl: env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    sizes: (env.BENCH_SIZES ?? (quick ? '1k,10k' : '1k,100k,1m'))
      .split(',')
      .map(parseSize)
      .sort((a, b) => a - b),
    seconds: num(env.BENCH_SECONDS, quick ? 1.5 : 10),
    warmupSeconds: quick ? 0.5 : 2,
    connections: num(env.BENCH_CONNECTIONS, 10),
    rate: num(env.BENCH_RATE, 300),
    pageRequests: num(env.BENCH_PAGE_REQUESTS, quick ? 60 : 300),
    pageWarmup: quick ? 10 : 30,
    sections,
    targets: new Set((env.BENCH_TARGETS ?? 'bare,airy,alvaria').split(',').map((s) => s.trim()) as Array<'bare' | 'airy' | 'alvaria'>),
    worker: env.BENCH_WORKER !== '0',
    jobHistory: num(env.BENCH_JOB_HISTORY, quick ? 10_000 : 100_000),
    profilePath: (name) => (env.BENCH_CPU_PROF === '1' ? `bench-results/profiles/${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile` : undefined),
    out: env.BENCH_OUT ?? 'bench-results/latest.json',
    uploadBytes: 25 * 1024 * 1024,
    uploadRepeats: quick ? 1 : 3,
  };
}
