import { buildInfo } from './version.ts';
import { DeferError } from './failures.ts';

/** Latency buckets in seconds, from a fast loopback answer to a platform or Pipedrive timeout. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string>;

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...[...this.values].map(([k, v]) => `${this.name}${k} ${v}`)];
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; n: number; labels: Labels }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  observe(labels: Labels, seconds: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: BUCKETS.map(() => 0), sum: 0, n: 0, labels }));
    BUCKETS.forEach((b, i) => seconds <= b && s.counts[i]!++);
    s.sum += seconds;
    s.n++;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      BUCKETS.forEach((b, i) => out.push(`${this.name}_bucket${key({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${key({ ...s.labels, le: '+Inf' })} ${s.n}`, `${this.name}_sum${key(s.labels)} ${round(s.sum)}`, `${this.name}_count${key(s.labels)} ${s.n}`);
    }
    return out;
  }
}

/** The outbox table's figures at scrape time (every process sees the shared queue). */
export interface OutboxGauges {
  byStatus: Record<string, number>;
  oldestPendingAgeMs: number;
}

/** Figures read at scrape time from other parts (the Pipedrive pacer, leadership). */
export interface MetricSources {
  isLeader(): boolean;
  pipedrive(): { burst429: number; daily429: number; deferred: number; breakerOpened: number; parked: number; openCircuits: number };
}

/**
 * The process's Prometheus registry (GET /metrics): counters and histograms kept in memory,
 * gauges of the outbox read from the database at scrape time, so every process reports the
 * shared queue while counting only its own traffic. No dependency: the text format is small.
 */
export class Metrics {
  readonly requests = new Counter('bridge_http_requests_total', 'HTTP requests answered, by route and status.');
  readonly requestSeconds = new Histogram('bridge_http_request_duration_seconds', 'Time to answer, by route family.');
  readonly webhookRejected = new Counter('bridge_webhook_verification_failures_total', 'Webhook calls refused for a missing or wrong signature/JWT, by provider.');
  readonly duplicates = new Counter('bridge_inbound_duplicates_total', 'Inbound deliveries dropped as already seen, by provider.');
  readonly outbox = new Counter('bridge_outbox_outcomes_total', 'Job outcomes in this process, by kind.');
  readonly platformCalls = new Histogram('bridge_provider_call_duration_seconds', 'Calls to a platform or Pipedrive, by target, operation and outcome.');
  private readonly started = Date.now();

  /** `outboxGauges` reads the job table when scraped; the composition root passes the store's read. */
  constructor(private readonly outboxGauges: () => Promise<OutboxGauges>) {}
  sources: MetricSources = {
    isLeader: () => false,
    pipedrive: () => ({ burst429: 0, daily429: 0, deferred: 0, breakerOpened: 0, parked: 0, openCircuits: 0 }),
  };

  /** Times an outside call; the outcome label is ok/error. */
  async time<T>(target: string, op: string, call: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    let outcome = 'error';
    try {
      const r = await call();
      outcome = 'ok';
      return r;
    } catch (err) {
      // A deferral (a platform asks to wait, e.g. a session being opened) is an answer, not a failed call.
      if (err instanceof DeferError) outcome = 'ok';
      throw err;
    } finally {
      this.platformCalls.observe({ target, op, outcome }, (performance.now() - t0) / 1000);
    }
  }

  async render(): Promise<string> {
    const g = await this.outboxGauges();
    const pd = this.sources.pipedrive();
    const gauge = (name: string, help: string, rows: Array<[Labels, number]>) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows.map(([l, v]) => `${name}${key(l)} ${v}`)];
    const counter = (name: string, help: string, rows: Array<[Labels, number]>) => [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...rows.map(([l, v]) => `${name}${key(l)} ${v}`)];
    const lines = [
      ...this.requests.render(),
      ...this.requestSeconds.render(),
      ...this.webhookRejected.render(),
      ...this.duplicates.render(),
      ...this.outbox.render(),
      ...this.platformCalls.render(),
      ...gauge(
        'bridge_jobs',
        'Jobs in the outbox table, by status (pending + running = depth; dead = dead letters).',
        Object.entries(g.byStatus).map(([status, n]) => [{ status }, n]),
      ),
      ...gauge('bridge_outbox_oldest_pending_age_seconds', 'Age of the oldest job not finished yet (0 when the queue is empty).', [[{}, round(g.oldestPendingAgeMs / 1000)]]),
      ...counter('bridge_pipedrive_rate_limited_total', 'HTTP 429 answers from Pipedrive, by limit (burst window or daily budget).', [
        [{ limit: 'burst' }, pd.burst429],
        [{ limit: 'daily' }, pd.daily429],
      ]),
      ...counter('bridge_pipedrive_deferred_total', 'Pipedrive calls held back by pacing (budget parked, circuit open, window full).', [[{}, pd.deferred]]),
      ...counter('bridge_pipedrive_circuit_opened_total', 'Times an installation circuit opened after consecutive failures.', [[{}, pd.breakerOpened]]),
      ...gauge('bridge_pipedrive_installations_parked', 'Installations whose daily Pipedrive budget is spent (jobs parked until the reset).', [[{}, pd.parked]]),
      ...gauge('bridge_pipedrive_circuits_open', 'Installations whose Pipedrive circuit is open.', [[{}, pd.openCircuits]]),
      // The usual *_build_info convention: a constant 1 whose labels say what is running.
      ...gauge('bridge_build_info', 'Version and git revision of the running bridge (always 1).', [[{ version: buildInfo().version, revision: buildInfo().revision, node: buildInfo().node }, 1]]),
      ...gauge('bridge_leader', '1 when this process runs the singleton tasks.', [[{}, this.sources.isLeader() ? 1 : 0]]),
      ...gauge('process_uptime_seconds', 'Seconds since this process started serving.', [[{}, Math.round((Date.now() - this.started) / 1000)]]),
      ...gauge('process_resident_memory_bytes', 'Resident memory.', [[{}, process.memoryUsage().rss]]),
    ];
    return `${lines.join('\n')}\n`;
  }
}

function key(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
