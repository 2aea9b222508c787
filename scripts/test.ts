/**
 * `npm test`: every suite once on sqlite and once on PostgreSQL.
 *   TEST_PG_URL   PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)
 *   TEST_DIALECTS comma list to restrict (sqlite,postgres)
 *   REQUIRE_PG=1  fail instead of skipping when PostgreSQL is unreachable (CI sets it)
 * Extra arguments are passed to node --test (e.g. a file list).
 * Ends with one line per database and a total (scripts/lib/summary-reporter.ts counts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgReachable } from './lib/pg.ts';
import type { RunSummary } from './lib/summary-reporter.ts';

const pgUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const wanted = (process.env.TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const args = process.argv.slice(2);

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'support' ? [] : testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = args.length ? args : testFiles('test').sort();
const REPORTER = fileURLToPath(new URL('./lib/summary-reporter.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pdb-test-'));
const results: Array<{ dialect: string; summary?: RunSummary; note?: string; failed: boolean }> = [];
for (const dialect of ['sqlite', 'postgres']) {
  if (!wanted.includes(dialect)) continue;
  if (dialect === 'postgres' && !(await pgReachable(pgUrl))) {
    const msg = `PostgreSQL is not reachable at ${pgUrl}`;
    if (process.env.REQUIRE_PG) {
      console.error(`✖ ${msg} (REQUIRE_PG is set)`);
      results.push({ dialect, note: `${msg} and REQUIRE_PG is set`, failed: true });
      continue;
    }
    console.warn(`⚠ ${msg}: skipping the PostgreSQL pass (set TEST_PG_URL, or REQUIRE_PG=1 to fail instead)`);
    results.push({ dialect, note: `not run: ${msg} (start PostgreSQL or set TEST_PG_URL)`, failed: false });
    continue;
  }
  console.log(`\n━━━ ${dialect} ━━━`);
  const out = join(work, `${dialect}.json`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      '--test-timeout=180000',
      '--test-force-exit',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${REPORTER}`,
      `--test-reporter-destination=${out}`,
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, TEST_DB: dialect, TEST_PG_URL: pgUrl } },
  );
  const summary = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as RunSummary) : undefined;
  results.push({ dialect, ...(summary ? { summary } : { note: `the test runner ended (${r.status ?? r.signal}) without a result` }), failed: r.status !== 0 || !summary || summary.failed > 0 });
}
rmSync(work, { recursive: true, force: true });

const reasons = (s: RunSummary) =>
  Object.entries(s.skipReasons)
    .map(([why, n]) => (n > 1 ? `${why} ×${n}` : why))
    .join('; ');
const line = (s: RunSummary) => `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped${s.skipped ? ` (${reasons(s)})` : ''}${s.todo ? `, ${s.todo} todo` : ''}`;
console.log('\n━━━ summary ━━━');
const total: RunSummary = { passed: 0, failed: 0, skipped: 0, todo: 0, skipReasons: {}, failures: [] };
for (const r of results) {
  if (!r.summary) {
    console.log(`${r.failed ? '✖' : '⚠'} ${r.dialect}: ${r.note}`);
    continue;
  }
  console.log(`${r.failed ? '✖' : '✔'} ${r.dialect}: ${line(r.summary)}`);
  for (const f of r.summary.failures) console.log(`    failed: ${f}`);
  total.passed += r.summary.passed;
  total.failed += r.summary.failed;
  total.skipped += r.summary.skipped;
  total.todo += r.summary.todo;
}
const failed = results.some((r) => r.failed);
console.log(`${failed ? '✖' : '✔'} total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped${failed && !total.failed ? ' (a pass did not complete, see above)' : ''}`);
process.exit(failed ? 1 : 0);
