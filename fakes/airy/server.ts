import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callAction, actionBody, type ActionCall } from './actions.ts';
import { authenticate, mintSourceToken, mintUserToken, type Caller } from './auth.ts';
import { AiryModel, type FakeMessage } from './model.ts';
import { routes, HttpReply, type Route } from './routes.ts';
import { StompBroker } from './stomp-broker.ts';

export interface FakeAiryOptions {
  /** `security.systemToken`. */
  systemToken?: string;
  /** `security.jwtSecret` (base64; the signing key is its decoded bytes, like Airy). */
  jwtSecret?: string;
  actionTimeoutMs?: number;
}

export interface FakeAiryEvents {
  request: [{ path: string; status: number; caller: Caller['kind'] }];
  action: [ActionCall];
  settled: [FakeMessage];
}

/**
 * A faithful fake of Airy Core's Source API, action calls and WebSocket, as read from Airy's
 * source (https://github.com/airyhq/airy: sources-api, the auth filter, uuid, websocket),
 * as a real HTTP server on 127.0.0.1. Immediately consistent (real Airy is eventually
 * consistent). Control knobs for tests: `failNext` (e.g. 503 while "Kafka is down"),
 * `redeliverActions` (at-least-once), `userReply`/`userReplyNew` (an Airy user answering via
 * /messages.send), `read` (an Airy user opening the conversation), `broker.dropAll()`.
 */
export class FakeAiry extends EventEmitter<FakeAiryEvents> {
  readonly model = new AiryModel();
  readonly broker = new StompBroker();
  readonly systemToken: string;
  readonly jwtKey: Uint8Array;
  readonly actionTimeoutMs: number;
  url = '';
  /** Simulates Airy's at-least-once delivery: every action is POSTed twice. */
  redeliverActions = false;
  readonly actionCalls: ActionCall[] = [];
  readonly requests: Array<{ path: string; status: number; caller: Caller['kind'] }> = [];
  private failures: Array<{ path: string; status: number }> = [];
  private stalls: Array<{ path: string; ms: number }> = [];
  private readonly server: Server;

  static async start(opts: FakeAiryOptions = {}): Promise<FakeAiry> {
    const fake = new FakeAiry(opts);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  private constructor(opts: FakeAiryOptions) {
    super();
    this.systemToken = opts.systemToken ?? 'user-generated-api-token';
    this.jwtKey = Buffer.from(opts.jwtSecret ?? randomBytes(64).toString('base64'), 'base64');
    this.actionTimeoutMs = opts.actionTimeoutMs ?? 10_000;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', async (req, socket, head) => {
      const caller = await authenticate(req, this.systemToken, this.jwtKey);
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws.communication' || caller.kind === 'none') {
        socket.end(`HTTP/1.1 ${caller.kind === 'none' ? '403 Forbidden' : '404 Not Found'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      this.broker.upgrade(req, socket, head);
    });
  }

  /** The next `times` requests to `path` (after auth) answer `status` without doing anything. */
  failNext(path: string, times: number, status = 503): void {
    for (let i = 0; i < times; i++) this.failures.push({ path, status });
  }

  /** The next `times` requests to `path` are held for `ms` before being handled (a slow or hung Airy). */
  stallNext(path: string, times: number, ms: number): void {
    for (let i = 0; i < times; i++) this.stalls.push({ path, ms });
  }

  userToken(userId = 'airy-user-1'): Promise<string> {
    return mintUserToken(userId, this.jwtKey);
  }

  mintSourceToken(sourceId: string): Promise<string> {
    return mintSourceToken(sourceId, this.jwtKey);
  }

  /** POST to the fake itself over HTTP, as any client would. */
  async post(path: string, body: unknown, token: string | null = this.systemToken): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** An Airy user replies in an existing conversation; resolves once the action settled. */
  async userReply(conversationId: string, content: unknown): Promise<FakeMessage> {
    const r = await this.post('/messages.send', { conversation_id: conversationId, message: content }, await this.userToken());
    if (r.status !== 200) throw new Error(`/messages.send answered ${r.status}`);
    return this.settled(r.body.id);
  }

  /** An Airy user writes to `recipient` on a channel, opening a new conversation. */
  async userReplyNew(channelId: string, recipient: string, content: unknown): Promise<FakeMessage> {
    const r = await this.post('/messages.send', { channel_id: channelId, source_recipient_id: recipient, message: content }, await this.userToken());
    if (r.status !== 200 && r.status !== 202) throw new Error(`/messages.send answered ${r.status}`);
    return this.settled(r.body.id);
  }

  /** An Airy user reads the conversation (unread_count → 0). */
  async read(conversationId: string): Promise<void> {
    const r = await this.post('/conversations.read', { conversation_id: conversationId }, await this.userToken());
    if (r.status !== 202) throw new Error(`/conversations.read answered ${r.status}`);
  }

  /** Resolves when the message has left PENDING (DELIVERED or FAILED). */
  settled(messageId: string): Promise<FakeMessage> {
    const m = this.model.messages.get(messageId);
    if (m && m.deliveryState !== 'PENDING') return Promise.resolve(m);
    return new Promise((resolve) => {
      const on = (s: FakeMessage) => {
        if (s.id !== messageId) return;
        this.off('settled', on);
        resolve(s);
      };
      this.on('settled', on);
    });
  }

  broadcastMetadata(subject: 'conversation' | 'message' | 'channel', identifier: string, values: Record<string, unknown>): void {
    const metadata = this.model.setMetadata(`${subject}:${identifier}`, values);
    this.broker.broadcast({ type: 'metadata.updated', timestamp: Date.now(), payload: { subject, identifier, metadata } });
  }

  broadcastMessage(m: FakeMessage): void {
    this.broker.broadcast(this.model.messageEvent(m));
  }

  broadcastChannel(id: string): void {
    const c = this.model.channels.get(id)!;
    this.broker.broadcast({ type: 'channel.updated', timestamp: null, payload: { id: c.id, source: c.source, source_channel_id: c.sourceChannelId, connected: c.connected, metadata: null } });
  }

  /** Creates a PENDING outbound message and calls the source's action endpoint (asynchronously, like the stream). */
  dispatch(m: FakeMessage, priorConversation: boolean): void {
    const source = this.model.sources.get(m.source);
    // No action endpoint: the message stays PENDING forever.
    if (!source?.actionEndpoint) return;
    const endpoint = source.actionEndpoint;
    const body = actionBody(this.model, m, priorConversation);
    setImmediate(async () => {
      let last: ActionCall | undefined;
      for (let i = 0; i < (this.redeliverActions ? 2 : 1); i++) {
        last = await callAction(endpoint, source.token, m, body, this.actionTimeoutMs);
        this.actionCalls.push(last);
        this.emit('action', last);
      }
      const o = last!.outcome;
      m.deliveryState = o.state;
      m.updatedAt = Date.now();
      this.broadcastMetadata('message', m.id, o.state === 'DELIVERED' ? { source: { id: o.sourceMessageId } } : { error: o.error });
      this.broadcastMessage(m);
      this.emit('settled', m);
    });
  }

  newOutbound(fields: Omit<FakeMessage, 'id' | 'deliveryState' | 'updatedAt' | 'fromContact' | 'sentAt'>): FakeMessage {
    return { id: randomUUID(), deliveryState: 'PENDING', updatedAt: null, fromContact: false, sentAt: Date.now(), ...fields };
  }

  async close(): Promise<void> {
    this.broker.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const caller = await authenticate(req, this.systemToken, this.jwtKey);
    const stall = this.stalls.findIndex((x) => x.path === path);
    if (stall >= 0) {
      const { ms } = this.stalls.splice(stall, 1)[0]!;
      await new Promise((r) => setTimeout(r, ms));
      // The client gave up meanwhile: like a Kafka write that never happened.
      if (res.destroyed || req.socket.destroyed) return;
    }
    let reply: HttpReply;
    try {
      reply = await this.route(path, req, raw, caller);
    } catch (err) {
      reply = err instanceof HttpReply ? err : new HttpReply(500, { message: String(err) });
    }
    this.requests.push({ path, status: reply.status, caller: caller.kind });
    this.emit('request', { path, status: reply.status, caller: caller.kind });
    if (reply.body === undefined) {
      res.writeHead(reply.status).end();
    } else {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    }
  }

  private async route(path: string, req: IncomingMessage, raw: string, caller: Caller): Promise<HttpReply> {
    const route: Route | undefined = routes[path];
    if (!route) return new HttpReply(404, undefined);
    if (req.method !== 'POST') return new HttpReply(405, undefined);
    // Failed auth is an empty 403 from the filter, before any controller.
    if (caller.kind === 'none') return new HttpReply(403, undefined);
    if (raw && !String(req.headers['content-type'] ?? '').includes('application/json')) return new HttpReply(415, undefined);
    let body: unknown = {};
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return new HttpReply(400, undefined);
      }
    }
    const i = this.failures.findIndex((f) => f.path === path);
    if (i >= 0) {
      const f = this.failures.splice(i, 1)[0]!;
      return new HttpReply(f.status, { message: 'simulated failure' });
    }
    return route(this, caller, body);
  }
}
