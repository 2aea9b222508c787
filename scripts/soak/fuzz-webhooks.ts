import { randomUUID } from 'node:crypto';
import { pick, signAiry, trick, type FuzzTargets, type Generator, type Rng } from './fuzz-cases.ts';
import type { FuzzCase } from './fuzz-send.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const nested = (depth: number) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);

/** An Airy action for a new message: stored if it were accepted, so only ever sent with something else wrong. */
const airyAction = () => ({
  type: 'message.send',
  payload: { message: { id: randomUUID(), source_recipient_id: `fuzz-${randomUUID()}`, content: { text: 'fuzz' }, sent_at: new Date().toISOString() }, conversation: null },
});

/** An agent MESSAGE for the live session: stored if it were accepted. */
const alvariaMessage = (t: FuzzTargets) => ({ sessionId: t.alvariaSessionId, eventId: randomUUID().toUpperCase(), senderId: 'agent', message: { text: 'fuzz' } });

const airyPath = (t: FuzzTargets) => t.channels.find((c) => c.kind === 'airy')!.webhookPath;
const alvariaPath = (t: FuzzTargets) => t.channels.find((c) => c.kind === 'alvaria')!.webhookPath;

const post = (endpoint: string, family: string, path: string, headers: Record<string, string | string[]>, body: Buffer): FuzzCase => ({
  endpoint,
  family,
  expect: 'reject',
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

/** Bodies the Airy action endpoint must refuse even when correctly signed. */
function badAiryBody(r: Rng): Buffer {
  const a = airyAction();
  const m = a.payload.message as Record<string, unknown>;
  const choice = int(r, 0, 19);
  switch (choice) {
    case 18:
      m.id = 'i'.repeat(int(r, 256, 3000));
      return json(a);
    case 19:
      m.source_recipient_id = 'r'.repeat(int(r, 129, 3000));
      return json(a);
    case 0:
      return Buffer.from(JSON.stringify(a).slice(0, int(r, 1, 60)));
    case 1:
      return Buffer.from(pick(r, ['', 'null', '[]', '1', '"str"', '{}', 'true', '\uFEFF{}', '{"type":']));
    case 2:
      return json({ type: 'message.send' });
    case 3:
      return json({ type: 'message.send', payload: { conversation: null } });
    case 4:
      m.id = pick(r, [123, '', null, [], {}, true]);
      return json(a);
    case 5:
      m.sent_at = pick(r, [{}, [], true]);
      return json(a);
    case 6:
      return json({ ...a, type: pick(r, ['message.delete', 'conversation.read', '', 'MESSAGE.SEND ', 'x'.repeat(5000)]) });
    case 7:
      return json({ ...a, type: 42 });
    case 8:
      return json({ ...a, payload: { ...a.payload, conversation: { id: '' } } });
    case 9:
      return json({ ...a, payload: { ...a.payload, conversation: pick(r, ['str', 7, []]) } });
    case 10:
      delete m.source_recipient_id;
      return json({ ...a, payload: { ...a.payload, conversation: { id: randomUUID() } } });
    case 11:
      m.source_recipient_id = pick(r, [123, {}, []]);
      return json(a);
    case 12:
      m.source_recipient_id = '';
      return json(a);
    case 13:
      return json({ ...a, payload: [] });
    case 14:
      m.id = 7;
      m.content = JSON.parse(nested(int(r, 100, 3000)).toString());
      return json(a);
    case 15:
      return nested(int(r, 10_000, 200_000));
    case 16:
      m.id = null;
      m.content = { text: 'x'.repeat(900_000) };
      return json(a);
    default:
      return Buffer.from(JSON.stringify(a).replace(/"/g, pick(r, ["'", '', '\\"'])));
  }
}

/** Bodies the Alvaria callback must refuse even with a valid JWT. */
function badAlvariaBody(r: Rng, t: FuzzTargets): Buffer {
  const m = alvariaMessage(t) as Record<string, unknown>;
  const choice = int(r, 0, 18);
  switch (choice) {
    case 17:
      m.eventId = 'e'.repeat(int(r, 256, 3000));
      return json(m);
    case 18:
      return json({
        sessionId: pick(r, [t.alvariaSessionId, 's'.repeat(int(r, 256, 3000))]),
        eventId: randomUUID(),
        event: 'MESSAGE_STATUS',
        status: 'FAILED',
        messageId: 'm'.repeat(int(r, 256, 3000)),
      });
    case 0:
      return Buffer.from(JSON.stringify(m).slice(0, int(r, 1, 50)));
    case 1:
      return Buffer.from(pick(r, ['', 'null', '[]', '1', '"str"', '{}', 'true']));
    case 2:
      delete m.eventId;
      return json(m);
    case 3:
      m.eventId = pick(r, ['', 123, null, []]);
      return json(m);
    case 4:
      m.message = pick(r, ['text', 5, null, []]);
      return json(m);
    case 5:
      delete m.senderId;
      return json(m);
    case 6:
      m.senderId = pick(r, [123, null, {}]);
      return json(m);
    case 7:
      m.message = { text: pick(r, [123, [], {}]) };
      return json(m);
    case 8:
      m.message = { attachment: pick(r, [{ type: 1 }, { url: 'x' }, 'att', []]) };
      return json(m);
    case 9:
      return json({ sessionId: t.alvariaSessionId, eventId: randomUUID(), event: 'NEW_SESSION', status: pick(r, ['MAYBE', '', 1]) });
    case 10:
      return json({ sessionId: t.alvariaSessionId, eventId: randomUUID(), event: 'SESSION_END', status: pick(r, [undefined, 'OK', 0]) });
    case 11:
      return json({ sessionId: t.alvariaSessionId, eventId: randomUUID(), event: 'AGENT_JOINED', agentAlias: pick(r, [undefined, 5, null]) });
    case 12:
      return json({ sessionId: t.alvariaSessionId, eventId: randomUUID(), event: 'MESSAGE_STATUS', status: 'FAILED', messageId: pick(r, ['', 3, undefined]) });
    case 13:
      m.sessionId = pick(r, ['', undefined, 9, null]);
      return json(m);
    case 14:
      m.event = pick(r, [null, 5, [], {}]);
      return json(m);
    case 15:
      return nested(int(r, 10_000, 200_000));
    default:
      m.eventId = null;
      m.message = { text: 'x'.repeat(1_100_000) };
      return json(m);
  }
}

export const webhookGenerators: Generator[] = [
  {
    name: 'airy/bad-signature',
    weight: 8,
    make(r, t) {
      const body = json(airyAction());
      const good = signAiry(t.airyToken, body);
      const other = signAiry(t.airyToken, json(airyAction()));
      const sig = pick<string | string[] | undefined>(r, [
        undefined,
        '',
        good.toUpperCase(),
        good.slice(0, 63),
        `${good}0`,
        `sha256=${good}`,
        other,
        signAiry('wrong-token', body),
        'z'.repeat(64),
        '0'.repeat(64),
        [good, other],
        [other, good],
        `${good},${good}`,
        'x'.repeat(int(r, 65, 9000)),
      ]);
      return post('airyWebhook', 'airy/bad-signature', airyPath(t), sig === undefined ? {} : { 'x-airy-content-signature': sig }, body);
    },
  },
  {
    name: 'airy/bad-body',
    weight: 8,
    make(r, t) {
      const body = badAiryBody(r);
      return post('airyWebhook', 'airy/bad-body', airyPath(t), { 'x-airy-content-signature': signAiry(t.airyToken, body) }, body);
    },
  },
  {
    name: 'alvaria/bad-auth',
    weight: 8,
    async make(r, t) {
      const valid = await t.alvariaAuth('valid');
      const [head, payload, sig] = valid.replace(/^Bearer /, '').split('.');
      const tampered = `${head}.${payload!.slice(0, -2)}${payload!.slice(-2) === 'AA' ? 'BB' : 'AA'}.${sig}`;
      const auth = pick<string | Promise<string> | undefined>(r, [
        undefined,
        '',
        'Bearer',
        'Bearer ',
        `Bearer ${'x'.repeat(int(r, 1, 12_000))}`,
        'Bearer a.b.c',
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        `Bearer ${tampered}`,
        `${valid} ${valid}`,
        `Bearer ${head}.${payload}.`,
        `Bearer ${head}..${sig}`,
        t.alvariaAuth('expired'),
        t.alvariaAuth('wrong-key'),
        t.alvariaAuth('none'),
        t.alvariaAuth('hs256'),
      ]);
      const value = await auth;
      return post('alvariaWebhook', 'alvaria/bad-auth', alvariaPath(t), value === undefined ? {} : { authorization: value }, json(alvariaMessage(t)));
    },
  },
  {
    name: 'alvaria/bad-body',
    weight: 8,
    async make(r, t) {
      return post('alvariaWebhook', 'alvaria/bad-body', alvariaPath(t), { authorization: await t.alvariaAuth('valid') }, badAlvariaBody(r, t));
    },
  },
  {
    name: 'webhook/path',
    weight: 6,
    async make(r, t) {
      // Correctly signed, well-formed payloads to a path that is not theirs: never stored. (A mere
      // respelling of their own path, `/webhooks//airy/<id>`, is the same route and is accepted.)
      const airy = t.channels.find((c) => c.kind === 'airy')!;
      const alvaria = t.channels.find((c) => c.kind === 'alvaria')!;
      const airyId = airy.webhookPath.split('/').pop()!;
      const alvariaId = alvaria.webhookPath.split('/').pop()!;
      if (r() < 0.5) {
        const body = json(airyAction());
        const path = pick(r, [
          `/webhooks/airy/${alvariaId}`,
          `/webhooks/airy/${trick(r, airyId)}`,
          `/webhooks/alvaria/${airyId}`,
          '/webhooks/airy',
          `/webhooks/airy/${airyId}/x`,
          `/webhooks/${trick(r, 'airy')}/${airyId}`,
          `/webhooks//airy/${alvariaId}`,
          `/webhooks/airy/../airy/${airyId}x`,
        ]);
        return post('airyWebhook', 'webhook/path', path, { 'x-airy-content-signature': signAiry(t.airyToken, body) }, body);
      }
      const path = pick(r, [
        `/webhooks/alvaria/${airyId}`,
        `/webhooks/alvaria/${trick(r, alvariaId)}`,
        `/webhooks/airy/${alvariaId}`,
        '/webhooks/alvaria/',
        `/webhooks/${trick(r, 'alvaria')}/${alvariaId}`,
      ]);
      return post('alvariaWebhook', 'webhook/path', path, { authorization: await t.alvariaAuth('valid') }, json(alvariaMessage(t)));
    },
  },
  {
    name: 'webhook/method',
    weight: 2,
    make(r, t) {
      const [endpoint, path] = pick(r, [
        ['airyWebhook', airyPath(t)],
        ['alvariaWebhook', alvariaPath(t)],
      ] as const);
      return { endpoint, family: 'webhook/method', expect: 'reject', method: pick(r, ['GET', 'PUT', 'PATCH', 'DELETE']), path, headers: {} };
    },
  },
  {
    name: 'huge',
    weight: 3,
    make(r, t) {
      const c = pick(r, t.channels);
      return pick<FuzzCase>(r, [
        {
          endpoint: 'getTemplates',
          family: 'huge/header',
          expect: 'reject',
          method: 'GET',
          path: `/api/channels/${c.providerChannelId}/templates`,
          headers: { authorization: t.basic, 'x-junk': 'j'.repeat(20_000) },
        },
        {
          endpoint: 'getConversations',
          family: 'huge/query',
          expect: 'read',
          method: 'GET',
          path: `/api/channels/${c.providerChannelId}/conversations?junk=${'q'.repeat(12_000)}`,
          headers: { authorization: t.basic },
        },
        post('airyWebhook', 'huge/body', airyPath(t), { 'x-airy-content-signature': '0'.repeat(64) }, Buffer.alloc(1_200_000, 0x7b)),
        post('alvariaWebhook', 'huge/body', alvariaPath(t), {}, Buffer.alloc(1_100_000, 0x20)),
        {
          endpoint: 'getTemplates',
          family: 'huge/many-headers',
          expect: 'read',
          method: 'GET',
          path: `/api/channels/${c.providerChannelId}/templates`,
          headers: Object.fromEntries([['authorization', t.basic], ...Array.from({ length: 150 }, (_, i) => [`x-h${i}`, String(i)])]),
        },
      ]);
    },
  },
  {
    name: 'protocol',
    weight: 3,
    make(r, t) {
      const c = pick(r, t.channels);
      const hook = airyPath(t);
      const raw = pick(r, [
        `GET /api/channels/\u0000/templates HTTP/1.1\r\nHost: x\r\n\r\n`,
        `POST ${hook} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`,
        `POST ${hook} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `POST ${hook} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
        `POST ${hook} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":`,
        `GET /api/channels/${c.providerChannelId}/templates HTTP/1.1\r\nHost: x\r\nAuthorization ${t.basic}\r\n\r\n`,
        `GET /api/channels/${c.providerChannelId}/templates HTTP/1.1\r\nHost: x\r\nX-A: b\u0000c\r\n\r\n`,
        `GARBAGE\r\n\r\n`,
        `GET /api/channels/${c.providerChannelId}/templates HTTP/1.1\rHost: x\r\r\r`,
        `GET /api/channels/${c.providerChannelId}/templates HTTP/1.1\r\nHost: x\r\nHost: y\r\nAuthorization: ${t.basic.slice(0, 10)}\r\n\r\n`,
      ]);
      return { endpoint: 'protocol', family: 'protocol', expect: 'reject', method: 'RAW', path: '', headers: {}, raw: Buffer.from(raw, 'latin1') };
    },
  },
];
