/**
 * `npm test`: every suite once on sqlite and once on PostgreSQL.
 *   TEST_PG_URL   PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)
 *   TEST_DIALECTS comma list to restrict (sqlite,postgres)
 *   REQUIRE_PG=1  fail instead of skipping when PostgreSQL is unreachable (CI sets it)
 * Extra arguments are passed to node --test (e.g. a file list).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pgReachable } from './lib/pg.ts';

const pgUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const wanted = (process.env.TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const args = process.argv.slice(2);

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fakes' || name === 'support' ? [] : testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}


const files = args.length ? args : testFiles('test').sort();
let failed = false;
for (const dialect of ['sqlite', 'postgres']) {
  if (!wanted.includes(dialect)) continue;
  if (dialect === 'postgres' && !(await pgReachable(pgUrl))) {
    const msg = `PostgreSQL is not reachable at ${pgUrl}`;
    if (process.env.REQUIRE_PG) {
      console.error(`✖ ${msg} (REQUIRE_PG is set)`);
      failed = true;
      continue;
    }
    console.warn(`⚠ ${msg}: skipping the PostgreSQL pass (set TEST_PG_URL, or REQUIRE_PG=1 to fail instead)`);
    continue;
  }
  console.log(`\n━━━ ${dialect} ━━━`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=180000', '--test-force-exit', ...files], {
    stdio: 'inherit',
    env: { ...process.env, TEST_DB: dialect, TEST_PG_URL: pgUrl },
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
