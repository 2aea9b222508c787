import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BASIC } from '../../fakes/pipedrive/credentials.ts';
import { sumOf } from './app-process.ts';
import { manifestGenerators, seeded, spellingGenerators, type FuzzTargets, type Generator, type Rng } from './fuzz-cases.ts';
import { closeAgent, send, type FuzzCase, type FuzzOutcome } from './fuzz-send.ts';
import { webhookGenerators } from './fuzz-webhooks.ts';
import { Ledger } from './ledger.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios.ts';
import { awaitDeliveries, sendTraffic, targets } from './traffic.ts';
import { fmt, pool, rowCounts, secs, waitUntil } from './util.ts';
import { World } from './world.ts';

const GENERATORS: Generator[] = [...manifestGenerators, ...webhookGenerators, ...spellingGenerators];

function choose(r: Rng): Generator {
  const total = GENERATORS.reduce((a, g) => a + g.weight, 0);
  let x = r() * total;
  for (const g of GENERATORS) if ((x -= g.weight) < 0) return g;
  return GENERATORS[GENERATORS.length - 1]!;
}

/** Entries of a folder, 0 when it does not exist. */
const entries = (dir: string) => {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
};

/**
 * (d) Malformed requests to the seven manifest endpoints and both webhooks (bad JSON, wrong
 * types, huge fields, bad multipart, bad signatures and tokens, path tricks, garbage cursors,
 * wrong auth, protocol garbage), and every route family (admin API, manifest, webhooks, files,
 * uninstall) under odd spellings of its path without its credential, aimed at real ids: zero 5xx, the process alive, and nothing
 * stored (row counts, channel statuses and files on disk unchanged). Every generated request
 * is invalid by construction; reads with valid credentials and deletes of ids that are not
 * ours (an idempotent 200) store nothing and are counted apart.
 */
export async function fuzzScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { fuzz } = ctx.size;
  const deadline = Date.now() + fuzz.timeoutMs;
  const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : randomInt(2 ** 31);
  const w = await World.start({ dialect: ctx.dialect, pgUrl: ctx.pgUrl, users: 2, alvaria: true });
  try {
    // Some history first, so message and sender ids are real.
    const ledger = new Ledger(w.pipedrive);
    await sendTraffic(w, ledger, { targets: targets(w, 3), total: 20, deadline });
    await awaitDeliveries(w, ledger, deadline);
    const t = await fuzzTargets(w);

    const filesDir = join(w.dir, 'files');
    const before = { rows: await rowCounts(w.db), channels: await channelStates(w), files: entries(filesDir) };
    const r = seeded(seed);
    const cases: FuzzCase[] = [];
    for (let i = 0; i < fuzz.requests; i++) cases.push(await choose(r).make(r, t));

    const outcomes: Array<{ c: FuzzCase; o: FuzzOutcome }> = [];
    const started = Date.now();
    await pool(cases, fuzz.concurrency, async (c) => {
      outcomes.push({ c, o: await send(new URL(w.app.url), c) });
    });
    const elapsed = Date.now() - started;
    closeAgent();

    const alive = w.app.alive;
    const health = alive
      ? await fetch(`${w.app.url}/healthz`).then(
          (res) => res.status,
          () => null,
        )
      : null;
    // Rejected uploads are removed from tmp/ before the answer; allow a moment for multer's own clean-up of aborted parts.
    await waitUntil('staged uploads to be cleaned up', () => entries(join(filesDir, 'tmp')) === 0, Date.now() + 10_000).catch(() => undefined);
    const after = { rows: await rowCounts(w.db), channels: await channelStates(w), files: entries(filesDir) };
    const serverFiveXx = alive ? sumOf(await w.app.metrics(), 'bridge_http_requests_total', { status: /^5/ }) : null;

    const failures: string[] = [];
    const fiveXx = outcomes.filter(({ o }) => o.status !== null && o.status >= 500);
    const accepted = outcomes.filter(({ c, o }) => c.expect === 'reject' && o.status !== null && o.status < 400);
    const unanswered = outcomes.filter(({ c, o }) => o.status === null && !c.raw && !o.error?.startsWith('client refused'));
    const refused = outcomes.filter(({ o }) => !!o.error?.startsWith('client refused'));
    const sample = (list: typeof outcomes) =>
      list
        .slice(0, 5)
        .map(({ c, o }) => `${c.family} ${c.method} ${c.path.slice(0, 120)} → ${o.status ?? o.error}`)
        .join('; ');
    if (fiveXx.length) failures.push(`${fiveXx.length} answers were 5xx: ${sample(fiveXx)}`);
    if (accepted.length) failures.push(`${accepted.length} malformed requests were accepted: ${sample(accepted)}`);
    if (!alive || health !== 200) failures.push(`the app is not healthy after the run (alive ${alive}, /healthz ${health})`);
    for (const [table, n] of Object.entries(before.rows)) if (after.rows[table] !== n) failures.push(`${table}: ${n} rows before, ${after.rows[table]} after`);
    if (JSON.stringify(before.channels) !== JSON.stringify(after.channels)) failures.push(`channel statuses changed: ${JSON.stringify(before.channels)} → ${JSON.stringify(after.channels)}`);
    if (after.files !== before.files) failures.push(`files on disk: ${before.files} entries before, ${after.files} after`);
    const tmpLeft = entries(join(filesDir, 'tmp'));
    if (tmpLeft) failures.push(`${tmpLeft} staged uploads left in ${join(filesDir, 'tmp')}`);
    if (serverFiveXx) failures.push(`/metrics counts ${serverFiveXx} 5xx answers`);
    const logged = w.errorLines().length;
    if (logged) failures.push(`the app logged ${logged} errors for requests it should simply refuse`);

    const byStatus = new Map<string, number>();
    for (const { o } of outcomes) byStatus.set(String(o.status ?? 'no answer'), (byStatus.get(String(o.status ?? 'no answer')) ?? 0) + 1);
    const byEndpoint = new Map<string, number>();
    for (const { c } of outcomes) byEndpoint.set(c.endpoint, (byEndpoint.get(c.endpoint) ?? 0) + 1);
    const count = (pred: (x: { c: FuzzCase; o: FuzzOutcome }) => boolean) => outcomes.filter(pred).length;
    return {
      failures,
      figures: {
        seed,
        requests: fmt(outcomes.length),
        'by endpoint': [...byEndpoint]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(', '),
        'by status': [...byStatus]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join(', '),
        '5xx': fiveXx.length,
        'malformed but accepted': accepted.length,
        'reads answered 2xx (valid credentials, store nothing)': count(({ c, o }) => c.expect === 'read' && o.status !== null && o.status < 300),
        'deletes of ids not ours answered 200 (idempotent)': count(({ c, o }) => c.expect === 'noop' && o.status === 200),
        'no HTTP answer (connection closed by the server)': unanswered.length + count(({ c, o }) => !!c.raw && o.status === null),
        'refused by the HTTP client before sending': count(({ o }) => !!o.error?.startsWith('client refused')),
        'rows changed': Object.entries(before.rows).filter(([k, n]) => after.rows[k] !== n).length,
        'app alive, /healthz': `${alive}, ${health}`,
        time: secs(elapsed),
        'requests/s': (outcomes.length / (elapsed / 1000)).toFixed(0),
      },
      notes: [...(unanswered.length ? [`unanswered (non-raw): ${sample(unanswered)}`] : []), ...(refused.length ? [`refused by the client: ${sample(refused)}`] : [])],
    };
  } finally {
    ctx.errorLines.push(...w.errorLines());
    await w.close();
  }
}

async function channelStates(w: World): Promise<Array<{ id: string; status: string }>> {
  return w.db('channels').select('id', 'status').orderBy('id');
}

async function fuzzTargets(w: World): Promise<FuzzTargets> {
  const channels: FuzzTargets['channels'] = [];
  for (const [kind, ch] of [
    ['airy', w.airyChannel],
    ['alvaria', w.alvariaChannel!],
  ] as const) {
    const m = await w
      .db('messages as m')
      .join('conversations as c', 'c.pk', 'm.conversation_pk')
      .where('m.channel_id', ch.id)
      .select('m.id', 'm.sender_id', 'c.id as conversation_id')
      .orderBy('m.seq', 'desc')
      .first();
    if (!m) throw new Error(`no message in the ${kind} channel to aim at`);
    channels.push({ kind, providerChannelId: ch.providerChannelId, webhookPath: ch.webhookPath, conversationId: m.conversation_id, messageId: m.id, senderId: m.sender_id });
  }
  const cursors: string[] = [];
  for (const c of channels) {
    const res = await fetch(`${w.app.url}/api/channels/${c.providerChannelId}/conversations?conversations_limit=1&messages_limit=1`, { headers: { authorization: BASIC } });
    const page = (await res.json()) as { data: Array<{ next_messages_cursor?: string }>; additional_data: { after?: string } };
    if (page.additional_data.after) cursors.push(page.additional_data.after);
    for (const conv of page.data) if (conv.next_messages_cursor) cursors.push(conv.next_messages_cursor);
  }
  if (!cursors.length) throw new Error('the app handed out no cursor to replay');
  const signer = w.alvaria.signer;
  return {
    cursors,
    basic: BASIC,
    channels,
    airyToken: w.airyChannel.sourceToken,
    alvariaSessionId: w.sessions.values().next().value!,
    async alvariaAuth(mode) {
      // The signer reads its mode synchronously when asked, so switching around the call is safe.
      signer.mode = mode;
      const p = signer.authorization();
      signer.mode = 'valid';
      return (await p)!;
    },
  };
}
