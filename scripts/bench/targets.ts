/**
 * What the load generator sends for section (a): every request a fresh body (new message
 * id / eventId, so each one is stored and queued rather than answered as a duplicate),
 * signed as the platform would sign it.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export interface Target {
  name: string;
  url: string;
  next(): { body: string; headers: Record<string, string> };
}

const TEXT = 'Hi! Your order shipped today; the tracking number follows in a separate message. Anything else?';

let runs = 0;
/** A prefix unique to this bench run and target, so ids never repeat across runs on one store. */
const tag = () => `${randomUUID().slice(0, 8)}-${++runs}`;

/** The same body size as the Airy action, unsigned: the baseline's bytes match the webhook's. */
export function bareTarget(url: string): Target {
  const t = tag();
  let n = 0;
  return {
    name: 'bare Koa JSON handler',
    url,
    next: () => ({
      body: JSON.stringify({
        type: 'message.send',
        payload: { message: { id: `${t}-${++n}`, source_recipient_id: null, content: { text: TEXT }, sent_at: new Date().toISOString() }, conversation: { id: randomUUID() } },
      }),
      headers: { 'content-type': 'application/json' },
    }),
  };
}

/** Airy's action call: X-Airy-Content-Signature = hex HMAC-SHA256 of the body keyed with the source token. */
export function airyTarget(baseUrl: string, channelId: string, sourceToken: string, conversationRefs: string[]): Target {
  const t = tag();
  let n = 0;
  return {
    name: 'Airy action webhook',
    url: `${baseUrl}/webhooks/airy/${channelId}`,
    next() {
      n++;
      const body = JSON.stringify({
        type: 'message.send',
        payload: {
          message: { id: `airy-${t}-${n}`, source_recipient_id: null, content: { text: TEXT }, sent_at: new Date().toISOString() },
          conversation: { id: conversationRefs[n % conversationRefs.length] },
        },
      });
      return { body, headers: { 'content-type': 'application/json', 'x-airy-content-signature': createHmac('sha256', sourceToken).update(body).digest('hex') } };
    },
  };
}

export interface AlvariaKeys {
  publicPem: string;
  privateKey: CryptoKey;
}

export async function alvariaKeys(): Promise<AlvariaKeys> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { privateKey, publicPem: await exportSPKI(publicKey) };
}

/**
 * Alvaria's MESSAGE callback with an RS256 JWT. RSA signing costs the load generator about a
 * millisecond, which would make it the bottleneck; the JWT carries no body hash and the
 * receiver checks signature and expiry only, so a pool of valid tokens is signed up front
 * and rotated (the server still verifies every one).
 */
export async function alvariaTarget(baseUrl: string, channelId: string, keys: AlvariaKeys, sessionIds: string[]): Promise<Target> {
  const now = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(
    Array.from({ length: 64 }, () =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'bench' })
        .setIssuer('https://alvaria.bench/callbacks')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(keys.privateKey),
    ),
  );
  const t = tag();
  let n = 0;
  return {
    name: 'Alvaria callback',
    url: `${baseUrl}/webhooks/alvaria/${channelId}`,
    next() {
      n++;
      return {
        body: JSON.stringify({ sessionId: sessionIds[n % sessionIds.length], eventId: `ev-${t}-${n}`, senderId: 'agent-7', message: { text: TEXT } }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[n % tokens.length]}` },
      };
    },
  };
}
