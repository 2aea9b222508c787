/**
 * `npm run bench`: the service's throughput and latency against its targets, side by side on
 * sqlite and PostgreSQL. Each section starts its own server process (scripts/bench/server.ts,
 * fresh database); the load is generated here. Prints a table with PASS/MISS against the
 * targets and writes JSON (bench-results/latest.json). Options: scripts/bench/options.ts, README "Benchmarks".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { closeAll, pgReachable } from './client.ts';
import { runHttpClients, type HttpClientRun } from './http-clients.ts';
import { runManifest } from './manifest.ts';
import { readOptions, type Dialect } from './options.ts';
import { runPages } from './pages.ts';
import { evaluate, renderHttpClients, renderManifest, renderRows, type DialectResults } from './report.ts';
import { runUpload, type UploadSection } from './upload.ts';
import { runWebhooks } from './webhooks.ts';

const opts = readOptions();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the servers under test`);
    void closeAll().finally(() => process.exit(130));
  });
}
const started = Date.now();
const log = (s: string) => console.log(s);
/** A password in the URL never reaches the output. */
const safeUrl = (url: string) => url.replace(/(\/\/[^:@/]*):[^@]*@/, '$1:…@');
const skipped: string[] = [];

const dialects: Dialect[] = [];
for (const d of opts.dialects) {
  if (d === 'postgres' && !(await pgReachable(opts.pgUrl))) {
    const why = `PostgreSQL not reachable at ${safeUrl(opts.pgUrl)}: postgres skipped`;
    if (process.env.BENCH_DB) throw new Error(why);
    skipped.push(why);
    log(why);
    continue;
  }
  dialects.push(d);
}

const load = loadavg();
log(
  `bench${opts.quick ? ' (quick)' : ''}: ${dialects.join(' + ')}; ${opts.connections} connections, ${opts.seconds} s per run, ${opts.rate} req/s paced; ` +
    `${opts.jobHistory} finished jobs in the webhook store; sizes ${opts.sizes.join(', ')}; ${cpus().length} CPUs, load ${load.map((l) => l.toFixed(2)).join(' ')}`,
);

const results: Partial<Record<Dialect, DialectResults>> = {};
let upload: UploadSection | undefined;
for (const d of dialects) {
  const r: DialectResults = (results[d] = {});
  if (opts.sections.has('webhooks')) {
    log(`(a) webhooks vs bare Koa on ${d}`);
    r.webhooks = await runWebhooks(opts, d, log);
  }
  if (opts.sections.has('pages')) {
    log(`(b) getConversations on ${d}`);
    r.pages = await runPages(opts, d, log);
  }
  if (opts.sections.has('manifest')) {
    log(`manifest endpoints on ${d}`);
    r.manifest = await runManifest(opts, d, log);
  }
}
// RSS does not depend on the database: measured once, on the first one.
if (opts.sections.has('upload') && dialects.length) {
  log(`(c) postMessage upload on ${dialects[0]}`);
  upload = await runUpload(opts, dialects[0]!, log);
}

// No database in it: run once.
let httpClients: HttpClientRun[] | undefined;
if (opts.sections.has('http')) {
  log("(d) one call to Pipedrive's receive endpoint, by HTTP client");
  httpClients = await runHttpClients(opts, log);
}

const { rows, verdicts } = evaluate(results, upload, opts.rate);
log('');
log(renderRows(rows, dialects));
const manifest = renderManifest(results);
if (manifest) log(`\n${manifest}`);
if (httpClients) log(`\n${renderHttpClients(httpClients)}`);
const missed = verdicts.filter((v) => !v.pass);
log(`\n${verdicts.length - missed.length}/${verdicts.length} targets met${missed.length ? `; missed: ${missed.map((m) => `${m.measure} (${m.dialect})`).join('; ')}` : ''}`);

const report = {
  startedAt: new Date(started).toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  quick: opts.quick,
  machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), loadavgAtStart: load, loadavgAtEnd: loadavg() },
  options: { ...opts, sections: [...opts.sections], pgUrl: safeUrl(opts.pgUrl) },
  skipped,
  verdicts,
  table: rows,
  results,
  upload,
  httpClients,
};
mkdirSync(dirname(opts.out), { recursive: true });
writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
log(`\nwritten ${opts.out} (${report.durationSeconds} s)`);
