import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { airyUuid } from '../../../app/platforms/airy/ids.ts';
import type { ReceiveMessageBody } from '../../../app/flows/channels-api/receive-job.ts';
import { startAiryWorld } from '../../support/airy.ts';
import { startAlvariaRig, type AlvariaRig } from '../../support/alvaria.ts';
import { waitFor } from '../../support/harness.ts';
import { seedConversation } from '../../support/seed.ts';
import type { FakeSession } from '../../../fakes/alvaria/server.ts';

/** An Alvaria rig with a confirmed (live) session, so MESSAGE callbacks land in the conversation. */
async function liveRig(opts: Parameters<typeof startAlvariaRig>[0] = {}): Promise<AlvariaRig & { session: FakeSession }> {
  const r = await startAlvariaRig(opts);
  const sentP = once(r.fake, 'message') as Promise<[FakeSession, unknown]>;
  const doneP = waitFor(r.b.outbox, 'done', (j: { kind: string }) => j.kind === 'platform.send');
  await r.post('hello');
  const [session] = await sentP;
  await doneP;
  return Object.assign(r, { session });
}

const CONTROL_IDS = ['bad\u0000id', 'bad\u0001id', 'line\nbreak', 'del\u007fid', 'c1\u0085id'];

test('control characters in Alvaria ids: 400 (never a 5xx that Alvaria retries for hours), nothing stored', async () => {
  const r = await liveRig();
  try {
    const events = async () => Number((await r.b.db('inbound_events').count({ n: '*' }).first())?.n);
    const before = await events();
    for (const bad of CONTROL_IDS) {
      for (const payload of [
        { sessionId: r.session.id, senderId: 'agent', message: { text: 'x' }, eventId: bad },
        { sessionId: bad, event: 'NEW_SESSION', status: 'SUCCESS', eventId: randomUUID() },
        { sessionId: r.session.id, event: 'MESSAGE_STATUS', status: 'FAILED', messageId: bad, eventId: randomUUID() },
      ]) {
        const res = await r.callback(payload);
        assert.equal(res.status, 400, JSON.stringify(payload));
        assert.match(res.body.error, /control characters/);
      }
    }
    assert.equal(await events(), before);
  } finally {
    await r.close();
  }
});

test("control characters in Airy action ids: Airy's 400 {error}, never a 500", async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect();
    const conv = await seedConversation(w.b, channel);
    const airyConversation = airyUuid(state.source_id, conv.id);
    await w.b.platform.updateConversation(conv, { platformRef: airyConversation });
    for (const bad of CONTROL_IDS) {
      for (const payload of [
        { message: { id: bad, content: { text: 'x' }, sent_at: new Date().toISOString() }, conversation: { id: airyConversation } },
        { message: { id: randomUUID(), content: { text: 'x' } }, conversation: { id: bad } },
        { message: { id: randomUUID(), source_recipient_id: bad, content: { text: 'x' } }, conversation: null },
      ]) {
        const body = JSON.stringify({ type: 'message.send', payload });
        const res = await w.b.call(`/webhooks/airy/${channel.id}`, {
          auth: false,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-airy-content-signature': createHmac('sha256', state.source_token).update(body).digest('hex') },
          body,
        });
        assert.equal(res.status, 400, body);
        assert.match(((await res.json()) as { error: string }).error, /control characters/);
      }
    }
  } finally {
    await w.close();
  }
});

test('a javascript: attachment link from Alvaria is dropped with a clear reason; the text still arrives', async () => {
  const r = await liveRig();
  try {
    const arrived = waitFor<[ReceiveMessageBody]>(r.gateway, 'receive', (b: ReceiveMessageBody) => b.message.includes('see this'));
    const res = await r.callback({
      sessionId: r.session.id,
      senderId: 'agent',
      eventId: randomUUID(),
      message: { text: 'see this', attachment: { type: 'File', url: 'javascript:alert(document.cookie)' } },
    });
    assert.equal(res.status, 200, 'accepted: a 4xx would make Alvaria retry for hours');
    const [body] = await arrived;
    assert.deepEqual(body.attachments, []);
    assert.match(body.message, /\[An attachment was dropped: its link is not an http\(s\) URL\]/);
    assert.doesNotMatch(JSON.stringify(r.gateway.received), /javascript:/i);
    const stored = await r.b.db('attachments').select('remote_url');
    assert.ok(stored.every((a: { remote_url: string | null }) => !/^javascript:/i.test(a.remote_url ?? '')));
  } finally {
    await r.close();
  }
});

test('Alvaria callback JWTs need iat and are refused past their maximum age, whatever their exp; iss/aud are checked when configured', async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportSPKI(publicKey);
  const r = await liveRig({
    config: (fake) => {
      // The fake's own callbacks (NEW_SESSION…) carry the configured claims too.
      fake.signer.issuer = 'https://alvaria.example/cb';
      fake.signer.audience = 'pd-bridge';
      return { callback_public_keys: [fake.signer.currentPublicPem, pem], callback_issuer: 'https://alvaria.example/cb', callback_audience: 'pd-bridge' };
    },
  });
  try {
    const nowSec = Math.floor(r.fake.clock.now() / 1000);
    const sign = (claims: { iat?: number; exp: number; iss?: string; aud?: string }) => {
      const jwt = new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(claims.exp);
      if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
      if (claims.iss) jwt.setIssuer(claims.iss);
      if (claims.aud) jwt.setAudience(claims.aud);
      return jwt.sign(privateKey).then((t) => `Bearer ${t}`);
    };
    const good = { iss: 'https://alvaria.example/cb', aud: 'pd-bridge' };
    const msg = () => ({ sessionId: r.session.id, senderId: 'agent', message: { text: 'x' }, eventId: randomUUID() });
    const hundredYears = nowSec + 100 * 365 * 24 * 3600;

    assert.equal((await r.callback(msg(), await sign({ ...good, exp: hundredYears }))).status, 401, 'no iat');
    assert.equal((await r.callback(msg(), await sign({ ...good, iat: nowSec - 3600, exp: hundredYears }))).status, 401, 'an hour old');
    assert.equal((await r.callback(msg(), await sign({ iss: 'https://evil.example', aud: 'pd-bridge', iat: nowSec, exp: nowSec + 300 }))).status, 401, 'wrong iss');
    assert.equal((await r.callback(msg(), await sign({ iss: good.iss, aud: 'someone-else', iat: nowSec, exp: nowSec + 300 }))).status, 401, 'wrong aud');
    assert.equal((await r.callback(msg(), await sign({ ...good, iat: nowSec - 60, exp: nowSec + 300 }))).status, 200, 'fresh and matching');
  } finally {
    await r.close();
  }
});
