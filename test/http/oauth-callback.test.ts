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
    assert.equal(
      expired.headers.getSetCookie().some((c) => c.startsWith('pdb_session=') && !c.startsWith('pdb_session=;')),
      false,
    );
  } finally {
    await close();
  }
});

test('a successful callback sets a signed HttpOnly SameSite=Strict session and lands on a page that navigates to /admin', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    await fake.linkApp(bridge.url);
    const a = await begin(bridge.url);
    const res = await fetch((await fetch(a.authorize, { redirect: 'manual' })).headers.get('location')!, { redirect: 'manual', headers: { cookie: a.cookie } });
    // Not a redirect: browsers withhold a Strict cookie on a redirect chain that began on Pipedrive's site.
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<meta http-equiv="refresh" content="0; url=\/admin">/);
    const session = res.headers.getSetCookie().find((c) => c.startsWith('pdb_session='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    assert.match(session, /Path=\//);
    assert.doesNotMatch(session, /Secure/);
    const value = session.split(';')[0]!;
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: value } })).status, 200);
    // a tampered session is no session
    const tampered = value.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: tampered } })).status, 401);
    // A link from another site (Pipedrive) arrives without the Strict cookie: the sign-in page
    // reloads itself once, a same-site navigation that carries it; a same-site visit does not loop.
    const crossSite = await fetch(`${bridge.url}/admin`, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossSite.status, 401);
    assert.match(await crossSite.text(), /<meta http-equiv="refresh" content="0">/);
    const sameSite = await fetch(`${bridge.url}/admin`, { headers: { 'sec-fetch-site': 'same-origin' } });
    assert.doesNotMatch(await sameSite.text(), /http-equiv="refresh"/);
  } finally {
    await close();
  }
});

test('when APP_URL is https cookies are Secure, the session is __Host-pdb_session and the state __Secure-pdb_oauth_state', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ env: { APP_URL: 'https://bridge.example.com' } });
  try {
    await fake.linkApp(bridge.url);
    const start = await fetch(`${bridge.url}/auth/pipedrive`, { redirect: 'manual' });
    const c = start.headers.getSetCookie().find((v) => v.startsWith('__Secure-pdb_oauth_state='))!;
    assert.match(c, /; Secure/);
    assert.equal(new URL(start.headers.get('location')!).searchParams.get('redirect_uri'), 'https://bridge.example.com/auth/pipedrive/callback');
    // Pipedrive sends the browser to https://bridge.example.com/…; this test's "proxy" is the bridge's own port.
    const back = new URL((await fetch(start.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!);
    const res = await fetch(`${bridge.url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: c.split(';')[0]! } });
    assert.equal(res.status, 200);
    const session = res.headers.getSetCookie().find((v) => v.startsWith('__Host-pdb_session='))!;
    assert.ok(session, 'the session cookie has the __Host- prefix');
    assert.match(session, /; Path=\/;/);
    assert.match(session, /; Secure/);
    assert.match(session, /SameSite=Strict/);
    assert.doesNotMatch(session, /Domain=/i);
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: session.split(';')[0]! } })).status, 200);
    // the unprefixed name is not honoured over https (a sibling subdomain could have set it)
    const unprefixed = session.split(';')[0]!.replace('__Host-', '');
    assert.equal((await fetch(`${bridge.url}/admin`, { headers: { cookie: unprefixed } })).status, 401);
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
