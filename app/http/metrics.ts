import type { Context, Next } from 'koa';
import type { Db } from '../store/db.ts';
import { countJobs } from '../store/jobs.ts';

type Family = 'manifest' | 'webhook' | 'admin' | 'oauth' | 'files' | 'other';

/**
 * Prometheus text for GET /metrics: request counts by route family and status class, outbox
 * outcomes seen by this process, and, at scrape time, the jobs table by status and whether
 * this process is the singleton leader. Kept in memory per process; no dependency.
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly outbox = new Map<string, number>();
  private readonly started = Date.now();
  isLeader: () => boolean = () => false;

  middleware() {
    return async (ctx: Context, next: Next) => {
      try {
        await next();
      } finally {
        const key = `${family(ctx.path)}|${Math.floor(ctx.status / 100)}xx`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
      }
    };
  }

  countOutbox(outcome: 'done' | 'retry' | 'dead' | 'lost', kind: string): void {
    const key = `${kind}|${outcome}`;
    this.outbox.set(key, (this.outbox.get(key) ?? 0) + 1);
  }

  async render(db: Db): Promise<string> {
    const lines = [
      '# HELP bridge_http_requests_total HTTP requests answered, by route family and status class.',
      '# TYPE bridge_http_requests_total counter',
      ...[...this.requests].map(([k, n]) => {
        const [f, c] = k.split('|');
        return `bridge_http_requests_total{family="${f}",status="${c}"} ${n}`;
      }),
      '# HELP bridge_outbox_outcomes_total Job outcomes in this process, by kind.',
      '# TYPE bridge_outbox_outcomes_total counter',
      ...[...this.outbox].map(([k, n]) => {
        const [kind, outcome] = k.split('|');
        return `bridge_outbox_outcomes_total{kind="${kind}",outcome="${outcome}"} ${n}`;
      }),
      '# HELP bridge_jobs Jobs in the outbox table, by status.',
      '# TYPE bridge_jobs gauge',
      ...Object.entries(await countJobs(db)).map(([status, n]) => `bridge_jobs{status="${status}"} ${n}`),
      '# HELP bridge_leader 1 when this process runs the singleton tasks.',
      '# TYPE bridge_leader gauge',
      `bridge_leader ${this.isLeader() ? 1 : 0}`,
      '# HELP process_uptime_seconds Seconds since this process started serving.',
      '# TYPE process_uptime_seconds gauge',
      `process_uptime_seconds ${Math.round((Date.now() - this.started) / 1000)}`,
      '# HELP process_resident_memory_bytes Resident memory.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage().rss}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}

function family(path: string): Family {
  if (path.startsWith('/api/')) return 'manifest';
  if (path.startsWith('/webhooks/')) return 'webhook';
  if (path.startsWith('/admin')) return 'admin';
  if (path.startsWith('/auth/')) return 'oauth';
  if (path.startsWith('/files/')) return 'files';
  return 'other';
}
