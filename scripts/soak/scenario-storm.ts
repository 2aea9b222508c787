import { Ledger, violations } from './ledger.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios.ts';
import { awaitDeliveries, sendTraffic, targets } from './traffic.ts';
import { fmt, jobCounts, secs, sleep, stats } from './util.ts';
import { World } from './world.ts';

/** CPU share of one core above which the app counts as spinning while it only waits on backoff. */
const MAX_DRAIN_CPU = 0.5;
const MAX_IDLE_CPU = 0.1;

/**
 * (b) Pipedrive answers a share (50 %) of receive calls with 429 or 503: everything is
 * delivered, every message's attempts stay bounded (no dead letters), and the app does not
 * spin while it waits (its CPU time against wall time, read from /proc).
 */
export async function stormScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { storm } = ctx.size;
  const deadline = Date.now() + storm.timeoutMs;
  const w = await World.start({ dialect: ctx.dialect, pgUrl: ctx.pgUrl, users: 1, alvaria: true });
  try {
    const ledger = new Ledger(w.pipedrive);
    w.proxy.faultRate = storm.faultRate;
    const started = Date.now();
    const cpuStart = w.app.cpuMs()!;
    const sent = await sendTraffic(w, ledger, { targets: targets(w, storm.conversations), total: storm.messages, deadline });
    const ingestEnd = Date.now();
    const cpuIngestEnd = w.app.cpuMs()!;
    let lastReport = Date.now();
    await awaitDeliveries(w, ledger, deadline, () => {
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        ctx.log(`  … ${fmt(ledger.arrivedCount)}/${fmt(sent.sent)} delivered, ${fmt(w.proxy.injected[429] + w.proxy.injected[503])} faults injected`);
      }
    });
    const done = Date.now();
    const cpuDone = w.app.cpuMs()!;
    // Nothing left to do: the app should be close to idle (pollers and the leader check only).
    await sleep(storm.idleWindowMs);
    const cpuIdle = (w.app.cpuMs()! - cpuDone) / (Date.now() - done);

    const v = ledger.verify();
    const perMessage = stats(ledger.pipedriveIds().map((id) => w.proxy.calls.get(id) ?? 0));
    const receiveCalls = [...w.proxy.calls.values()].reduce((a, b) => a + b, 0);
    const jobs = jobCounts(w.db);
    const dead = (await jobs)['pipedrive.receive']?.dead ?? 0;
    const drainMs = done - ingestEnd;
    const drainCpu = (cpuDone - cpuIngestEnd) / Math.max(1, drainMs);
    const failures = violations(v);
    if (dead) failures.push(`${dead} receive jobs were dead-lettered`);
    if (drainCpu > MAX_DRAIN_CPU) failures.push(`the app used ${(drainCpu * 100).toFixed(0)} % of a core while waiting out the storm (limit ${MAX_DRAIN_CPU * 100} %)`);
    if (cpuIdle > MAX_IDLE_CPU) failures.push(`the app used ${(cpuIdle * 100).toFixed(0)} % of a core with nothing to do (limit ${MAX_IDLE_CPU * 100} %)`);
    if (!w.app.alive) failures.push('the app process is not running at the end');
    return {
      failures,
      figures: {
        messages: v.sent,
        'in Pipedrive (distinct ids)': v.distinctIds,
        missing: v.missing.length,
        'order violations': v.orderViolations.length,
        'fault rate': `${storm.faultRate * 100} % (429: ${fmt(w.proxy.injected[429])}, 503: ${fmt(w.proxy.injected[503])})`,
        'receive calls': fmt(receiveCalls),
        'attempts per message (mean, p50, p99, max)': `${perMessage.mean.toFixed(2)}, ${perMessage.p50}, ${perMessage.p99}, ${perMessage.max}`,
        'dead letters': dead,
        'total time': secs(done - started),
        'throughput (messages/s)': (v.sent / ((done - started) / 1000)).toFixed(1),
        'app CPU while draining': `${fmt(cpuDone - cpuIngestEnd)} ms over ${secs(drainMs)} = ${(drainCpu * 100).toFixed(1)} % of a core`,
        'app CPU per message (ingest and delivery)': `${((cpuDone - cpuStart) / Math.max(1, v.sent)).toFixed(2)} ms`,
        'app CPU idle afterwards': `${(cpuIdle * 100).toFixed(1)} % of a core over ${secs(storm.idleWindowMs)}`,
      },
    };
  } finally {
    ctx.errorLines.push(...w.errorLines());
    await w.close();
  }
}
