import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { listChannels } from '../../app/store/channels.ts';
import { BASIC } from '../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../support/install.ts';
import { sign, TestPlatform } from '../support/test-provider.ts';

/** An HTTP request whose path goes out exactly as written (fetch would resolve `..` and more). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; json: any }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, agent: false, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(data);
          } catch {}
          resolve({ status: res.statusCode!, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Every way of writing a path that a router might treat as the canonical one: letter case,
 * doubled slashes, dot segments, percent-encoded letters and a trailing slash.
 * `/<family>/<rest>` → spellings of it (the canonical one first).
 */
function spellings(path: string): string[] {
  const [, family = '', rest = ''] = /^\/([^/]+)\/(.*)$/.exec(path)!;
  const first = rest.split('/')[0]!;
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  return [
    path,
    `/${family.toUpperCase()}/${rest}`,
    `/${family[0]!.toUpperCase()}${family.slice(1)}/${rest.replace(first, first.toUpperCase())}`,
    `//${family}/${rest}`,
    `/${family}//${rest}`,
    `/${family}/${rest.replace('/', '//')}`,
    `/./${family}/${rest}`,
    `/x/../${family}/${rest}`,
    `/${hex(family[0]!)}${family.slice(1)}/${rest}`,
    `/${family}/${hex(first[0]!).toUpperCase()}${rest.slice(1)}`,
    `/${family}/${rest}/`,
  ];
}

test('path spelling: one guard per route family, whatever the case, slashes, dot segments or percent-encoding', { timeout: 120_000 }, async () => {
  const platform = new TestPlatform();
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: platform.factory() } });
  try {
    const { cookie } = await installVia(bridge, fake);
    const created = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Spelled', config: { secret: 'spell-secret' } });
    assert.equal(created.status, 201);
    const { channel } = (await created.json()) as any;

    // Admin API, no session: 401 in the admin shape before any handler runs, for every spelling.
    const adminRoutes: Array<[string, string, string?]> = [
      ['GET', '/admin/api/channels'],
      ['POST', '/admin/api/channels', JSON.stringify({ provider: 'test', name: 'Sneaky', config: { secret: 'x' } })],
      ['DELETE', `/admin/api/channels/${channel.id}`],
      ['DELETE', '/admin/api/channels/ch_unknown'],
      ['GET', '/admin/api/dead-letters'],
      ['POST', '/admin/api/dead-letters/replay', '{}'],
      ['DELETE', '/admin/api/installation'],
      ['GET', '/admin/api/no-such-route'],
    ];
    for (const [method, path, body] of adminRoutes) {
      for (const p of spellings(path)) {
        const res = await raw(bridge.url, method, p, { 'content-type': 'application/json' }, body);
        assert.equal(res.status, 401, `${method} ${p} without a session`);
        assert.equal(res.json?.error?.code, 'UNAUTHORIZED', `${method} ${p}: admin error shape`);
        assert.equal(res.headers['cache-control'], 'no-store', `${method} ${p}`);
      }
    }
    assert.equal((await listChannels(bridge.db, {})).length, 1, 'nothing was created or deleted');

    // With a session: the CSRF content-type check and the JSON parser apply to every spelling too.
    for (const p of spellings('/admin/api/channels')) {
      const form = await raw(bridge.url, 'POST', p, { cookie, 'content-type': 'application/x-www-form-urlencoded' }, 'provider=test&name=x&config=1');
      assert.equal(form.status, 415, `POST ${p} as a form`);
      const broken = await raw(bridge.url, 'POST', p, { cookie, 'content-type': 'application/json' }, '{"provider":');
      assert.equal(broken.status, 400, `POST ${p} with broken JSON`);
      const list = await raw(bridge.url, 'GET', p, { cookie });
      assert.equal(list.status, 200, `GET ${p}`);
      assert.deepEqual(
        list.json.channels.map((c: any) => c.id),
        [channel.id],
      );
    }
    for (const p of spellings('/admin/api/channels/ch_unknown')) {
      const res = await raw(bridge.url, 'DELETE', p, { cookie, 'content-type': 'application/json' });
      assert.equal(res.status, 404, `DELETE ${p}`);
      assert.equal(res.json?.error?.code, 'NOT_FOUND');
    }
    const spelledDelete = await raw(bridge.url, 'DELETE', `/ADMIN//api/channels/${channel.id}/`, { cookie, 'content-type': 'application/json' });
    assert.equal(spelledDelete.status, 200, 'an odd spelling with a session is the same route, not a crash');
    assert.equal((await listChannels(bridge.db, {})).length, 0);

    // Manifest API: no basic auth → 401 on every spelling; with it, the route answers in Pipedrive's shape.
    for (const p of spellings('/api/channels/pc_unknown/conversations')) {
      const none = await raw(bridge.url, 'GET', p);
      assert.equal(none.status, 401, `GET ${p} without basic auth`);
      assert.equal(none.headers['www-authenticate'], 'Basic realm="pipedrive"');
      const authed = await raw(bridge.url, 'GET', p, { authorization: BASIC });
      assert.equal(authed.status, 404, `GET ${p} with basic auth`);
      assert.equal(authed.json?.success, false);
    }

    // Webhooks: every spelling reaches the adapter's signature check ({error} shape), none is let through.
    const live = (await (await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Hooked', config: { secret: 'hook-secret' } })).json()) as any;
    const hookBody = JSON.stringify({ eventId: 'spell', conversationId: 'c', text: 'x' });
    for (const p of spellings(`/webhooks/test/${live.channel.id}`)) {
      const forged = await raw(bridge.url, 'POST', p, { 'x-test-signature': sign('wrong', hookBody) }, hookBody);
      // (a provider name spelled in capitals is simply an unknown provider: 404)
      assert.ok(forged.status === 401 || (forged.status === 404 && /TEST/.test(p)), `POST ${p} forged: ${forged.status}`);
      assert.equal(typeof forged.json?.error, 'string', `POST ${p}: webhook error shape`);
    }

    // Files: a forged signature is refused on every spelling.
    for (const p of spellings('/files/att_unknown')) {
      const res = await raw(bridge.url, 'GET', `${p}?exp=9999999999&sig=${'A'.repeat(43)}`);
      assert.equal(res.status, 403, `GET ${p}`);
    }
  } finally {
    await close();
  }
});
