import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET } from '../../support/harness.ts';
import { installVia, startBridgeWithPipedrive } from '../../support/install.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const key = (s: string) => new TextEncoder().encode(s);

async function me(url: string, token: string | null, query = '') {
  const res = await fetch(`${url}/ui/api/me${query}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
}

test('iframe tokens: the bad-token table answers 401 and stores nothing; a good token gets /ui/api/me', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    const { user } = await installVia(bridge, fake);
    const good = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET });
    const ok = await me(bridge.url, good, `?userId=${user.id}&companyId=${user.company_id}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.user, { id: user.id, name: user.name, email: user.email, isAdmin: true });
    assert.deepEqual(ok.body.company, { id: user.company_id, name: user.company_name });
    assert.equal(ok.body.surface, 'both');
    assert.deepEqual(ok.body.channels, []);

    const { privateKey } = await generateKeyPair('RS256');
    const claims = { userId: user.id, companyId: user.company_id };
    const bad: Array<[string, string | null, string?]> = [
      ['no token', null],
      ['not a JWT', 'abc.def'],
      ['forged signature', await mintUiToken({ ...claims, secret: 'not-the-secret' })],
      [
        'tampered payload',
        (() => {
          const [h, , s] = good.split('.');
          return `${h}.${b64({ ...claims, userId: 1, exp: now() + 300 })}.${s}`;
        })(),
      ],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iat: now(), exp: now() + 300 })}.`],
      [
        'alg HS384',
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS384' })
          .setIssuedAt()
          .setExpirationTime(now() + 300)
          .sign(key(CLIENT_SECRET)),
      ],
      [
        'alg RS256',
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256' })
          .setIssuedAt()
          .setExpirationTime(now() + 300)
          .sign(privateKey),
      ],
      ['expired beyond the clock tolerance', await mintUiToken({ ...claims, secret: CLIENT_SECRET, ttl: -120 })],
      ['no exp', await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(key(CLIENT_SECRET))],
      [
        'no userId',
        await new SignJWT({ companyId: user.company_id })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(now() + 300)
          .sign(key(CLIENT_SECRET)),
      ],
      [
        'no companyId',
        await new SignJWT({ userId: user.id })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(now() + 300)
          .sign(key(CLIENT_SECRET)),
      ],
      ['userId as a string', await mintUiToken({ ...claims, secret: CLIENT_SECRET, claims: { userId: String(user.id) } })],
      ['userId zero', await mintUiToken({ ...claims, userId: 0, secret: CLIENT_SECRET })],
      ['companyId fractional', await mintUiToken({ ...claims, companyId: 1.5, secret: CLIENT_SECRET })],
      ['userId in the URL differs', good, `?userId=${user.id + 1}`],
      ['companyId in the URL differs', good, `?companyId=${user.company_id + 1}`],
      ['companyId given twice in the URL', good, `?companyId=${user.company_id}&companyId=${user.company_id}`],
    ];
    for (const [name, token, query] of bad) {
      const res = await me(bridge.url, token, query);
      assert.equal(res.status, 401, name);
      assert.equal(res.body.error.code, 'UNAUTHORIZED', name);
    }
    // Basic auth or a cookie is not a bearer token.
    assert.equal((await fetch(`${bridge.url}/ui/api/me`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).status, 401);
    // Nothing was learned from the refused calls.
    assert.equal((await bridge.db('workspace_users').count({ n: '*' }).first())!.n as number, 0);
    // Within the clock tolerance an expired token still passes.
    assert.equal((await me(bridge.url, await mintUiToken({ ...claims, secret: CLIENT_SECRET, ttl: -5 }))).status, 200);
  } finally {
    await close();
  }
});

test('iframe tokens: a company without an installation is told to install; a colleague is resolved through Pipedrive', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    const stranger = await mintUiToken({ userId: 5, companyId: 999, secret: CLIENT_SECRET });
    const notInstalled = await me(bridge.url, stranger);
    assert.equal(notInstalled.status, 401);
    assert.equal(notInstalled.body.error.reason, 'not_installed');
    assert.match(notInstalled.body.error.install_url, /\/auth\/pipedrive$/);

    const { user } = await installVia(bridge, fake);
    const colleague = fake.addUser({ id: 1002, name: 'Cory Colleague', email: 'cory@acme.example', is_admin: false, company_id: user.company_id });
    const outsider = fake.addUser({ id: 3003, name: 'Olga Outsider', email: 'olga@other.example', company_id: 88, company_name: 'Other' });
    const res = await me(bridge.url, await mintUiToken({ userId: colleague.id, companyId: user.company_id, secret: CLIENT_SECRET }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.user, { id: colleague.id, name: 'Cory Colleague', email: 'cory@acme.example', isAdmin: false });
    // A user Pipedrive does not know in this company (another company's user claiming this one).
    const spoof = await me(bridge.url, await mintUiToken({ userId: outsider.id, companyId: user.company_id, secret: CLIENT_SECRET }));
    assert.equal(spoof.status, 401);
    assert.equal(spoof.body.error.reason, 'unknown_user');
    const stored = await bridge.db('workspace_users').select('pd_user_id');
    assert.deepEqual(
      stored.map((r) => Number(r.pd_user_id)),
      [colleague.id],
    );
  } finally {
    await close();
  }
});

test('iframe tokens: PIPEDRIVE_UI_JWT_SECRET verifies, and extensions without their own secret still use the client secret', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive({ env: { PIPEDRIVE_UI_JWT_SECRET: 'extension-jwt-secret' } });
  try {
    const { user } = await installVia(bridge, fake);
    const claims = { userId: user.id, companyId: user.company_id };
    assert.equal((await me(bridge.url, await mintUiToken({ ...claims, secret: 'extension-jwt-secret' }))).status, 200);
    assert.equal((await me(bridge.url, await mintUiToken({ ...claims, secret: CLIENT_SECRET }))).status, 200);
    assert.equal((await me(bridge.url, await mintUiToken({ ...claims, secret: 'another-secret' }))).status, 401);
  } finally {
    await close();
  }
});
