import { createHmac, randomUUID } from 'node:crypto';
import type { Expect, FuzzCase } from './fuzz-send.ts';

/** What the fuzzer aims at: real ids, so a malformed request is one mistake away from a valid one. */
export interface FuzzTargets {
  basic: string;
  channels: Array<{ kind: 'airy' | 'alvaria'; providerChannelId: string; webhookPath: string; conversationId: string; messageId: string; senderId: string }>;
  airyToken: string;
  alvariaSessionId: string;
  /** Real cursors the app handed out (conversation pages and message pages), to be replayed where they do not belong. */
  cursors: string[];
  /** An Alvaria callback Authorization header: valid, or one of the signer's negative modes. */
  alvariaAuth(mode: 'valid' | 'expired' | 'wrong-key' | 'none' | 'hs256'): Promise<string>;
}

export type Rng = () => number;

/** mulberry32: a small seeded generator, so a failing run can be replayed with SOAK_SEED. */
export function seeded(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const garbage = (r: Rng, n = int(r, 1, 40)) => Array.from({ length: n }, () => String.fromCharCode(int(r, 0x21, 0x7e))).join('');
const enc = encodeURIComponent;

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** A path segment that never decodes to `real` (so it cannot address the real record). */
export function trick(r: Rng, real: string): string {
  const tricks = [
    '..',
    '.',
    '%2e%2e',
    '%2E%2E%2F',
    '.%2e',
    `..%2f${real}`,
    `..%2F..%2F${real}`,
    `${real}%2f..`,
    `${real}%2F`,
    `${real}%00`,
    `%00${real}`,
    `${real}%0a`,
    `${real}%0d%0aX-Injected:%201`,
    `${real}%20`,
    `%20${real}`,
    `${real}'`,
    `${real}%27%20OR%201=1--`,
    `${real}%22`,
    'x'.repeat(int(r, 256, 3000)),
    '%',
    '%ZZ',
    `${real}%`,
    '%E0%A4%A',
    '%C0%AF',
    '%F0%9F%92%A9',
    '%ED%A0%80',
    real.toUpperCase(),
    real.slice(0, -1),
    `${real}x`,
    '*',
    '%2A',
    '$(id)',
    '{{7*7}}',
    '%3Cscript%3E',
    '%5C..%5C',
    '..\\',
    'null',
    'undefined',
    '0',
    '-1',
    '%5B%5D',
    '%252e%252e',
    enc(garbage(r)),
  ];
  for (;;) {
    const t = pick(r, tricks);
    if (safeDecode(t) !== real) return t;
  }
}

const BAD_AUTH = (r: Rng, basic: string): Record<string, string> => {
  const user = basic.slice(6);
  return pick<Record<string, string>>(r, [
    {},
    { authorization: '' },
    { authorization: `Basic ${Buffer.from('test-client-id:wrong').toString('base64')}` },
    { authorization: `Basic ${Buffer.from(`test-client-id:${garbage(r)}`).toString('base64')}` },
    { authorization: `Basic ${Buffer.from('test-client-id').toString('base64')}` },
    { authorization: `Basic ${Buffer.from(':').toString('base64')}` },
    { authorization: 'Basic !!!notbase64' },
    { authorization: `Bearer ${user}` },
    { authorization: basic.toLowerCase() },
    { authorization: `Basic ${user}${user}` },
    { authorization: `Basic ${'A'.repeat(int(r, 1025, 6000))}` },
    { authorization: `Basic ${Buffer.from(`test-client-id:test-client-secret${garbage(r, 1)}`).toString('base64')}` },
    { authorization: `Digest ${garbage(r)}` },
  ]);
};

type Channel = FuzzTargets['channels'][number];

/** The seven manifest endpoints (getMessageById on both routes) as [name, method, path]. */
function manifest(c: Channel, seg: Partial<Record<'pc' | 'cid' | 'mid' | 'sid', string>> = {}): Array<[string, string, string]> {
  const pc = seg.pc ?? c.providerChannelId;
  const cid = seg.cid ?? c.conversationId;
  const mid = seg.mid ?? c.messageId;
  const sid = seg.sid ?? c.senderId;
  return [
    ['getConversations', 'GET', `/api/channels/${pc}/conversations`],
    ['getConversationById', 'GET', `/api/channels/${pc}/conversations/${cid}`],
    ['postMessage', 'POST', `/api/channels/${pc}/messages`],
    ['getMessageById', 'GET', `/api/channels/${pc}/conversations/${cid}/messages/${mid}`],
    ['getMessageById', 'GET', `/api/channels/${pc}/messages/${mid}`],
    ['getSenderById', 'GET', `/api/channels/${pc}/senders/${sid}`],
    ['getTemplates', 'GET', `/api/channels/${pc}/templates`],
    ['deleteChannelById', 'DELETE', `/api/channels/${pc}`],
  ];
}

/** A multipart body; `cut` drops that many bytes from the end (a truncated upload). */
export function multipart(parts: Array<{ name?: string; filename?: string; type?: string; head?: string; value: string | Buffer }>, opts: { boundary?: string; cut?: number; noClose?: boolean } = {}) {
  const boundary = opts.boundary ?? `----soak${randomUUID().replaceAll('-', '')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp =
      p.head ??
      `Content-Disposition: form-data${p.name !== undefined ? `; name="${p.name}"` : ''}${p.filename !== undefined ? `; filename="${p.filename}"` : ''}${p.type ? `\r\nContent-Type: ${p.type}` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\n${disp}\r\n\r\n`), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  if (!opts.noClose) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  let body = Buffer.concat(chunks);
  if (opts.cut) body = body.subarray(0, Math.max(0, body.length - opts.cut));
  return { boundary, body, type: `multipart/form-data; boundary=${boundary}` };
}

/** A well-formed postMessage body for a real conversation: only ever sent with something else wrong. */
const validForm = (c: Channel) =>
  multipart([
    { name: 'conversationId', value: c.conversationId },
    { name: 'message', value: `fuzz ${randomUUID()}` },
  ]);

/** postMessage bodies that must be refused with valid credentials on the real channel. */
function badPostBody(r: Rng, c: Channel): { family: string; headers: Record<string, string>; body: Buffer } {
  const real = c.conversationId;
  const make = (family: string, m: { type: string; body: Buffer }) => ({ family, headers: { 'content-type': m.type }, body: m.body });
  const choice = int(r, 0, 16);
  switch (choice) {
    case 0:
      return { family: 'post/json-body', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ conversationId: real, message: 'hi' })) };
    case 1:
      return { family: 'post/urlencoded', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(`conversationId=${enc(real)}&message=hi`) };
    case 2:
      return { family: 'post/no-boundary', headers: { 'content-type': 'multipart/form-data' }, body: validForm(c).body };
    case 3: {
      const m = validForm(c);
      return { family: 'post/wrong-boundary', headers: { 'content-type': `multipart/form-data; boundary=${garbage(r, 20).replace(/[;"\\]/g, 'x')}` }, body: m.body };
    }
    case 4:
      // The fields are complete, then a file part is cut off before its boundary: the whole upload is refused.
      return make(
        'post/truncated',
        multipart(
          [
            { name: 'conversationId', value: real },
            { name: 'message', value: 'hi' },
            { name: 'file', filename: 'a.txt', type: 'text/plain', value: garbage(r, 500) },
          ],
          { cut: int(r, 5, 300) },
        ),
      );
    case 5:
      return make(
        'post/unknown-conversation',
        multipart([
          { name: 'conversationId', value: `${real}${garbage(r, 3)}` },
          { name: 'message', value: 'hi' },
        ]),
      );
    case 6:
      return make('post/no-conversation', multipart([{ name: 'message', value: 'hi' }]));
    case 7:
      return make(
        'post/empty-message',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'message', value: pick(r, ['', ' ', '\r\n\t ']) },
        ]),
      );
    case 8:
      return make(
        'post/message-too-long',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'message', value: 'm'.repeat(int(r, 65_537, 200_000)) },
        ]),
      );
    case 9:
      return make(
        'post/field-over-limit',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'message', value: 'm'.repeat(300 * 1024) },
        ]),
      );
    case 10:
      return make(
        'post/too-many-fields',
        multipart([{ name: 'conversationId', value: real }, { name: 'message', value: 'hi' }, ...Array.from({ length: 60 }, (_, i) => ({ name: `f${i}`, value: 'x' }))]),
      );
    case 11:
      return make(
        'post/too-many-files',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'message', value: 'hi' },
          ...Array.from({ length: 12 }, (_, i) => ({ name: 'files', filename: `f${i}.txt`, type: 'text/plain', value: 'x' })),
        ]),
      );
    case 12:
      return make(
        'post/nul-in-message',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'message', value: `hi\u0000there` },
        ]),
      );
    case 13:
      return make(
        'post/conversation-twice',
        multipart([
          { name: 'conversationId', value: real },
          { name: 'conversationId', value: real },
          { name: 'message', value: 'hi' },
        ]),
      );
    case 15:
      return make(
        'post/long-conversation-id',
        multipart([
          { name: 'conversationId', value: `${real}${'c'.repeat(int(r, 256, 2000))}` },
          { name: 'message', value: 'hi' },
        ]),
      );
    case 14:
      return make(
        'post/conversation-as-file',
        multipart([
          { name: 'conversationId', filename: 'c.txt', type: 'text/plain', value: real },
          { name: 'message', value: '' },
        ]),
      );
    default:
      return make(
        'post/garbage-part-headers',
        multipart(
          [
            { head: garbage(r, 60), value: 'x' },
            { name: 'conversationId', value: `${garbage(r, 8)}` },
            { name: 'message', value: 'hi' },
          ],
          { noClose: r() < 0.5 },
        ),
      );
  }
}

export interface Generator {
  name: string;
  weight: number;
  make(r: Rng, t: FuzzTargets): FuzzCase | Promise<FuzzCase>;
}

const reqCase = (endpoint: string, family: string, expect: Expect, method: string, path: string, headers: Record<string, string | string[]>, body?: Buffer): FuzzCase => ({
  endpoint,
  family,
  expect,
  method,
  path,
  headers,
  ...(body ? { body } : {}),
});

/** A realistic body for each endpoint (the request is wrong elsewhere). */
function bodyFor(endpoint: string, c: Channel): { headers: Record<string, string>; body?: Buffer } {
  if (endpoint !== 'postMessage') return { headers: {} };
  const m = validForm(c);
  return { headers: { 'content-type': m.type }, body: m.body };
}

export const manifestGenerators: Generator[] = [
  {
    name: 'manifest/bad-auth',
    weight: 14,
    make(r, t) {
      const c = pick(r, t.channels);
      const [endpoint, method, path] = pick(r, manifest(c));
      const b = bodyFor(endpoint, c);
      return reqCase(endpoint, 'manifest/bad-auth', 'reject', method, path, { ...BAD_AUTH(r, t.basic), ...b.headers }, b.body);
    },
  },
  {
    name: 'manifest/path-trick',
    weight: 14,
    make(r, t) {
      const c = pick(r, t.channels);
      const seg = pick(r, ['pc', 'cid', 'mid', 'sid'] as const);
      const real = { pc: c.providerChannelId, cid: c.conversationId, mid: c.messageId, sid: c.senderId }[seg];
      const plain = manifest(c);
      // Only the routes that use the tricked segment.
      const routes = manifest(c, { [seg]: trick(r, real) }).filter(([, , p], i) => p !== plain[i]![2]);
      const [endpoint, method, path] = pick(r, routes);
      const b = bodyFor(endpoint, c);
      const expect: Expect = method === 'GET' ? 'read' : method === 'DELETE' ? 'noop' : 'reject';
      return reqCase(endpoint, `manifest/path-trick`, expect, method, path, { authorization: t.basic, ...b.headers }, b.body);
    },
  },
  {
    name: 'manifest/whole-path-trick',
    weight: 6,
    make(r, t) {
      // Without valid credentials every one of these must be refused, whatever the router makes of the path.
      const c = pick(r, t.channels);
      const [endpoint, method, path] = pick(r, manifest(c));
      const tail = path.slice('/api/'.length);
      const variants = [
        `/API/${tail}`,
        `/Api/${tail.replace('channels', 'Channels')}`,
        `//api/${tail}`,
        `/api//${tail}`,
        `/./api/${tail}`,
        `/x/../api/${tail}`,
        `/%61pi/${tail}`,
        `/api%2F${tail.replaceAll('/', '%2F')}`,
        `/api/${tail}/`,
        `/api/${tail};x=1`,
        `/api/${tail}?%00`,
        `/api/${tail}#x`,
        `/webhooks/../api/${tail}`,
        `/healthz/../api/${tail}`,
        `/api/${tail}/.`,
        `/api/${tail}/..`,
        `http://127.0.0.1/api/${tail}`,
        `/api/${tail}?authorization=${enc(t.basic)}`,
      ];
      const b = bodyFor(endpoint, c);
      return reqCase(endpoint, 'manifest/whole-path-trick', 'reject', method, pick(r, variants), { ...BAD_AUTH(r, t.basic), ...b.headers }, b.body);
    },
  },
  {
    name: 'manifest/query',
    weight: 10,
    make(r, t) {
      const c = pick(r, t.channels);
      const values = ['abc', '-1', '0', '1.5', '1e3', '', '%205%20', '%00', 'NaN', '0x10', '99999999999', '1000000000', '-0', '+3', enc('３'), enc(garbage(r)), 'x'.repeat(int(r, 100, 6000))];
      const after = pick(r, [
        'garbage',
        'a.b',
        'a.b.c',
        '.',
        '..',
        Buffer.from(JSON.stringify({ k: 'c', ch: 'x', s: 1, cp: 1, q: 1, p: 1 })).toString('base64url') + '.AAAA',
        'x'.repeat(600),
        enc(garbage(r)),
        '%ZZ',
        '%00',
      ]);
      const q = pick(r, [
        `conversations_limit=${pick(r, values)}`,
        `messages_limit=${pick(r, values)}`,
        `after=${after}`,
        `messages_limit=1&messages_limit=2`,
        `after=${after}&after=${after}`,
        `conversations_limit[]=1`,
        `messages_limit=${pick(r, values)}&after=${after}`,
      ]);
      const path = r() < 0.5 ? `/api/channels/${c.providerChannelId}/conversations?${q}` : `/api/channels/${c.providerChannelId}/conversations/${c.conversationId}?${q}`;
      return reqCase(path.includes('/conversations/') ? 'getConversationById' : 'getConversations', 'manifest/query', 'read', 'GET', path, { authorization: t.basic });
    },
  },
  {
    name: 'manifest/foreign-cursor',
    weight: 4,
    make(r, t) {
      // A genuine, correctly signed cursor used on another channel, conversation or page kind.
      const c = pick(r, t.channels);
      const after = enc(pick(r, t.cursors));
      const path = pick(r, [
        `/api/channels/${c.providerChannelId}/conversations?after=${after}`,
        `/api/channels/${c.providerChannelId}/conversations/${c.conversationId}?after=${after}`,
        `/api/channels/${c.providerChannelId}/conversations?after=${after}&conversations_limit=100&messages_limit=100`,
      ]);
      return reqCase(path.includes('/conversations/') ? 'getConversationById' : 'getConversations', 'manifest/foreign-cursor', 'read', 'GET', path, { authorization: t.basic });
    },
  },
  {
    name: 'manifest/post-body',
    weight: 14,
    make(r, t) {
      const c = pick(r, t.channels);
      const b = badPostBody(r, c);
      return reqCase('postMessage', b.family, 'reject', 'POST', `/api/channels/${c.providerChannelId}/messages`, { authorization: t.basic, ...b.headers }, b.body);
    },
  },
  {
    name: 'manifest/method',
    weight: 4,
    make(r, t) {
      const c = pick(r, t.channels);
      const [endpoint, , path] = pick(r, manifest(c));
      const method = pick(r, ['PUT', 'PATCH', 'TRACE', 'PROPFIND', ...(endpoint === 'deleteChannelById' ? [] : ['DELETE'])]);
      const finalPath = method === 'DELETE' && path === `/api/channels/${c.providerChannelId}` ? `${path}/x` : path;
      return reqCase(endpoint, 'manifest/method', 'reject', method, finalPath, { authorization: t.basic });
    },
  },
];

export const signAiry = (token: string, body: Buffer) => createHmac('sha256', token).update(body).digest('hex');

/**
 * Spellings a router might take for the canonical `/<family>/<rest>`: letter case, doubled
 * slashes, dot segments, percent-encoded letters, a trailing slash. None may slip past the
 * family's guard (basic auth, session, signature).
 */
export function spellings(path: string): string[] {
  const [, family = '', rest = ''] = /^\/([^/]+)\/(.*)$/.exec(path) ?? [];
  const first = rest.split('/')[0] ?? '';
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
  return [
    `/${family.toUpperCase()}/${rest}`,
    `/${family[0]!.toUpperCase()}${family.slice(1)}/${rest.replace(first, first.toUpperCase())}`,
    `//${family}/${rest}`,
    `/${family}//${rest}`,
    `/${family}/${rest.replace('/', '//')}`,
    `/./${family}/${rest}`,
    `/x/../${family}/${rest}`,
    `/${hex(family[0]!)}${family.slice(1)}/${rest}`,
    `/${hex(family[0]!).toLowerCase()}${family.slice(1)}/${rest}`,
    `/${family}/${hex(first[0] ?? 'a')}${rest.slice(1)}`,
    `/${family}/${rest}/`,
    `/${family.toUpperCase()}//${rest}/`,
  ];
}

/** A channel's own id, from its webhook path (`/webhooks/<platform>/<channel id>`). */
const channelIdOf = (c: Channel) => c.webhookPath.split('/').pop()!;

/** Every route family under a spelling of its path, each without its credential: all must be refused (4xx). */
export const spellingGenerators: Generator[] = [
  {
    name: 'spelling/admin-api',
    weight: 6,
    make(r, t) {
      const c = pick(r, t.channels);
      const [method, path, body] = pick<[string, string, string?]>(r, [
        ['GET', '/admin/api/channels'],
        ['POST', '/admin/api/channels', JSON.stringify({ provider: c.kind, name: 'spelled', config: {} })],
        ['DELETE', `/admin/api/channels/${channelIdOf(c)}`],
        ['GET', '/admin/api/dead-letters'],
        ['POST', '/admin/api/dead-letters/replay', '{}'],
        ['POST', '/admin/api/dead-letters/1/replay', '{}'],
        ['DELETE', '/admin/api/installation'],
      ]);
      // No session, or a cookie that is not one of ours.
      const cookie = pick<Record<string, string>>(r, [{}, { cookie: `pdb_session=${garbage(r, 30).replace(/[;,\s]/g, 'x')}` }, { cookie: 'pdb_session=inst_x~0.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA' }]);
      return reqCase(
        'adminApi',
        'spelling/admin-api',
        'reject',
        method,
        pick(r, spellings(path)),
        { 'content-type': 'application/json', ...cookie },
        body === undefined ? undefined : Buffer.from(body),
      );
    },
  },
  {
    name: 'spelling/manifest',
    weight: 4,
    make(r, t) {
      const c = pick(r, t.channels);
      const [endpoint, method, path] = pick(r, manifest(c));
      const b = bodyFor(endpoint, c);
      return reqCase(endpoint, 'spelling/manifest', 'reject', method, pick(r, spellings(path)), { ...BAD_AUTH(r, t.basic), ...b.headers }, b.body);
    },
  },
  {
    name: 'spelling/webhooks',
    weight: 4,
    make(r, t) {
      const c = pick(r, t.channels);
      const body = Buffer.from(JSON.stringify({ spelled: randomUUID() }));
      const endpoint = c.kind === 'airy' ? 'airyWebhook' : 'alvariaWebhook';
      // Unsigned (or signed with nothing of the channel's): refused whichever handler the spelling reaches.
      const headers = pick<Record<string, string>>(r, [{}, { 'x-airy-content-signature': '0'.repeat(64) }, { authorization: 'Bearer a.b.c' }]);
      return reqCase(endpoint, 'spelling/webhooks', 'reject', 'POST', pick(r, spellings(c.webhookPath)), { 'content-type': 'application/json', ...headers }, body);
    },
  },
  {
    name: 'spelling/files',
    weight: 3,
    make(r, t) {
      const c = pick(r, t.channels);
      const exp = pick(r, ['9999999999', '1', String(Math.floor(Date.now() / 1000) + 600)]);
      const path = `${pick(r, spellings(`/files/att_${c.messageId}`))}?exp=${exp}&sig=${pick(r, ['', 'A'.repeat(43), garbage(r, 43).replace(/[&#%+\s]/g, 'x')])}`;
      return reqCase('files', 'spelling/files', 'reject', pick(r, ['GET', 'HEAD']), path, {});
    },
  },
  {
    name: 'spelling/uninstall',
    weight: 2,
    make(r, t) {
      // Pipedrive's uninstall notice without Pipedrive's credentials, under any spelling: never an uninstall.
      const body = Buffer.from(JSON.stringify({ client_id: 'test-client-id', company_id: 1, user_id: 1 }));
      return reqCase('uninstall', 'spelling/uninstall', 'reject', 'DELETE', pick(r, spellings('/auth/pipedrive/callback')), { 'content-type': 'application/json', ...BAD_AUTH(r, t.basic) }, body);
    },
  },
];
