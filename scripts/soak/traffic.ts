import { createHmac, randomUUID } from 'node:crypto';
import type { Delivery } from '../../fakes/alvaria/deliveries.ts';
import { marker, type Ledger } from './ledger.ts';
import { drained, InvariantError, sleep, waitUntil } from './util.ts';
import type { World } from './world.ts';

/** One conversation on the platform side: an Airy contact, or an Alvaria session. */
export type Target = { kind: 'airy'; key: string; recipient: string } | { kind: 'alvaria'; key: string; sessionId: string };

export interface TrafficResult {
  sent: number;
  /** Requests a sender made per message (more than 1 = retried because the app did not answer 200). */
  attempts: number[];
  elapsedMs: number;
}

/** `airy` Airy contacts plus one target per live Alvaria session. */
export function targets(w: World, airyConversations: number): Target[] {
  const out: Target[] = [];
  for (let i = 0; i < airyConversations; i++) out.push({ kind: 'airy', key: `airy${i}`, recipient: `soak-contact-${i}` });
  let j = 0;
  for (const sessionId of w.sessions.values()) out.push({ kind: 'alvaria', key: `alvaria${j++}`, sessionId });
  return out;
}

/**
 * Sends `total` messages spread round-robin over `targets`, each conversation strictly in
 * order (the next message goes only after the previous one was answered 200), every
 * conversation in parallel. Like Airy and Alvaria, a sender retries a request that was not
 * answered 200 (app down, reset connection) with the same payload until `deadline`.
 * `bases` are the app URLs to spread Airy requests over (several processes).
 */
export async function sendTraffic(w: World, ledger: Ledger, opts: { targets: Target[]; total: number; deadline: number; bases?: string[]; onAck?: (n: number) => void }): Promise<TrafficResult> {
  const started = Date.now();
  const attempts: number[] = [];
  const bases = opts.bases ?? [w.app.url];
  let acked = 0;
  let airyRequests = 0;
  await Promise.all(
    opts.targets.map(async (t, ti) => {
      const count = Math.floor(opts.total / opts.targets.length) + (ti < opts.total % opts.targets.length ? 1 : 0);
      for (let seq = 1; seq <= count; seq++) {
        const text = marker(t.key, seq);
        const n = t.kind === 'airy' ? await sendAiry(w, bases[airyRequests++ % bases.length]!, t.recipient, text, opts.deadline) : await sendAlvaria(w, t.sessionId, text, opts.deadline);
        attempts.push(n);
        ledger.ack(t.key, seq);
        acked++;
        opts.onAck?.(acked);
      }
    }),
  );
  return { sent: acked, attempts, elapsedMs: Date.now() - started };
}

/** An Airy action call (message.send), signed like Airy: lowercase hex HMAC-SHA256 of the body with the source token. */
export async function sendAiry(w: World, base: string, recipient: string, text: string, deadline: number): Promise<number> {
  const body = JSON.stringify({
    type: 'message.send',
    payload: { message: { id: randomUUID(), source_recipient_id: recipient, content: { text }, sent_at: new Date().toISOString() }, conversation: null },
  });
  const signature = createHmac('sha256', w.airyChannel.sourceToken).update(body).digest('hex');
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${base}${w.airyChannel.webhookPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-airy-content-signature': signature },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await res.json().catch(() => ({}))) as { source_message_id?: unknown };
      if (res.status === 200 && typeof json.source_message_id === 'string') return attempt;
      if (res.status !== 409 && res.status < 500) throw new InvariantError(`the Airy action endpoint refused a valid message with ${res.status}: ${JSON.stringify(json)}`);
    } catch (err) {
      if (err instanceof InvariantError) throw err;
      // app down or connection cut: retry like Airy's stream would on its next pass
    }
    if (Date.now() > deadline) throw new InvariantError(`an Airy message was still not acknowledged at the deadline (${attempt} attempts)`);
    await sleep(Math.min(500, 20 * 2 ** Math.min(attempt, 5)));
  }
}

/** An agent MESSAGE callback through the fake Alvaria's deliverer (RS256 JWT, retried until answered 200). */
async function sendAlvaria(w: World, sessionId: string, text: string, deadline: number): Promise<number> {
  const d = w.alvaria.agentMessage(sessionId, { text });
  const settled = await new Promise<Delivery | null>((resolve) => {
    const timer = setTimeout(() => done(null), Math.max(0, deadline - Date.now()));
    const on = (x: Delivery) => x === d && done(x);
    const done = (x: Delivery | null) => {
      clearTimeout(timer);
      w.alvaria.deliveries.off('delivered', on).off('failed', on);
      resolve(x);
    };
    w.alvaria.deliveries.on('delivered', on).on('failed', on);
    if (d.state !== 'pending') done(d);
  });
  if (!settled || settled.state !== 'delivered') {
    throw new InvariantError(`an Alvaria callback was not answered 200 (${d.attempts.length} attempts, last status ${d.attempts.at(-1)?.status ?? 'none'})`);
  }
  return d.attempts.length;
}

/**
 * Waits until every acknowledged message reached Pipedrive, or until no receive job is left
 * that could still deliver one (then the verdict names what is missing), and in both cases
 * until the receive jobs have drained, so no late second copy can arrive after the count.
 */
export async function awaitDeliveries(w: World, ledger: Ledger, deadline: number, onPoll?: () => void): Promise<void> {
  await waitUntil(
    'every acknowledged message in Pipedrive',
    async () => {
      onPoll?.();
      return ledger.complete() || (await drained(w.db, 'pipedrive.receive'));
    },
    deadline,
    200,
  );
  await waitUntil('the receive jobs to drain', () => drained(w.db, 'pipedrive.receive'), deadline, 200);
}
