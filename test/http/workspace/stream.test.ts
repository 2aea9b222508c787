import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET, startTestBridge } from '../../support/harness.ts';
import { installVia } from '../../support/install.ts';
import { startPipedriveRig } from '../../support/pipedrive-rig.ts';

interface Sse {
  events: Array<{ event: string; data: any }>;
  next(match: (e: { event: string; data: any }) => boolean, timeoutMs?: number): Promise<{ event: string; data: any }>;
  close(): void;
}

/** A minimal EventSource over fetch: collects events and resolves waiters as they arrive. */
async function openStream(url: string): Promise<Sse> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: Sse['events'] = [];
  const waiters = new Set<{ match: (e: Sse['events'][0]) => boolean; resolve: (e: Sse['events'][0]) => void }>();
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!event || data === undefined) continue;
          const e = { event, data: JSON.parse(data) };
          events.push(e);
          for (const w of waiters)
            if (w.match(e)) {
              waiters.delete(w);
              w.resolve(e);
            }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    next(match, timeoutMs = 10_000) {
      const hit = events.find(match);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (e: Sse['events'][0]) => (clearTimeout(t), resolve(e)) };
        const t = setTimeout(() => {
          waiters.delete(w);
          reject(new Error('timed out waiting for a stream event'));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    close: () => ac.abort(),
  };
}

async function ticketFor(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/ui/api/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { ticket: string; expiresAt: string };
  assert.ok(Date.parse(body.expiresAt) > Date.now());
  return body.ticket;
}

test('stream: tickets are single-use, and a message stored by one process reaches a stream served by another', async () => {
  const appSecret = randomBytes(32).toString('hex');
  const rig = await startPipedriveRig({ env: { APP_SECRET: appSecret } });
  const second = await startTestBridge({
    shareDb: rig.bridge,
    platforms: { test: rig.platform.factory() },
    env: { APP_SECRET: appSecret, PIPEDRIVE_OAUTH_URL: rig.fake.oauthUrl, PIPEDRIVE_API_URL: rig.fake.apiUrl },
  });
  const streams: Sse[] = [];
  try {
    const token = await mintUiToken({ userId: rig.user.id, companyId: rig.user.company_id, secret: CLIENT_SECRET });
    assert.equal((await fetch(`${second.url}/ui/api/stream?ticket=bogus`)).status, 401);
    assert.equal((await fetch(`${second.url}/ui/api/stream`)).status, 401);
    const ticket = await ticketFor(rig.bridge.url, token);
    const a = await openStream(`${second.url}/ui/api/stream?ticket=${ticket}`);
    streams.push(a);
    assert.equal((await fetch(`${second.url}/ui/api/stream?ticket=${ticket}`)).status, 401, 'a ticket works once');
    assert.deepEqual((await a.next((e) => e.event === 'unread')).data, { total: 0 });

    // Another company's user listens on the same process.
    const other = rig.fake.addUser({ id: 4004, name: 'Bea B', email: 'bea@b.example', company_id: 88, company_name: 'B Corp' });
    await installVia(rig.bridge, rig.fake, { userId: other.id });
    const b = await openStream(`${second.url}/ui/api/stream?ticket=${await ticketFor(second.url, await mintUiToken({ userId: other.id, companyId: 88, secret: CLIENT_SECRET }))}`);
    streams.push(b);

    await rig.inbound('live from the platform');
    const arrived = await a.next((e) => e.event === 'message');
    assert.equal(arrived.data.conversationId, rig.conversationId);
    assert.equal(arrived.data.message.text, 'live from the platform');
    assert.equal(arrived.data.message.direction, 'in');
    await a.next((e) => e.event === 'unread' && e.data.total === 1);
    const conv = await a.next((e) => e.event === 'conversation');
    assert.equal(conv.data.conversation.unread, 1);
    assert.equal(b.events.filter((e) => e.event !== 'unread').length, 0, "company B's stream saw nothing of company A");

    // The user's own message through the first process: the message, then its status change.
    const res = await fetch(`${rig.bridge.url}/ui/api/conversations/${rig.conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'answering live' }),
    });
    assert.equal(res.status, 201);
    const { message } = (await res.json()) as { message: { id: string } };
    const mine = await a.next((e) => e.event === 'message' && e.data.message.id === message.id);
    assert.equal(mine.data.message.direction, 'out');

    // Reading in one tab tells the user's other streams.
    assert.equal((await fetch(`${second.url}/ui/api/conversations/${rig.conversationId}/read`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 204);
    await a.next((e) => e.event === 'unread' && e.data.total === 0 && a.events.indexOf(e) > a.events.indexOf(mine));
  } finally {
    for (const s of streams) s.close();
    await second.close();
    await rig.close();
  }
});
