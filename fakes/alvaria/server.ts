import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { FakeClock } from './clock.ts';
import { Deliverer, type Delivery } from './deliveries.ts';
import { CallbackSigner } from './signer.ts';

export interface FakeSession {
  id: string;
  workTypeId: string;
  contactName: string;
  integration: string | undefined;
  createdAt: number;
  /** pending until NEW_SESSION SUCCESS is sent. */
  status: 'pending' | 'active' | 'failed' | 'ended';
  messages: Array<{ messageId: string; text?: string; attachment?: { type: string; url: string } }>;
}

export interface FakeAlvariaEvents {
  token: [number];
  session: [FakeSession];
  message: [FakeSession, FakeSession['messages'][number]];
  deleted: [FakeSession];
  ended: [FakeSession];
}

const ATTACHMENT_TYPES = new Set(['Image', 'File', 'Audio', 'Video']);
const FOUR_HOURS = 4 * 60 * 60 * 1000;

/**
 * A faithful fake of Alvaria Cloud Server Messaging v2
 * (https://via-api-documentation.s3.amazonaws.com/) on
 * 127.0.0.1: the OAuth token endpoint, Create/Delete Session and Send Message with their
 * auth rules and validation, asynchronous signed callbacks with retries, automatic end
 * after 4 h on an injectable clock, chaos switches, and a control API (methods, and
 * POST /_control/sessions/:id/<agent-joined|message|reroute|end>) for agent-side events.
 */
export class FakeAlvaria extends EventEmitter<FakeAlvariaEvents> {
  readonly orgId = 'fakeorg';
  readonly clientId = 'alvaria-client';
  readonly clientSecret = 'alvaria-secret';
  readonly apiKey = 'alvaria-api-key';

  // ── switches ──
  tokenTtlSeconds = 3599;
  tokenDelayMs = 0;
  /** Send NEW_SESSION on its own after newSessionDelayMs; false waits for confirmSession(). */
  autoConfirm = true;
  newSessionDelayMs = 5;
  /** statusMessages of NEW_SESSION FAILED for the next creates. */
  failNextSessions: string[] = [];
  /** A MESSAGE_STATUS FAILED statusMessage for a message, or null to accept it. */
  failMessage: (m: { text?: string; attachment?: { type: string; url: string } }) => string | null = () => null;
  /** Chaos: the next API calls answer these instead (e.g. 429 with Retry-After, 503). */
  apiFailures: Array<{ status: number; retryAfter?: string }> = [];
  /** Status for a send to an unknown, ended or unconfirmed session (the real code is unconfirmed). */
  unknownSessionStatus = 404;
  /** Emit SESSION_END (from SYSTEM) when a session reaches 4 h. */
  autoEnd = true;
  /** Chaos: deliver NEW_SESSION (and wait for its answer) before answering Create Session. */
  confirmBeforeResponse = false;
  /** messageIds to hand out next (to aim a MESSAGE_STATUS at a message before it is sent). */
  nextMessageIds: string[] = [];

  // ── records ──
  tokenCalls = 0;
  readonly requests: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: string }> = [];
  readonly sessions = new Map<string, FakeSession>();
  private readonly tokens = new Map<string, number>();

  private server: Server | undefined;
  url = '';

  private constructor(
    readonly clock: FakeClock,
    readonly signer: CallbackSigner,
    readonly deliveries: Deliverer,
  ) {
    super();
    clock.on('advance', () => this.expireSessions());
  }

  static async start(opts: { clock?: FakeClock } = {}): Promise<FakeAlvaria> {
    const clock = opts.clock ?? new FakeClock();
    const signer = await CallbackSigner.create(clock.now);
    const fake = new FakeAlvaria(clock, signer, new Deliverer(signer, clock.now));
    fake.server = createServer((req, res) => {
      fake.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ code: 500, message: String(err) }));
      });
    });
    await new Promise<void>((resolve) => fake.server!.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server!.address() as AddressInfo).port}`;
    return fake;
  }

  async stop(): Promise<void> {
    await this.deliveries.stop();
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  get tokenUrl(): string {
    return `${this.url}/tokenservice/oauth2/access_token`;
  }

  /** The per-channel config an admin would enter for this fake. */
  channelConfig(extra: Partial<Record<string, unknown>> = {}) {
    return {
      api_url: this.url,
      token_url: this.tokenUrl,
      org_id: this.orgId,
      client_id: this.clientId,
      client_secret: this.clientSecret,
      api_key: this.apiKey,
      work_type_id: '32',
      callback_public_keys: [this.signer.currentPublicPem],
      ...extra,
    };
  }

  /** Every issued token stops working (the next API call answers 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  // ── control API: agent-side events ──

  confirmSession(sessionId: string, status: 'SUCCESS' | 'FAILED' = 'SUCCESS', statusMessage?: string): Delivery {
    const s = this.mustSession(sessionId);
    s.status = status === 'SUCCESS' ? 'active' : 'failed';
    return this.callback({ sessionId, event: 'NEW_SESSION', status, ...(statusMessage ? { statusMessage } : {}) });
  }
  agentJoined(sessionId: string, agentAlias: string): Delivery {
    return this.callback({ sessionId, event: 'AGENT_JOINED', agentAlias });
  }
  agentMessage(sessionId: string, message: { text?: string; attachment?: { type: string; url: string } }, senderId = 'agent'): Delivery {
    return this.callback({ sessionId, senderId, message });
  }
  reroute(sessionId: string, to: { agentAlias?: string; worktypeId?: string }): Delivery {
    return this.callback({ sessionId, event: 'SESSION_REROUTE', ...to });
  }
  /** An end initiated on Alvaria's side; `from: null` sends none (as after our own delete). */
  endSession(sessionId: string, from: string | null = 'SYSTEM'): Delivery {
    const s = this.mustSession(sessionId);
    s.status = 'ended';
    this.emit('ended', s);
    return this.callback({ sessionId, event: 'SESSION_END', status: 'SUCCESS', ...(from ? { from } : {}) });
  }
  messageStatus(sessionId: string, messageId: string, statusMessage: string): Delivery {
    return this.callback({ sessionId, event: 'MESSAGE_STATUS', status: 'FAILED', messageId, statusMessage });
  }
  /** Any payload, signed and delivered like the real ones (eventId added unless given). */
  callback(payload: Record<string, unknown>): Delivery {
    return this.deliveries.send({ ...payload, eventId: (payload.eventId as string | undefined) ?? randomUUID().toUpperCase() });
  }

  /** Sessions at or past 4 h end, with a SESSION_END from SYSTEM. */
  expireSessions(): void {
    for (const s of this.sessions.values()) {
      if ((s.status === 'active' || s.status === 'pending') && this.clock.now() - s.createdAt >= FOUR_HOURS) {
        s.status = 'ended';
        this.emit('ended', s);
        if (this.autoEnd) this.callback({ sessionId: s.id, event: 'SESSION_END', status: 'SUCCESS', from: 'SYSTEM' });
      }
    }
  }

  private mustSession(id: string): FakeSession {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`fake alvaria: no session ${id}`);
    return s;
  }

  // ── HTTP ──

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers });
      res.end(json !== undefined ? JSON.stringify(json) : undefined);
    };
    const error = (status: number, message: string) => send(status, { code: status, message, errors: [{ scope: 'request', reason: message, message }] });

    if (url.pathname === '/tokenservice/oauth2/access_token') return this.token(req, url, body, send, error);
    if (url.pathname.startsWith('/_control/')) return this.control(url, body, send, error);

    const m = /^\/via\/v2\/organizations\/([^/]+)\/serverMessaging\/(session|message)$/.exec(url.pathname);
    if (!m) return error(404, 'not found');
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const exp = token ? this.tokens.get(token) : undefined;
    if (!exp || exp <= this.clock.now()) return send(401);
    if (req.headers['x-api-key'] !== this.apiKey) return error(403, 'invalid x-api-key');
    if (decodeURIComponent(m[1]!) !== this.orgId) return error(403, 'organization mismatch');
    const chaos = this.apiFailures.shift();
    if (chaos) return send(chaos.status, { code: chaos.status, message: 'injected failure' }, chaos.retryAfter ? { 'retry-after': chaos.retryAfter } : {});
    this.expireSessions();

    const route = `${req.method} ${m[2]}`;
    if (route === 'POST session') {
      const b = parseJson(body);
      const workTypeId = b?.workTypeId;
      if ((typeof workTypeId !== 'string' && typeof workTypeId !== 'number') || String(workTypeId) === '') return error(400, 'workTypeId is required');
      if (typeof b?.contactName !== 'string' || !b.contactName.trim()) return error(400, 'contactName is required');
      const s: FakeSession = {
        id: randomUUID(),
        workTypeId: String(workTypeId),
        contactName: b.contactName,
        integration: typeof b.integration === 'string' ? b.integration : undefined,
        createdAt: this.clock.now(),
        status: 'pending',
        messages: [],
      };
      this.sessions.set(s.id, s);
      const failure = this.failNextSessions.shift();
      if (this.confirmBeforeResponse) {
        const d = this.confirmSession(s.id, failure === undefined ? 'SUCCESS' : 'FAILED', failure);
        await new Promise<void>((resolve) => {
          const done = (x: Delivery) => {
            if (x !== d) return;
            this.deliveries.off('delivered', done).off('failed', done);
            resolve();
          };
          this.deliveries.on('delivered', done).on('failed', done);
        });
      }
      send(202, { sessionId: s.id });
      this.emit('session', s);
      if (this.confirmBeforeResponse) return;
      if (this.autoConfirm || failure !== undefined) {
        setTimeout(() => this.confirmSession(s.id, failure === undefined ? 'SUCCESS' : 'FAILED', failure), this.newSessionDelayMs);
      }
      return;
    }
    const sid = req.headers['server-messaging-session-id'];
    if (typeof sid !== 'string' || !sid) return error(400, 'server-messaging-session-id header is required');
    const s = this.sessions.get(sid);
    if (route === 'DELETE session') {
      if (!s || s.status === 'ended') return error(404, 'session not found');
      s.status = 'ended';
      send(202);
      this.emit('deleted', s);
      this.emit('ended', s);
      this.callback({ sessionId: s.id, event: 'SESSION_END', status: 'SUCCESS' });
      return;
    }
    if (route === 'POST message') {
      if (!s || s.status !== 'active') return error(this.unknownSessionStatus, 'Session does not exist');
      const b = parseJson(body);
      const text = b?.text;
      const att = b?.attachment as { type?: unknown; url?: unknown } | undefined;
      if (text !== undefined && typeof text !== 'string') return error(400, 'text must be a string');
      if (att !== undefined && (typeof att !== 'object' || !ATTACHMENT_TYPES.has(String(att?.type)) || typeof att?.url !== 'string' || !att.url)) {
        return error(400, 'attachment needs a type (Image, File, Audio, Video) and a url');
      }
      if (!text && !att) return error(400, 'text or attachment is required');
      const msg = { messageId: this.nextMessageIds.shift() ?? randomUUID().toUpperCase(), ...(text ? { text } : {}), ...(att ? { attachment: { type: String(att.type), url: String(att.url) } } : {}) };
      s.messages.push(msg);
      send(202, { messageId: msg.messageId });
      this.emit('message', s, msg);
      const failure = this.failMessage(msg);
      if (failure) this.messageStatus(s.id, msg.messageId, failure);
      return;
    }
    return error(405, 'method not allowed');
  }

  private async token(req: IncomingMessage, url: URL, body: string, send: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): Promise<void> {
    this.tokenCalls++;
    this.emit('token', this.tokenCalls);
    if (this.tokenDelayMs) await new Promise((r) => setTimeout(r, this.tokenDelayMs));
    if (req.method !== 'POST') return error(405, 'method not allowed');
    const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    if (id !== this.clientId || secret !== this.clientSecret) return error(401, 'invalid client credentials');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return error(400, 'form body expected');
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') return error(400, 'unsupported grant_type');
    if (!(form.get('scope') ?? '').split(' ').includes('servermessagingapi')) return error(400, 'scope servermessagingapi is required');
    if ((form.get('realm') ?? url.searchParams.get('realm')) !== this.orgId) return error(400, 'unknown realm');
    const token = randomUUID();
    this.tokens.set(token, this.clock.now() + this.tokenTtlSeconds * 1000);
    send(200, { access_token: token, scope: 'servermessagingapi', token_type: 'Bearer', expires_in: this.tokenTtlSeconds });
  }

  private control(url: URL, body: string, send: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): void {
    const m = /^\/_control\/sessions\/([^/]+)\/(confirm|agent-joined|message|reroute|end)$/.exec(url.pathname);
    if (!m) return error(404, 'unknown control route');
    const id = decodeURIComponent(m[1]!);
    if (!this.sessions.has(id)) return error(404, 'no such session');
    const b = parseJson(body) ?? {};
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    let d: Delivery;
    switch (m[2]) {
      case 'confirm':
        d = this.confirmSession(id, b.status === 'FAILED' ? 'FAILED' : 'SUCCESS', str(b.statusMessage));
        break;
      case 'agent-joined':
        d = this.agentJoined(id, str(b.agentAlias) ?? 'Agent');
        break;
      case 'message':
        d = this.agentMessage(id, { ...(str(b.text) ? { text: str(b.text) } : {}), ...(b.attachment ? { attachment: b.attachment as { type: string; url: string } } : {}) }, str(b.senderId));
        break;
      case 'reroute':
        d = this.reroute(id, { ...(str(b.agentAlias) ? { agentAlias: str(b.agentAlias) } : {}), ...(str(b.worktypeId) ? { worktypeId: str(b.worktypeId) } : {}) });
        break;
      default:
        d = this.endSession(id, str(b.from) ?? null);
    }
    send(202, { eventId: d.payload.eventId });
  }
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
