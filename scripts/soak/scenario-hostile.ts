import { HostilePlatform } from '../../fakes/hostile.ts';
import { BASIC } from '../../fakes/pipedrive/credentials.ts';
import { adminCall, installVia } from '../lib/install.ts';
import { Ledger, marker, violations } from './ledger.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios.ts';
import { awaitDeliveries, sendAiry } from './traffic.ts';
import { fmt, secs, sleep, stats } from './util.ts';
import { World } from './world.ts';

/** What the measured tenant must still get while another one's platforms misbehave. */
const P99_LIMIT_MS = 2000;
const RSS_LIMIT_BYTES = 400 * 1024 * 1024;
const HOSTILE_COMPANY = 666;

/**
 * (e) One tenant's platforms are hostile: one drips a byte every 2 s, one answers 50 MB, one
 * sends a STOMP frame that never ends, and two are private addresses (loopback hosts the
 * allow-list does not name: 127.0.0.2 and 0.0.0.0). That tenant's users keep posting to the
 * first two, so their sends hold worker slots until the per-call deadline. Meanwhile the
 * measured tenant's Airy replies (paced well under Pipedrive's burst limit) must reach
 * Pipedrive with a p99 under 2 s, every one of them, in order, and the app's RSS stays under
 * 400 MB. Everything is on loopback: the private-address hosts are refused before any
 * connection (they count the requests that reach them: none may). The app runs with the
 * default per-tenant cap (half of its 16 slots): the drip sends hold eight slots at most and
 * leave eight to everyone else.
 */
export async function hostileScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { hostile: size } = ctx.size;
  const deadline = Date.now() + size.timeoutMs;
  const drip = await HostilePlatform.start();
  const huge = await HostilePlatform.start();
  const endless = await HostilePlatform.start();
  const privateHost = await HostilePlatform.start('127.0.0.2');
  drip.behaviours['/sources.webhook'] = { kind: 'drip', dripMs: 2000, dripBytes: 10_000 };
  huge.behaviours['/sources.webhook'] = { kind: 'huge', hugeBytes: 50 * 1024 * 1024 };
  endless.ws = { kind: 'endless', chunkBytes: 64 * 1024, maxBytes: 512 * 1024 * 1024 };
  let endlessClosed = 0;
  endless.on('wsClosed', () => endlessClosed++);
  const platforms = [drip, huge, endless, privateHost];
  // Half the worker slots per tenant at most (the default lets one tenant hold all but one).
  const w = await World.start({ dialect: ctx.dialect, pgUrl: ctx.pgUrl, users: 1 });
  let rssMax = 0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, w.app.rssBytes() ?? 0)), 200);
  try {
    const failures: string[] = [];
    // The hostile tenant: a company of its own, several users (each a standing conversation per channel).
    const admin = w.pipedrive.addUser({ id: 66_600, name: 'Mallory', email: 'mallory@evil.example', company_id: HOSTILE_COMPANY, is_admin: true });
    const { cookie } = await installVia({ url: w.app.url, db: w.db }, w.pipedrive, { userId: admin.id });
    for (let i = 1; i < size.hostileUsers; i++) {
      const u = w.pipedrive.addUser({ id: 66_600 + i, name: `Mallory ${i}`, email: `m${i}@evil.example`, company_id: HOSTILE_COMPANY, is_admin: false });
      await installVia({ url: w.app.url, db: w.db }, w.pipedrive, { userId: u.id });
    }
    w.pipedrive.setUser(admin.id);
    const connect = async (name: string, api_url: string) => {
      const res = await adminCall(w.app, cookie, 'POST', '/channels', { provider: 'airy', name, config: { api_url, system_token: 'mallory' } });
      return { status: res.status, body: (await res.json()) as { channel?: { id: string; provider_channel_id: string }; error?: { message: string; fields?: Array<{ field: string }> } } };
    };
    const hostileChannels: Array<{ name: string; providerChannelId: string; id: string }> = [];
    for (const [name, p] of [
      ['drip', drip],
      ['huge', huge],
      ['endless', endless],
    ] as const) {
      const r = await connect(name, p.url);
      if (r.status !== 201 || !r.body.channel) throw new Error(`connecting the ${name} platform answered ${r.status}: ${JSON.stringify(r.body)}`);
      hostileChannels.push({ name, providerChannelId: r.body.channel.provider_channel_id, id: r.body.channel.id });
    }
    for (const url of [privateHost.url, privateHost.url.replace('127.0.0.2', '0.0.0.0')]) {
      const r = await connect('private', url);
      // The admin's input to correct: a field error naming api_url, not an outage.
      if (r.status !== 400 || r.body.error?.fields?.[0]?.field !== 'config.api_url') failures.push(`connecting to the private address ${url} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }

    // The hostile users keep writing to the drip and huge platforms.
    const conversations = async (channelId: string) => (await w.db('conversations').where({ channel_id: channelId }).select('id')).map((c: { id: string }) => c.id);
    let hostilePosts = 0;
    const postHostile = async () => {
      // The huge platform first: drip sends hold their slots until the deadline, huge ones fail fast.
      for (const ch of [...hostileChannels].reverse().filter((c) => c.name !== 'endless')) {
        for (const conversationId of await conversations(ch.id)) {
          const form = new FormData();
          form.set('conversationId', conversationId);
          form.set('message', `mallory ${++hostilePosts}`);
          const res = await fetch(`${w.app.url}/api/channels/${ch.providerChannelId}/messages`, { method: 'POST', body: form, headers: { authorization: BASIC } });
          if (res.status !== 200) failures.push(`a hostile tenant's postMessage answered ${res.status}`);
        }
      }
    };
    await postHostile();

    // The measured tenant: Airy replies, each conversation one message every intervalMs.
    const ledger = new Ledger(w.pipedrive);
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    w.pipedrive.events.on('message', (m) => {
      const t = sentAt.get(m.message);
      if (t !== undefined && m.versions === 1) {
        latencies.push(Date.now() - t);
        sentAt.delete(m.message);
      }
    });
    const started = Date.now();
    const until = started + size.seconds * 1000;
    const midway = sleep((size.seconds * 1000) / 2).then(postHostile);
    await Promise.all(
      Array.from({ length: size.conversations }, async (_, i) => {
        const key = `measured${i}`;
        for (let seq = 1; Date.now() < until; seq++) {
          const text = marker(key, seq);
          sentAt.set(text, Date.now());
          await sendAiry(w, w.app.url, `soak-measured-${i}`, text, deadline);
          ledger.ack(key, seq);
          await sleep(size.intervalMs);
        }
      }),
    );
    await midway;
    await awaitDeliveries(w, ledger, deadline);
    const v = ledger.verify();
    failures.push(...violations(v));

    const lat = stats(latencies);
    if (lat.p99 > P99_LIMIT_MS) failures.push(`the measured tenant's delivery p99 was ${fmt(lat.p99)} ms (limit ${fmt(P99_LIMIT_MS)} ms)`);
    if (rssMax > RSS_LIMIT_BYTES) failures.push(`the app's RSS reached ${fmt(rssMax / 1048576)} MB (limit ${fmt(RSS_LIMIT_BYTES / 1048576)} MB)`);
    if (privateHost.requests.length) failures.push(`${privateHost.requests.length} requests reached the private-address platform`);
    if (!endlessClosed) failures.push('the never-ending STOMP frame did not get its socket closed');
    if (!drip.requests.includes('/sources.webhook') || !huge.requests.includes('/sources.webhook')) failures.push('the hostile sends never reached the drip or huge platform');
    if (!w.app.alive) failures.push('the app process is not running at the end');
    return {
      failures,
      figures: {
        'measured messages': v.sent,
        'in Pipedrive (distinct ids)': v.distinctIds,
        missing: v.missing.length,
        'delivery latency ms (p50, p99, max)': `${fmt(lat.p50)}, ${fmt(lat.p99)}, ${fmt(lat.max)}`,
        'hostile posts': hostilePosts,
        'calls to the drip / huge platform': `${drip.requests.filter((p) => p === '/sources.webhook').length} / ${huge.requests.filter((p) => p === '/sources.webhook').length}`,
        'never-ending frame sockets closed by the app': endlessClosed,
        'requests reaching the private-address platform': privateHost.requests.length,
        'app RSS max': `${fmt(rssMax / 1048576)} MB`,
        'measuring time': secs(Date.now() - started),
      },
    };
  } finally {
    clearInterval(sampler);
    ctx.errorLines.push(...w.errorLines());
    await w.close();
    for (const p of platforms) await p.close().catch(() => {});
  }
}
