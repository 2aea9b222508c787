import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadConfig, ConfigError } from '../../../app/ground/config.ts';
import { mintUiToken } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_SECRET } from '../../support/harness.ts';
import { installVia, startBridgeWithPipedrive } from '../../support/install.ts';

/**
 * The workspace pages over HTTP: who may frame them (Pipedrive and the configured extra origins,
 * nothing else; every other page keeps refusing framing), what a bad token or an uninstalled
 * company sees, and the SDK served from the installed package.
 */
const frameAncestors = (res: Response) => /frame-ancestors ([^;]+)/.exec(res.headers.get('content-security-policy') ?? '')?.[1]?.trim();

test('workspace pages: framing allowed for Pipedrive (+UI_FRAME_ANCESTORS) on /ui pages only; bad token 401; install page; SDK from the package', async () => {
  const { bridge, fake, close } = await startBridgeWithPipedrive();
  try {
    // Before anyone of the company installed: a valid token shows how to install, still frameable.
    const user = fake.state.users.values().next().value!;
    fake.addRecord('deal', 5, 'Big deal');
    const early = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET });
    const install = await fetch(`${bridge.url}/ui/inbox?userId=${user.id}&companyId=${user.company_id}&token=${early}&id=rt-1`);
    assert.equal(install.status, 200);
    const installHtml = await install.text();
    assert.match(installHtml, /id="install" href="[^"]+\/auth\/pipedrive"/);
    assert.match(installHtml, /\/ui\/assets\/sdk\.js/, 'the install page initializes the SDK too, or Pipedrive hides it');
    assert.equal(frameAncestors(install), `'self' https://*.pipedrive.com ${fake.url}`);

    await installVia(bridge, fake);
    const token = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET });
    const q = `userId=${user.id}&companyId=${user.company_id}&token=${token}&id=rt-1&theme=dark`;
    for (const path of [`/ui/inbox?${q}`, `/ui/panel?${q}&resource=deal&view=details&selectedIds=5`, `/ui/settings?${q}`]) {
      const res = await fetch(`${bridge.url}${path}`);
      const body = await res.text();
      assert.equal(res.status, 200, `${path}: ${body.slice(0, 300)}`);
      assert.equal(res.headers.get('x-frame-options'), null, `${path} must not send X-Frame-Options`);
      assert.equal(frameAncestors(res), `'self' https://*.pipedrive.com ${fake.url}`, path);
      assert.match(res.headers.get('content-security-policy')!, /script-src 'self'/);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', 'the URL carries the token');
      assert.match(body, /<html lang="en" data-theme="dark"/);
      assert.match(body, /src="\/ui\/assets\/sdk\.js"/);
      assert.doesNotMatch(body, new RegExp(token.slice(-20)), 'the page never echoes the token');
    }
    const panel = await (await fetch(`${bridge.url}/ui/panel?${q}&resource=deal&selectedIds=5`)).text();
    assert.match(panel, /data-record-type="deal" data-record-id="5"/);
    const settings = await (await fetch(`${bridge.url}/ui/settings?${q}`)).text();
    assert.match(settings, /id="surface"/);
    assert.match(settings, /\/ui\/assets\/settings\.js/);
    assert.doesNotMatch(settings, /id="uninstall"/, "uninstalling happens in Pipedrive's Marketplace, not in its settings iframe");

    // A colleague who is not a Pipedrive admin sees the settings read-only (the API refuses their writes too).
    const colleague = fake.addUser({ id: 1002, name: 'Sam Sales', email: 'sam@acme.example', is_admin: false });
    const samToken = await mintUiToken({ userId: colleague.id, companyId: colleague.company_id, secret: CLIENT_SECRET });
    const readOnly = await fetch(`${bridge.url}/ui/settings?userId=${colleague.id}&companyId=${colleague.company_id}&token=${samToken}&id=rt-2`);
    const readOnlyHtml = await readOnly.text();
    assert.equal(readOnly.status, 200, readOnlyHtml.slice(0, 300));
    assert.match(readOnlyHtml, /id="read-only"[^>]*>You are signed in as Sam Sales/);
    assert.doesNotMatch(readOnlyHtml, /id="connect"/);
    assert.match(settings, /id="connect"/, 'the admin gets the connect form');

    // Not a deal/person/organization panel: 400, still a page Pipedrive can show.
    const odd = await fetch(`${bridge.url}/ui/panel?${q}&resource=lead&selectedIds=abc`);
    assert.equal(odd.status, 400);
    assert.equal(odd.headers.get('x-frame-options'), null);

    // Bad tokens: 401 page, nothing of the company in it.
    const forged = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: 'wrong' });
    const otherCompany = await mintUiToken({ userId: user.id, companyId: user.company_id + 1, secret: CLIENT_SECRET });
    for (const [name, path] of [
      ['missing', `/ui/inbox?userId=${user.id}&companyId=${user.company_id}&id=rt-1`],
      ['forged', `/ui/inbox?userId=${user.id}&companyId=${user.company_id}&token=${forged}&id=rt-1`],
      ['query ids differ', `/ui/settings?userId=${user.id}&companyId=${user.company_id}&token=${otherCompany}&id=rt-1`],
    ]) {
      const res = await fetch(`${bridge.url}${path}`);
      const body = await res.text();
      assert.equal(res.status, 401, name);
      assert.match(body, /Open this from Pipedrive/, name);
      assert.doesNotMatch(body, new RegExp(user.company_name), name);
    }

    // Everything else keeps refusing framing.
    for (const path of ['/admin', '/auth/pipedrive/callback?error=access_denied', '/ui/nothing-here']) {
      const res = await fetch(`${bridge.url}${path}`, { redirect: 'manual' });
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(frameAncestors(res), "'none'", path);
    }

    // The SDK is the installed package's browser build, byte for byte.
    const sdk = await fetch(`${bridge.url}/ui/assets/sdk.js`);
    assert.match(sdk.headers.get('content-type')!, /javascript/);
    const pkg = readFileSync(createRequire(import.meta.url).resolve('@pipedrive/app-extensions-sdk/dist/index.umd.js'), 'utf8');
    assert.equal(await sdk.text(), pkg);
    assert.equal((await fetch(`${bridge.url}/ui/assets/nope.js`)).status, 404);
  } finally {
    await close();
  }
});

test('UI_FRAME_ANCESTORS accepts bare origins only (it lands in a CSP header)', () => {
  assert.deepEqual(loadConfig({ UI_FRAME_ANCESTORS: 'http://127.0.0.1:4000, https://host.example' }).ui.frameAncestors, ['http://127.0.0.1:4000', 'https://host.example']);
  assert.deepEqual(loadConfig({}).ui.frameAncestors, []);
  for (const bad of ["https://a.example; script-src 'unsafe-inline'", 'https://a.example/path', '*', 'javascript:alert(1)']) {
    assert.throws(
      () => loadConfig({ UI_FRAME_ANCESTORS: bad }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'UI_FRAME_ANCESTORS',
      bad,
    );
  }
});
