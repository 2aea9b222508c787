/**
 * `npm run soak`: delivery under crashes, 429 storms, several instances, a fuzz run, and
 * one tenant's hostile platforms beside another tenant's measured traffic.
 *   SOAK_SIZE  full (default; the sizes in scenarios.ts) | ci (reduced, for CI)
 *   SOAK_DB    sqlite | postgres | both. Default: a, b, d on sqlite (ci: on both), c on PostgreSQL
 *   SOAK_ONLY  comma list of scenarios to run (a,b,c,d,e)
 *   TEST_PG_URL  PostgreSQL (default postgres://postgres@127.0.0.1:5432/test); each run uses a throwaway schema
 *   REQUIRE_PG=1 fail instead of skipping when PostgreSQL is unreachable
 *   SOAK_KEEP=1  keep the temp folders (app logs, sqlite files)
 * Everything runs on loopback against the project's fakes; exits non-zero when an invariant fails.
 */
import { AppProcess } from './app-process.ts';
import { crashScenario } from './scenario-crash.ts';
import { fuzzScenario } from './scenario-fuzz.ts';
import { hostileScenario } from './scenario-hostile.ts';
import { instancesScenario } from './scenario-instances.ts';
import { stormScenario } from './scenario-storm.ts';
import { SIZES, type ScenarioContext, type ScenarioResult } from './scenarios.ts';
import { secs } from './util.ts';
import type { Dialect } from './world.ts';
import { pgReachable } from '../lib/pg.ts';

type Id = 'a' | 'b' | 'c' | 'd' | 'e';
const SCENARIOS: Record<Id, { title: string; run: (ctx: ScenarioContext) => Promise<ScenarioResult>; timeout: (s: ScenarioContext['size']) => number }> = {
  a: { title: 'crash: inbound over both webhooks, app SIGKILLed and restarted', run: crashScenario, timeout: (s) => s.crash.timeoutMs },
  b: { title: 'storm: Pipedrive answers 429/503 to a share of receive calls', run: stormScenario, timeout: (s) => s.storm.timeoutMs },
  c: { title: 'instances: two app processes on one PostgreSQL', run: instancesScenario, timeout: (s) => s.instances.timeoutMs },
  d: { title: 'fuzz: malformed requests to the manifest endpoints and webhooks', run: fuzzScenario, timeout: (s) => s.fuzz.timeoutMs },
  e: { title: "hostile: drip, huge, never-ending-frame and private-address platforms beside another tenant's traffic", run: hostileScenario, timeout: (s) => s.hostile.timeoutMs },
};

const sizeName = (process.env.SOAK_SIZE ?? 'full').trim();
if (sizeName !== 'full' && sizeName !== 'ci') {
  console.error(`SOAK_SIZE must be full or ci (got "${sizeName}")`);
  process.exit(2);
}
const size = SIZES[sizeName];
const pgUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const soakDb = (process.env.SOAK_DB ?? '').trim();
if (soakDb && !['sqlite', 'postgres', 'both'].includes(soakDb)) {
  console.error(`SOAK_DB must be sqlite, postgres or both (got "${soakDb}")`);
  process.exit(2);
}
const only = (process.env.SOAK_ONLY ?? 'a,b,c,d,e')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as Id[];
for (const id of only) {
  if (!SCENARIOS[id]) {
    console.error(`SOAK_ONLY: unknown scenario "${id}" (a, b, c, d, e)`);
    process.exit(2);
  }
}

function dialectsFor(id: Id): Dialect[] {
  if (id === 'c') return soakDb === 'sqlite' ? [] : ['postgres'];
  if (soakDb === 'sqlite' || soakDb === 'postgres') return [soakDb];
  if (soakDb === 'both' || sizeName === 'ci') return ['sqlite', 'postgres'];
  return ['sqlite'];
}

process.once('SIGINT', () => {
  AppProcess.killAll();
  process.exit(130);
});

const results: Array<{ name: string; status: 'pass' | 'FAIL' | 'skipped'; ms: number; detail?: string }> = [];
let pg: boolean | undefined;
const runStart = Date.now();
console.log(`soak: size ${sizeName}, scenarios ${only.join(',')}`);

for (const id of only) {
  const scenario = SCENARIOS[id];
  const dialects = dialectsFor(id);
  if (!dialects.length) {
    console.log(`\n⚠ (${id}) ${scenario.title}: skipped, it needs PostgreSQL (SOAK_DB=sqlite)`);
    results.push({ name: `(${id})`, status: 'skipped', ms: 0, detail: 'needs PostgreSQL' });
  }
  for (const dialect of dialects) {
    const name = `(${id}) ${dialect}`;
    if (dialect === 'postgres' && !(pg ??= await pgReachable(pgUrl))) {
      const msg = `PostgreSQL is not reachable at ${pgUrl}`;
      if (process.env.REQUIRE_PG) {
        console.error(`\n✖ ${name}: ${msg} (REQUIRE_PG is set)`);
        results.push({ name, status: 'FAIL', ms: 0, detail: msg });
      } else {
        console.warn(`\n⚠ ${name} ${scenario.title}: skipped, ${msg} (set TEST_PG_URL, or REQUIRE_PG=1 to fail instead)`);
        results.push({ name, status: 'skipped', ms: 0, detail: msg });
      }
      continue;
    }
    console.log(`\n━━━ ${name}: ${scenario.title}`);
    const ctx: ScenarioContext = { dialect, pgUrl, size, log: (l) => console.log(l), errorLines: [] };
    const t0 = Date.now();
    // A scenario that hangs past its own deadlines must not hang CI: fail it and leave.
    const watchdog = setTimeout(
      () => {
        console.error(`✖ ${name} did not finish within ${secs(scenario.timeout(size) + 120_000)}; giving up`);
        AppProcess.killAll();
        process.exit(1);
      },
      scenario.timeout(size) + 120_000,
    );
    let result: ScenarioResult;
    try {
      result = await scenario.run(ctx);
    } catch (err) {
      result = { failures: [err instanceof Error ? `${err.name}: ${err.message}` : String(err)], figures: {} };
    } finally {
      clearTimeout(watchdog);
    }
    const ms = Date.now() - t0;
    const width = Math.max(0, ...Object.keys(result.figures).map((k) => k.length));
    for (const [k, v] of Object.entries(result.figures)) console.log(`  ${k.padEnd(width)}  ${v}`);
    for (const n of result.notes ?? []) console.log(`  note: ${n}`);
    if (ctx.errorLines.length) {
      console.log(`  app error log lines: ${ctx.errorLines.length}`);
      for (const l of ctx.errorLines.slice(0, 5)) console.log(`    ${l.slice(0, 400)}`);
    }
    if (result.failures.length) {
      for (const f of result.failures) console.log(`  ✖ ${f}`);
      results.push({ name, status: 'FAIL', ms, detail: result.failures[0] });
    } else {
      console.log(`  ✔ invariants hold (${secs(ms)})`);
      results.push({ name, status: 'pass', ms });
    }
  }
}

console.log(`\n━━━ soak summary (${sizeName}, ${secs(Date.now() - runStart)})`);
for (const r of results)
  console.log(`  ${r.status === 'pass' ? '✔' : r.status === 'skipped' ? '⚠' : '✖'} ${r.name.padEnd(14)} ${r.status.padEnd(7)} ${secs(r.ms).padStart(8)}${r.detail ? `  ${r.detail}` : ''}`);
process.exit(results.some((r) => r.status === 'FAIL') ? 1 : 0);
