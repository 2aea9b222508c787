import { Ledger, violations } from './ledger.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios.ts';
import { awaitDeliveries, sendTraffic, targets } from './traffic.ts';
import { fmt, secs, stats, waitUntil } from './util.ts';
import { World } from './world.ts';

/**
 * (a) Inbound messages over both webhooks (Airy action endpoint, Alvaria callbacks) while
 * the app is SIGKILLed and restarted on the same database: every acknowledged or retried
 * message reaches Pipedrive exactly once by id, none missing, in send order per conversation.
 */
export async function crashScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { size } = ctx;
  const deadline = Date.now() + size.crash.timeoutMs;
  const w = await World.start({ dialect: ctx.dialect, pgUrl: ctx.pgUrl, users: size.crash.alvariaConversations, alvaria: true });
  try {
    const ledger = new Ledger(w.pipedrive);
    const tg = targets(w, size.crash.airyConversations);
    const total = size.crash.messages;
    const downtimes: number[] = [];
    const started = Date.now();
    let ingestMs = 0;
    const traffic = sendTraffic(w, ledger, { targets: tg, total, deadline }).then((r) => {
      ingestMs = Date.now() - started;
      return r;
    });
    // Kills at evenly spaced points of the whole run (acknowledged plus delivered), so they hit
    // webhooks being stored, deliveries in flight, and the drain after the senders are done.
    const killer = (async () => {
      for (let k = 1; k <= size.crash.kills; k++) {
        const at = (2 * total * k) / (size.crash.kills + 1);
        await waitUntil(`progress for kill ${k}`, () => ledger.ackedCount + ledger.arrivedCount >= at, deadline, 20);
        const t0 = Date.now();
        await w.app.kill();
        await w.app.start();
        downtimes.push(Date.now() - t0);
        ctx.log(`  kill ${k}/${size.crash.kills} at ${fmt(ledger.ackedCount)} acknowledged, ${fmt(ledger.arrivedCount)} in Pipedrive; back in ${secs(downtimes.at(-1)!)}`);
      }
    })();
    const [sent] = await Promise.all([traffic, killer]);
    await awaitDeliveries(w, ledger, deadline);
    const totalMs = Date.now() - started;
    const v = ledger.verify();
    const senderAttempts = stats(sent.attempts);
    const pdCalls = stats(ledger.pipedriveIds().map((id) => w.proxy.calls.get(id) ?? 0));
    const failures = violations(v);
    if (!w.app.alive) failures.push('the app process is not running at the end');
    return {
      failures,
      figures: {
        messages: v.sent,
        conversations: tg.length,
        'in Pipedrive (distinct ids)': v.distinctIds,
        missing: v.missing.length,
        duplicated: v.duplicated.length,
        'order violations': v.orderViolations.length,
        kills: w.app.kills,
        'downtime per kill': downtimes.map(secs).join(', '),
        'ingest time': secs(ingestMs),
        'total time': secs(totalMs),
        'sender retries (messages retried, max attempts)': `${sent.attempts.filter((n) => n > 1).length}, ${senderAttempts.max}`,
        'receive calls per message (mean, max)': `${pdCalls.mean.toFixed(2)}, ${pdCalls.max}`,
        're-sent same id (upserts)': v.resentSameId,
        'Pipedrive 429 (burst limiter)': w.pipedrive.state.counters.rateLimited,
      },
      notes: problemNotes(w.pipedrive.state.problems),
    };
  } finally {
    ctx.errorLines.push(...w.errorLines());
    await w.close();
  }
}

/**
 * The fake Pipedrive's contract complaints. Its calls back to the app (getConversationById for
 * a conversation it has not seen) fail while the app is down: expected here, so only counted.
 */
function problemNotes(problems: string[]): string[] {
  const down = problems.filter((p) => p.includes('fetch failed'));
  const other = problems.filter((p) => !p.includes('fetch failed'));
  return [...(down.length ? [`${down.length} fake Pipedrive callbacks to the app failed while it was down (it asks again with the next message of that conversation)`] : []), ...other.slice(0, 5)];
}
