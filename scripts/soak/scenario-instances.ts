import { sumOf } from './app-process.ts';
import { Ledger, violations } from './ledger.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios.ts';
import { awaitDeliveries, sendTraffic, targets } from './traffic.ts';
import { fmt, jobCounts, secs } from './util.ts';
import { World } from './world.ts';

const RECEIVE = 'pipedrive.receive';

/**
 * (c) Two app processes on one PostgreSQL schema share the outbox: messages arrive at both
 * (Airy webhooks spread over the two ports) and each receive job is executed exactly once,
 * by one process or the other (SKIP LOCKED claims), seen at the fake Pipedrive per id.
 * The fake's burst limit is lifted so the run measures contention, not Pipedrive's pace.
 */
export async function instancesScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { instances } = ctx.size;
  const deadline = Date.now() + instances.timeoutMs;
  const w = await World.start({ dialect: 'postgres', pgUrl: ctx.pgUrl, users: 1, processes: 2, burst: { limit: 10_000, windowMs: 2000 } });
  try {
    const ledger = new Ledger(w.pipedrive);
    const started = Date.now();
    const sent = await sendTraffic(w, ledger, { targets: targets(w, instances.conversations), total: instances.messages, deadline, bases: w.apps.map((a) => a.url) });
    ctx.log(`  ${fmt(sent.sent)} messages acknowledged in ${secs(sent.elapsedMs)}`);
    await awaitDeliveries(w, ledger, deadline);
    const totalMs = Date.now() - started;

    const v = ledger.verify();
    const ids = ledger.pipedriveIds();
    const executions = ids.map((id) => w.pipedrive.state.messages.get(id)?.versions ?? 0);
    const twice = ids.filter((_, i) => executions[i]! !== 1);
    const perProcess = await Promise.all(
      w.apps.map(async (a) => {
        const m = await a.metrics();
        return {
          name: a.name,
          done: sumOf(m, 'bridge_outbox_outcomes_total', { kind: RECEIVE, outcome: 'done' }),
          lost: sumOf(m, 'bridge_outbox_outcomes_total', { kind: RECEIVE, outcome: 'lost' }),
        };
      }),
    );
    const doneTotal = perProcess.reduce((a, p) => a + p.done, 0);
    const jobs = (await jobCounts(w.db))[RECEIVE] ?? {};
    const failures = violations(v);
    if (twice.length) failures.push(`${twice.length} receive jobs reached Pipedrive more than once: ${twice.slice(0, 5).join(', ')}`);
    if (doneTotal !== v.sent) failures.push(`the processes report ${doneTotal} receive jobs done for ${v.sent} messages`);
    if (perProcess.some((p) => p.done === 0)) failures.push(`one process did no work: ${perProcess.map((p) => `${p.name} ${p.done}`).join(', ')}`);
    if (jobs.dead) failures.push(`${jobs.dead} receive jobs were dead-lettered`);
    for (const a of w.apps) if (!a.alive) failures.push(`${a.name} is not running at the end`);
    return {
      failures,
      figures: {
        processes: w.apps.length,
        'jobs (messages)': v.sent,
        'executed exactly once': ids.length - twice.length,
        'executed more than once': twice.length,
        missing: v.missing.length,
        'done per process': perProcess.map((p) => `${p.name} ${fmt(p.done)}`).join(', '),
        'lost leases': perProcess.reduce((a, p) => a + p.lost, 0),
        'order violations': v.orderViolations.length,
        'total time': secs(totalMs),
        'throughput (jobs/s)': (v.sent / (totalMs / 1000)).toFixed(1),
      },
    };
  } finally {
    ctx.errorLines.push(...w.errorLines());
    await w.close();
  }
}
