/**
 * The bench's verdicts against the targets (README "Benchmarks"), a side-by-side table (one column per
 * database) and the JSON written next to it. Benchmarks report; a MISS never fails the run.
 */
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

const TARGETS = {
  webhookShare: 0.25,
  p99AckMs: 25,
  pagesRatio: 1.5,
  pagesP99Ms: 50,
  rssGrowthMb: 40,
};

const verdictText = (pass: boolean) => (pass ? 'PASS' : 'MISS');
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

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

  const hooks = (r: DialectResults) => r.webhooks;
  row('(a) bare Koa JSON handler: req/s, p50/p99 ms', 'baseline', (_d, r) => {
    const t = hooks(r)?.bare?.throughput;
    return t && `${t.rps} req/s, ${t.p50}/${t.p99} ms`;
  });
  for (const name of ['airy', 'alvaria'] as const) {
    const label = name === 'airy' ? 'Airy action webhook' : 'Alvaria callback';
    row(`(a) ${label}: req/s (share of bare), p50/p99 ms`, `≥ ${TARGETS.webhookShare * 100} % of bare`, (d, r) => {
      const w = hooks(r);
      const t = w?.[name]?.throughput;
      const base = w?.bare?.throughput.rps;
      if (!t || !base) return t && `${t.rps} req/s, ${t.p50}/${t.p99} ms`;
      const share = t.rps / base;
      const v = judge(`${label} throughput share of bare Koa`, d, Math.round(share * 1000) / 1000, 'ratio', `>= ${TARGETS.webhookShare}`, share >= TARGETS.webhookShare);
      const lost = t.failed ? `, ${t.failed} failed` : '';
      return `${t.rps} req/s (${pct(share)}) ${v}, ${t.p50}/${t.p99} ms${lost}`;
    });
  }
  row('(a) server CPU ms/request: bare / Airy / Alvaria', 'CPU share ≈ bare / webhook', (_d, r) => {
    const w = hooks(r);
    const cpu = [w?.bare, w?.airy, w?.alvaria].map((x) => x?.throughput.serverCpuMs);
    if (cpu.every((c) => c === undefined)) return undefined;
    const share = (c: number | undefined) => (c && cpu[0] ? pct(cpu[0] / c) : '—');
    return `${cpu.map((c) => c ?? '—').join(' / ')} (${share(cpu[1])}, ${share(cpu[2])})`;
  });
  row(`(a) bare Koa at ${rate} req/s: p50/p99 ms`, 'baseline', (_d, r) => {
    const p = hooks(r)?.bare?.paced;
    return p && `${p.p50}/${p.p99} ms`;
  });
  for (const name of ['airy', 'alvaria'] as const) {
    const label = name === 'airy' ? 'Airy action webhook' : 'Alvaria callback';
    row(`(a) ${label} at ${rate} req/s: p50/p99 ack ms`, `p99 ≤ ${TARGETS.p99AckMs} ms`, (d, r) => {
      const p = hooks(r)?.[name]?.paced;
      if (!p) return undefined;
      const v = judge(`${label} p99 ack at ${rate} req/s`, d, p.p99, 'ms', `<= ${TARGETS.p99AckMs}`, p.p99 <= TARGETS.p99AckMs && p.failed === 0);
      return `${p.p50}/${p.p99} ms ${v}${p.failed ? `, ${p.failed} failed` : ''}`;
    });
  }
  // A run's last in-flight requests are stored but not counted as answered: stored ≥ 2xx.
  row('(a) messages stored / 2xx acks', 'stored ≥ acks', (_d, r) => {
    const w = hooks(r);
    const part = (label: string, run: WebhookRun | undefined) => run && `${label} ${run.stored}/${run.accepted}`;
    const parts = [part('Airy', w?.airy), part('Alvaria', w?.alvaria)].filter(Boolean);
    return parts.length ? parts.join(', ') : undefined;
  });

  const sizes = [...new Set(dialects.flatMap((d) => (results[d]!.pages ?? []).map((p) => p.size)))].sort((a, b) => a - b);
  for (const size of sizes) {
    row(`(b) getConversations 30×30, ${formatSize(size)} messages: p50/p99 ms`, '', (_d, r) => {
      const p = r.pages?.find((x) => x.size === size);
      return p && `${p.p50}/${p.p99} ms${p.shape === '30×30' ? '' : ` (page ${p.shape})`}, CPU ${p.serverCpuMs} ms`;
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
    row(`(b) p99 on ${formatSize(large)}`, `≤ ${TARGETS.pagesP99Ms} ms on sqlite`, (d, r) => {
      const b = find(r, large);
      if (!b) return undefined;
      if (d !== 'sqlite') return `${b.p99} ms (no target)`;
      return `${b.p99} ms ${judge(`getConversations p99 on ${formatSize(large)}`, d, b.p99, 'ms', `<= ${TARGETS.pagesP99Ms}`, b.p99 <= TARGETS.pagesP99Ms)}`;
    });
  }

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
    ['Manifest endpoint (200 conv. × 40 msgs): req/s, p50/p99 ms', ...dialects],
    endpoints.map((e) => [
      e,
      ...dialects.map((d) => {
        const m = results[d]!.manifest!.find((x) => x.endpoint === e);
        return m ? `${m.rps} req/s, ${m.p50}/${m.p99} ms${m.failed ? `, ${m.failed} failed` : ''}` : '—';
      }),
    ]),
  );
}
