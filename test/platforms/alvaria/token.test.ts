import { test } from 'node:test';
import assert from 'node:assert/strict';
import axios, { isAxiosError } from 'axios';
import { AlvariaClient } from '../../../app/platforms/alvaria/client.ts';
import { TokenClient } from '../../../app/platforms/alvaria/token-client.ts';
import { FakeAlvaria } from '../../../fakes/alvaria/server.ts';

async function rig(opts: { secret?: string } = {}) {
  const fake = await FakeAlvaria.start();
  fake.autoConfirm = false; // these tests talk to the API only; no callback URL
  const http = axios.create({ timeout: 5000 });
  const tokens = new TokenClient(http, { tokenUrl: fake.tokenUrl, orgId: fake.orgId, clientId: fake.clientId, clientSecret: opts.secret ?? fake.clientSecret }, fake.clock.now);
  const client = new AlvariaClient(http, tokens, { apiUrl: fake.url, orgId: fake.orgId, apiKey: fake.apiKey });
  const openSession = async () => {
    const id = await client.createSession({ workTypeId: '32', contactName: 'Pat', integration: 'Pipedrive' });
    fake.sessions.get(id)!.status = 'active';
    return id;
  };
  return { fake, tokens, client, openSession };
}

test('token request: client credentials in Basic auth, form body with grant_type, scope and realm', async () => {
  const { fake, tokens } = await rig();
  try {
    await tokens.get();
    const req = fake.requests.find((q) => q.path.endsWith('/access_token'))!;
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${fake.clientId}:${fake.clientSecret}`).toString('base64')}`);
    assert.match(String(req.headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(req.body)), { grant_type: 'client_credentials', scope: 'servermessagingapi', realm: fake.orgId });
  } finally {
    await fake.stop();
  }
});

test('50 parallel sends share one token call; the token is refreshed before it expires', async () => {
  const { fake, client, openSession } = await rig();
  try {
    fake.tokenTtlSeconds = 120;
    fake.tokenDelayMs = 50; // a slow token endpoint: every caller arrives while the request is in flight
    const sid = await openSession();
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => client.sendMessage(sid, { text: `m${i}` })));
    assert.equal(new Set(ids).size, 50);
    assert.equal(fake.tokenCalls, 1);

    await client.sendMessage(sid, { text: 'still cached' });
    assert.equal(fake.tokenCalls, 1);
    fake.clock.advance(61_000); // inside the last minute of the token's life
    await client.sendMessage(sid, { text: 'refreshed' });
    assert.equal(fake.tokenCalls, 2);
  } finally {
    await fake.stop();
  }
});

test('a 401 from the API refreshes the token once and retries once; a second 401 is not a loop', async () => {
  const { fake, client, openSession } = await rig();
  try {
    const sid = await openSession();
    assert.equal(fake.tokenCalls, 1);
    fake.revokeTokens();
    await client.sendMessage(sid, { text: 'after revocation' });
    assert.equal(fake.tokenCalls, 2);
    assert.equal(fake.sessions.get(sid)!.messages.length, 1);

    // Tokens that are dead on arrival: one refresh, then the 401 surfaces.
    fake.tokenTtlSeconds = 0;
    fake.revokeTokens();
    const before = fake.requests.filter((q) => q.path.endsWith('/message')).length;
    await assert.rejects(client.sendMessage(sid, { text: 'never' }), (err) => isAxiosError(err) && err.response?.status === 401);
    assert.equal(fake.tokenCalls, 3);
    assert.equal(fake.requests.filter((q) => q.path.endsWith('/message')).length - before, 2);
  } finally {
    await fake.stop();
  }
});

test('the fake enforces x-api-key, orgId and attachment validation', async () => {
  const { fake, tokens, openSession } = await rig();
  try {
    const sid = await openSession();
    const token = await tokens.get();
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${fake.url}/via/v2/organizations/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-api-key': fake.apiKey, 'content-type': 'application/json', 'server-messaging-session-id': sid, ...headers },
        body: JSON.stringify(body),
      });
    assert.equal((await post(`${fake.orgId}/serverMessaging/message`, { text: 'x' }, { 'x-api-key': 'wrong' })).status, 403);
    assert.equal((await post(`other/serverMessaging/message`, { text: 'x' })).status, 403);
    assert.equal((await post(`${fake.orgId}/serverMessaging/message`, { attachment: { type: 'Sticker', url: 'https://x/y' } })).status, 400);
    assert.equal((await post(`${fake.orgId}/serverMessaging/message`, {})).status, 400);
    assert.equal((await post(`${fake.orgId}/serverMessaging/session`, { workTypeId: '32' })).status, 400);
    assert.equal((await post(`${fake.orgId}/serverMessaging/message`, { text: 'x' }, { 'server-messaging-session-id': 'nope' })).status, 404);
  } finally {
    await fake.stop();
  }
});

test('wrong client credentials are refused by the token endpoint', async () => {
  const { fake, tokens } = await rig({ secret: 'wrong' });
  try {
    await assert.rejects(tokens.get(), (err) => isAxiosError(err) && err.response?.status === 401);
  } finally {
    await fake.stop();
  }
});
