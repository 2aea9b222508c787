import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBridgeWithPipedrive } from '../support/install.ts';

/** Starts the install in the "browser": returns the state cookie and the fake's redirect back to us. */
async function begin(bridgeUrl: string) {
  const start = await fetch(`${bridgeUrl}/auth/pipedrive`, { redirect: 'manual' });
  assert.equal(start.status, 302);
  const setCookie = start.headers.getSetCookie().find((c) => c.startsWith('pdb_oauth_state='))!;
  const authorize = new URL(start.headers.get('location')!);
  return { setCookie, cookie: setCookie.split(';')[0]!, authorize };
}

test('the install redirect carries a random state bound to a short-lived, HttpOnly cookie', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    const a = await begin(bridge.url);
    const b = await begin(bridge.url);
    assert.equal(a.authorize.origin, fake.oauthUrl);
    assert.equal(a.authorize.pathname, '/oauth/authorize');
    assert.equal(a.authorize.searchParams.get('client_id'), 'test-client-id');
    assert.equal(a.authorize.searchParams.get('redirect_uri'), `${bridge.config.appUrl}/auth/pipedrive/callback`);
    const state = a.authorize.searchParams.get('state')!;
    assert.ok(state.length >= 24);
    assert.notEqual(state, b.authorize.searchParams.get('state'));
    assert.match(a.setCookie, /HttpOnly/);
    assert.match(a.setCookie, /SameSite=Lax/);
    assert.match(a.setCookie, /Max-Age=600/);
    assert.doesNotMatch(a.setCookie, /Secure/);
    const [bound, expiry, signature] = a.cookie.slice('pdb_oauth_state='.length).split('.');
    assert.equal(bound, state, 'the cookie binds this state to this browser');
    assert.ok(Number(expiry) <= Date.now() / 1000 + 600);
    assert.ok(signature && signature.length >= 40, 'and is signed');
  } finally {
    await close();
  }
});

test('callback: missing or wrong state is a 400 page and no code is exchanged', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    await fake.linkApp(bridge.url);
    const a = await begin(bridge.url);
    const back = new URL((await fetch(a.authorize, { redirect: 'manual' })).headers.get('location')!);
    const code = back.searchParams.get('code')!;

    const noCookie = await fetch(back, { redirect: 'manual' });
    assert.equal(noCookie.status, 400);
    assert.match(noCookie.headers.get('content-type')!, /text\/html/);
    assert.match(await noCookie.text(), /state/);

    const other = await begin(bridge.url); // a different browser's state cookie
    const wrong = await fetch(back, { redirect: 'manual', headers: { cookie: other.cookie } });
    assert.equal(wrong.status, 400);

    const noState = new URL(back);
    noState.searchParams.delete('state');
    assert.equal((await fetch(noState, { redirect: 'manual', headers: { cookie: a.cookie } })).status, 400);

    const forged = await fetch(back, { redirect: 'manual', headers: { cookie: `pdb_oauth_state=${back.searchParams.get('state')}.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAA` } });
    assert.equal(forged.status, 400);

    assert.equal(fake.state.counters.exchanges, 0);
    assert.equal(fake.state.codes.get(code)!.used, false);
  } finally {
    await close();
  }
});

test('callback: user_denied gets a friendly page; an expired code gets a 400 page', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    await fake.linkApp(bridge.url);
    fake.denyNext();
    const a = await begin(bridge.url);
    const denied = await fetch((await fetch(a.authorize, { redirect: 'manual' })).headers.get('location')!, { redirect: 'manual', headers: { cookie: a.cookie } });
    assert.equal(denied.status, 200);
    const html = await denied.text();
    assert.match(html, /Installation cancelled/);
    assert.match(html, /href="\/auth\/pipedrive"/);

    fake.settings.codeTtlMs = -1;
    const b = await begin(bridge.url);
    const expired = await fetch((await fetch(b.authorize, { redirect: 'manual' })).headers.get('location')!, { redirect: 'manual', headers: { cookie: b.cookie } });
    assert.equal(expired.status, 400);
    assert.match(await expired.text(), /authorization_code has expired/);
    assert.equal(expired.headers.getSetCookie().some((c) => c.startsWith('pdb_session=') && !c.startsWith('pdb_session=;')), false);
  } finally {
    await close();
  }
});

test('a successful callback sets a signed HttpOnly SameSite=Lax session and redirects to /admin', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    await fake.linkApp(bridge.url);
    const a = await begin(bridge.url);
    const res = await fetch((await fetch(a.authorize, { redirect: 'manual' })).headers.get('location')!, { redirect: 'manual', headers: { cookie: a.cookie } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/admin');
    const session = res.headers.getSetCookie().find((c) => c.startsWith('pdb_session='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Lax/);
    assert.doesNotMatch(session, /Secure/);
    const value = session.split(';')[0]!;
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: value } })).status, 200);
    // a tampered session is no session
    const tampered = value.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: tampered } })).status, 401);
  } finally {
    await close();
  }
});

test('cookies are Secure when APP_URL is https', async () => {
  const { bridge, close } = await startBridgeWithPipedrive({ env: { APP_URL: 'https://bridge.example.com' } });
  try {
    const start = await fetch(`${bridge.url}/auth/pipedrive`, { redirect: 'manual' });
    const c = start.headers.getSetCookie().find((v) => v.startsWith('pdb_oauth_state='))!;
    assert.match(c, /; Secure/);
    assert.equal(new URL(start.headers.get('location')!).searchParams.get('redirect_uri'), 'https://bridge.example.com/auth/pipedrive/callback');
  } finally {
    await close();
  }
});

test('uninstall: wrong or missing basic auth → 401; a body for another app → 400; an unknown user is a no-op', async () => {
  const { bridge, close } = await startBridgeWithPipedrive();
  try {
    const url = `${bridge.url}/auth/pipedrive/callback`;
    const body = JSON.stringify({ client_id: 'test-client-id', company_id: 1, user_id: 2, timestamp: '2026-11-21T00:00:00Z' });
    const none = await fetch(url, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body });
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { error: 'Invalid or missing basic credentials' });
    const basic = { authorization: `Basic ${Buffer.from('test-client-id:test-client-secret').toString('base64')}`, 'content-type': 'application/json' };
    const foreign = await fetch(url, { method: 'DELETE', headers: basic, body: body.replace('test-client-id', 'other-app') });
    assert.equal(foreign.status, 400);
    const unknown = await fetch(url, { method: 'DELETE', headers: basic, body });
    assert.equal(unknown.status, 200);
    assert.deepEqual(await unknown.json(), { success: true, uninstalled: false });
    const empty = await fetch(url, { method: 'DELETE', headers: basic });
    assert.equal(empty.status, 400);
  } finally {
    await close();
  }
});
