/**
 * The bench's verdicts against the targets (README "Benchmarks"), a side-by-side table (one column per
 * database) and the JSON written next to it. Benchmarks report; a MISS never fails the run.
 */
import type { HttpClientRun } from './http-clients.ts';
import type { ManifestRun } from './manifest.ts';
import { formatSize, type Dialect } from './options.ts';
import type { PageRun } from './pages.ts';
import type { UploadSection } from './upload.ts';
import type { WebhookRun, WebhookSection } from './webhooks.ts';

export interface DialectResults {
  webhooks?: WebhookSection;
  pages?: PageRun[];
  manifest?: ManifestRun[];
}

export interface Verdict {
  measure: string;
  dialect: Dialect;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

export interface Row {
  measure: string;
  cells: Partial<Record<Dialect, string>>;
  target: string;
}

/** The performance targets. Ratios to "today" are against the figures measured on main before the work (docs/PERFORMANCE.md, "Full runs"). */
const TARGETS = {
  webhookShare: { sqlite: 0.25, postgres: 0.15 } as Record<Dialect, number>,
  cpuPerMessageMs: 0.35,
  p99AckMs: 25,
  pagesRatio: 1.5,
  pagesP99Ms: 50,
  conversationsCpuMs: 3,
  rssGrowthMb: 40,
};
/** The issue's baselines: getConversations 30×30 on the 200 × 40 store and postMessage (text), req/s at 10 connections. */
const ISSUE_BASELINE = {
  conversations: { rps: { sqlite: 79, postgres: 72 } as Record<Dialect, number>, factor: 4 },
  postMessage: { rps: { sqlite: 365, postgres: 255 } as Record<Dialect, number>, factor: 3 },
};
const CONVERSATIONS_ENDPOINT = 'getConversations 30×30';
const POST_MESSAGE_ENDPOINT = 'postMessage (text, stored + queued)';

const verdictText = (pass: boolean) => (pass ? 'PASS' : 'MISS');
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const dialectName = (d: Dialect) => (d === 'postgres' ? 'PostgreSQL' : d);

export function evaluate(results: Partial<Record<Dialect, DialectResults>>, upload: UploadSection | undefined, rate: number): { rows: Row[]; verdicts: Verdict[] } {
  const rows: Row[] = [];
  const verdicts: Verdict[] = [];
  const dialects = Object.keys(results) as Dialect[];
  const row = (measure: string, target: string, cell: (d: Dialect, r: DialectResults) => string | undefined) => {
    const cells: Row['cells'] = {};
    for (const d of dialects) {
      const v = cell(d, results[d]!);
      if (v !== undefined) cells[d] = v;
    }
    if (Object.keys(cells).length) rows.push({ measure, cells, target });
  };
  const judge = (measure: string, d: Dialect, value: number, unit: string, target: string, pass: boolean) => {
    verdicts.push({ measure, dialect: d, value, unit, target, pass });
    return verdictText(pass);
  };
  const perDialect = (values: Record<Dialect, number>, unit: string) =>
    dialects.length === 1 ? `${values[dialects[0]!]}${unit} on ${dialectName(dialects[0]!)}` : dialects.map((d) => `${values[d]}${unit} ${dialectName(d)}`).join(', ');

  const hooks = (r: DialectResults) => r.webhooks;
  const label = (name: 'airy' | 'alvaria') => (name === 'airy' ? 'Airy action webhook' : 'Alvaria callback');
  row('(a) bare Koa JSON handler: req/s, p50/p99 ms', 'baseline', (_d, r) => {
    const t = hooks(r)?.bare?.throughput;
    return t && `${t.rps} req/s, ${t.p50}/${t.p99} ms`;
  });
  const shareTarget = `${dialects.map((d) => `≥ ${TARGETS.webhookShare[d] * 100} %${dialects.length > 1 ? ` on ${dialectName(d)}` : ''}`).join(', ')} of bare`;
  for (const name of ['airy', 'alvaria'] as const) {
    row(`(a) ${label(name)}: req/s (share of bare), p50/p99 ms`, shareTarget, (d, r) => {
      const w = hooks(r);
      const t = w?.[name]?.throughput;
      const base = w?.bare?.throughput.rps;
      if (!t || !base) return t && `${t.rps} req/s, ${t.p50}/${t.p99} ms`;
      const share = t.rps / base;
      const min = TARGETS.webhookShare[d];
      const v = judge(`${label(name)} throughput share of bare Koa`, d, Math.round(share * 1000) / 1000, 'ratio', `>= ${min}`, share >= min);
      const lost = t.failed ? `, ${t.failed} failed` : '';
      return `${t.rps} req/s (${pct(share)}) ${v}, ${t.p50}/${t.p99} ms${lost}`;
    });
  }
  row('(a) server CPU ms per answered request during the run: bare / Airy / Alvaria', 'for reference (worker running alongside)', (_d, r) => {
    const w = hooks(r);
    const cpu = [w?.bare, w?.airy, w?.alvaria].map((x) => x?.throughput.serverCpuMs);
    if (cpu.every((c) => c === undefined)) return undefined;
    return cpu.map((c) => c ?? '—').join(' / ');
  });
  row('(a) server CPU per message, ingest + delivery to Pipedrive: Airy / Alvaria', `≤ ${TARGETS.cpuPerMessageMs} ms`, (d, r) => {
    const w = hooks(r);
    const parts = (['airy', 'alvaria'] as const).map((name) => {
      const m = w?.[name]?.perMessage;
      if (!m) return undefined;
      if (m.statementsPerJob === undefined) return `${m.cpuMs} ms (ingest only, no worker)`;
      const v = judge(`${label(name)} server CPU per message, ingest + delivery`, d, m.cpuMs, 'ms', `<= ${TARGETS.cpuPerMessageMs}`, m.cpuMs <= TARGETS.cpuPerMessageMs);
      return `${m.cpuMs} ms ${v}${m.drained ? '' : ' (queue not drained)'}`;
    });
    return parts.some(Boolean) ? parts.map((p) => p ?? '—').join(' / ') : undefined;
  });
  row('(a) SQL statements (on PostgreSQL: round trips) per webhook + per delivery job', 'issue: "a few round trips" per batch (no figure)', (_d, r) => {
    const w = hooks(r);
    const parts = (['airy', 'alvaria'] as const).map((name) => {
      const m = w?.[name]?.perMessage;
      return m && `${name === 'airy' ? 'Airy' : 'Alvaria'} ${m.statementsPerWebhook} + ${m.statementsPerJob ?? '—'}`;
    });
    return parts.some(Boolean) ? parts.filter(Boolean).join(', ') : undefined;
  });
  row(
    "(a) the database's own time per message, ingest + delivery: Airy / Alvaria",
    "for reference (sqlite: time in its statement calls, part of the server CPU above; PostgreSQL: its processes' CPU, beside it)",
    (d, r) => {
      const w = hooks(r);
      const parts = (['airy', 'alvaria'] as const).map((name) => {
        const m = w?.[name]?.perMessage;
        if (d === 'postgres') return m?.dbCpuMs === undefined ? undefined : `${m.dbCpuMs} ms`;
        return m?.sqliteMs && `${m.sqliteMs.total} ms (claims ${m.sqliteMs.claims}, commits ${m.sqliteMs.commits})`;
      });
      return parts.some((p) => p !== undefined) ? parts.map((p) => p ?? '—').join(' / ') : undefined;
    },
  );
  row('(a) server writes per message: kB / write calls (files and sockets)', 'for reference (sqlite: its WAL and database file; PostgreSQL writes in its own processes)', (_d, r) => {
    const w = hooks(r);
    const parts = (['airy', 'alvaria'] as const).map((name) => {
      const m = w?.[name]?.perMessage?.written;
      return m && `${name === 'airy' ? 'Airy' : 'Alvaria'} ${m.kb} kB / ${m.calls} calls`;
    });
    return parts.some(Boolean) ? parts.filter(Boolean).join(', ') : undefined;
  });
  row(`(a) bare Koa at ${rate} req/s: p50/p99 ms`, 'baseline', (_d, r) => {
    const p = hooks(r)?.bare?.paced;
    return p && `${p.p50}/${p.p99} ms`;
  });
  for (const name of ['airy', 'alvaria'] as const) {
    row(`(a) ${label(name)} at ${rate} req/s: p50/p99 ack ms`, `p99 ≤ ${TARGETS.p99AckMs} ms`, (d, r) => {
      const p = hooks(r)?.[name]?.paced;
      if (!p) return undefined;
      const v = judge(`${label(name)} p99 ack at ${rate} req/s`, d, p.p99, 'ms', `<= ${TARGETS.p99AckMs}`, p.p99 <= TARGETS.p99AckMs && p.failed === 0);
      return `${p.p50}/${p.p99} ms ${v}${p.failed ? `, ${p.failed} failed` : ''}`;
    });
  }
  // A run's last in-flight requests are stored but not counted as answered: stored ≥ 2xx.
  row('(a) messages stored / 2xx acks', 'stored ≥ acks', (_d, r) => {
    const w = hooks(r);
    const part = (name: string, run: WebhookRun | undefined) => run && `${name} ${run.stored}/${run.accepted}`;
    const parts = [part('Airy', w?.airy), part('Alvaria', w?.alvaria)].filter(Boolean);
    return parts.length ? parts.join(', ') : undefined;
  });

  const endpoint = (r: DialectResults, e: string) => r.manifest?.find((m) => m.endpoint === e);
  const vsIssue = (key: 'conversations' | 'postMessage', e: string, measure: string) => {
    const { rps, factor } = ISSUE_BASELINE[key];
    const targets = Object.fromEntries(dialects.map((d) => [d, rps[d] * factor])) as Record<Dialect, number>;
    row(measure, `≥ ${factor}× the issue's ${perDialect(rps, '')} req/s = ${perDialect(targets, '')}`, (d, r) => {
      const m = endpoint(r, e);
      if (!m) return undefined;
      const times = Math.round((m.rps / rps[d]) * 100) / 100;
      const v = judge(`${e} req/s vs the issue's baseline`, d, times, '× baseline', `>= ${factor}`, times >= factor);
      return `${m.rps} req/s (${times}×) ${v}, p50/p99 ${m.p50}/${m.p99} ms${m.failed ? `, ${m.failed} failed` : ''}`;
    });
  };
  vsIssue('conversations', CONVERSATIONS_ENDPOINT, '(b) getConversations 30×30, 200 × 40 store, 10 connections: req/s, p50/p99');
  row('(b) getConversations 30×30 (200 × 40), server CPU per call; SQL statements', `CPU ≤ ${TARGETS.conversationsCpuMs} ms`, (d, r) => {
    const m = endpoint(r, CONVERSATIONS_ENDPOINT);
    if (!m) return undefined;
    const v = judge('getConversations 30×30 server CPU per call', d, m.serverCpuMs, 'ms', `<= ${TARGETS.conversationsCpuMs}`, m.serverCpuMs <= TARGETS.conversationsCpuMs);
    return `${m.serverCpuMs} ms ${v}; ${m.statements} statements`;
  });

  const sizes = [...new Set(dialects.flatMap((d) => (results[d]!.pages ?? []).map((p) => p.size)))].sort((a, b) => a - b);
  for (const size of sizes) {
    row(`(b) getConversations 30×30, ${formatSize(size)} messages, one at a time: p50/p99 ms`, '', (_d, r) => {
      const p = r.pages?.find((x) => x.size === size);
      return p && `${p.p50}/${p.p99} ms${p.shape === '30×30' ? '' : ` (page ${p.shape})`}, CPU ${p.serverCpuMs} ms, ${p.statements} statements`;
    });
  }
  if (sizes.length >= 2) {
    const [small, large] = [sizes[0]!, sizes[sizes.length - 1]!];
    const find = (r: DialectResults, s: number) => r.pages?.find((x) => x.size === s);
    row(`(b) p99 ratio ${formatSize(large)} / ${formatSize(small)}`, `≤ ${TARGETS.pagesRatio}×`, (d, r) => {
      const [a, b] = [find(r, small), find(r, large)];
      if (!a || !b) return undefined;
      const ratio = Math.round((b.p99 / a.p99) * 100) / 100;
      return `${ratio}× ${judge(`getConversations p99 ratio ${formatSize(large)}/${formatSize(small)}`, d, ratio, 'ratio', `<= ${TARGETS.pagesRatio}`, ratio <= TARGETS.pagesRatio)}`;
    });
    row(`(b) p99 on ${formatSize(large)}`, `≤ ${TARGETS.pagesP99Ms} ms on both`, (d, r) => {
      const b = find(r, large);
      if (!b) return undefined;
      return `${b.p99} ms ${judge(`getConversations p99 on ${formatSize(large)}`, d, b.p99, 'ms', `<= ${TARGETS.pagesP99Ms}`, b.p99 <= TARGETS.pagesP99Ms)}`;
    });
  }

  vsIssue('postMessage', POST_MESSAGE_ENDPOINT, '(c) postMessage (text), stored + queued, 10 connections: req/s, p50/p99');
  if (upload) {
    const cells: Row['cells'] = {};
    const worst = upload.runs.reduce((a, b) => (b.growthMb > a.growthMb ? b : a));
    const v = judge('postMessage 25 MB: server RSS growth', upload.dialect, upload.growthMb, 'MB', `<= ${TARGETS.rssGrowthMb}`, upload.growthMb <= TARGETS.rssGrowthMb);
    cells[upload.dialect] = `+${upload.growthMb} MB ${v} (${worst.baselineMb} → ${worst.peakMb} MB, ${upload.runs.length} run${upload.runs.length > 1 ? 's' : ''})`;
    rows.push({ measure: `(c) postMessage ${worst.fileMb} MB file: server RSS growth`, cells, target: `≤ ${TARGETS.rssGrowthMb} MB` });
  }
  return { rows, verdicts };
}

export function renderTable(headers: string[], body: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function renderRows(rows: Row[], dialects: Dialect[]): string {
  return renderTable(
    ['Measure', ...dialects, 'Target'],
    rows.map((r) => [r.measure, ...dialects.map((d) => r.cells[d] ?? '—'), r.target]),
  );
}

export function renderManifest(results: Partial<Record<Dialect, DialectResults>>): string | undefined {
  const dialects = (Object.keys(results) as Dialect[]).filter((d) => results[d]!.manifest?.length);
  if (!dialects.length) return undefined;
  const endpoints = results[dialects[0]!]!.manifest!.map((m) => m.endpoint);
  return renderTable(
    ['Manifest endpoint (200 conv. × 40 msgs, 10 connections): req/s, p50/p99 ms, server CPU and SQL statements per request', ...dialects],
    endpoints.map((e) => [
      e,
      ...dialects.map((d) => {
        const m = results[d]!.manifest!.find((x) => x.endpoint === e);
        return m ? `${m.rps} req/s, ${m.p50}/${m.p99} ms, ${m.serverCpuMs} ms, ${m.statements} st.${m.failed ? `, ${m.failed} failed` : ''}` : '—';
      }),
    ]),
  );
}

export function renderHttpClients(runs: readonly HttpClientRun[]): string {
  return renderTable(
    ["(d) One call to Pipedrive's receive endpoint, 10 in flight: CPU of the calling process per call, calls/s", 'measured'],
    runs.map((r) => [r.client, `${r.cpuMsPerCall} ms, ${r.callsPerSecond} calls/s`]),
  );
}
