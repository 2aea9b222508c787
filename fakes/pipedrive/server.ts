import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLIENT_ID, CLIENT_SECRET } from './credentials.ts';
import { loadSpec } from './contract.ts';
import { channelRoutes } from './channels.ts';
import { bearer, readReq, send, type Req, type Res } from './http.ts';
import { noteRoutes } from './notes.ts';
import { oauthRoutes } from './oauth.ts';
import { apiError, FakeEmitter, newState, type FakeEvents, type FakeNote, type FakeRecord, type FakeState, type FakeUser } from './state.ts';

export { mintUiToken } from './ui-token.ts';
import { hostRoutes, type HostSurface, type SdkRecord } from './host.ts';
export type { HostSurface, SdkRecord } from './host.ts';
export type { FakeState, FakeUser, FakeRecord, FakeNote, ReceivedMessage, FakeChannel, SyncRecord } from './state.ts';

export interface FakePipedriveOptions {
  clientId?: string;
  clientSecret?: string;
  /** The JWT secret set on the app's custom UI extensions (Pipedrive's default: the client secret). */
  uiJwtSecret?: string;
  /** Enforce this redirect_uri (default: whatever authorize was given must come back at exchange). */
  redirectUri?: string;
  /** The user who approves at authorize; more with addUser/setUser. */
  user?: Partial<FakeUser>;
  /** Access token lifetime in seconds (Pipedrive: 3600). Changeable later via fake.settings. */
  expiresIn?: number;
  /** Authorization code lifetime (Pipedrive: 5 minutes). */
  codeTtlMs?: number;
  /** Burst limit per token in a rolling window (Pipedrive Lite: 80 per 2 s). */
  burst?: { limit: number; windowMs: number };
  /** Validate the app's callback answers against the published spec (default true). */
  validate?: boolean;
  /** The company's daily token budget (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting); null = unlimited. Changeable via fake.settings.daily. */
  dailyBudget?: number | null;
  /** Listen address (default 127.0.0.1) and the host name its URLs use (default 127.0.0.1): the demo's DEMO_HOST. */
  listen?: { host: string; publicHost: string };
}

/** Token cost of each API call (x-token-cost, on the same rate-limiting page). */
const TOKEN_COST: Record<string, number> = {
  addChannel: 10,
  receive: 10,
  deleteChannel: 6,
  deleteConversation: 6,
  usersMe: 1,
  getUser: 2,
  getRecord: 1,
  addNote: 10,
  updateNote: 10,
  getNote: 2,
  getNotes: 20,
};

type Op = 'addChannel' | 'receive' | 'deleteChannel' | 'deleteConversation' | 'usersMe' | 'token';

export interface FakePipedrive {
  url: string;
  oauthUrl: string;
  apiUrl: string;
  state: FakeState;
  events: FakeEmitter;
  settings: {
    expiresIn: number;
    codeTtlMs: number;
    burst: { limit: number; windowMs: number };
    /** Daily budget: tokens left (null = unlimited) and the Retry-After (seconds) its 429 carries, if any. */
    daily: { left: number | null; retryAfter: number | null };
  };
  /**
   * The fake web app around the app's custom UI extensions (fakes/pipedrive/host.ts):
   * `url('window'|'panel'|'settings', {user, theme, resource, selectedIds, w, h})` opens a page that
   * frames the app's iframe and answers the SDK; `log` records every SDK message (also the `sdk` event).
   */
  host: { log: SdkRecord[]; url(surface: HostSurface, query?: Record<string, string>): string; expireNextTokens(n: number): void };
  /** Reads the app's /manifest.json so callbacks reach it (installVia in scripts/lib/install.ts does it); the host page frames this app. */
  linkApp(appUrl: string): Promise<void>;
  addUser(user: Partial<FakeUser>): FakeUser;
  /** A deal/person/organization of a company (default: the first user's), readable through GET /api/v2/{deals,persons,organizations}/:id. */
  addRecord(type: FakeRecord['type'], id: number, title: string, companyId?: number): FakeRecord;
  /** Who approves the next authorize. */
  setUser(userId: number): void;
  /** The next authorize answers error=user_denied. */
  denyNext(): void;
  /** The next call of `op` answers this instead (faults for retry tests). */
  failNext(op: Op, res: Res): void;
  /**
   * Awaited after the fake stored a note write and before it answers: a test can kill the app
   * right there (the note exists in Pipedrive, the app never heard back).
   */
  noteHooks: { afterWrite: ((op: 'add' | 'update', note: FakeNote) => Promise<void>) | null };
  /** Notes of one record, oldest first. */
  notesOf(type: FakeRecord['type'], id: number): FakeNote[];
  /**
   * Pipedrive removed the Channels API on 2026-02-01 (its exact answer is unconfirmed): from now on
   * every /channels call answers `status` with a "removed" error. `null` brings it back.
   */
  removeChannelsApi(status?: 404 | 410 | null): void;
  /** Every access token is refused from now on (refresh tokens still work). */
  expireAccessTokens(): void;
  /** Every refresh token lapses (60 days unused): the user must reinstall. */
  lapseRefreshTokens(): void;
  /** Resolves with the next `event` whose payload satisfies `match` (typed; no sleeps in tests). */
  next<E extends keyof FakeEvents>(event: E, match?: (...args: FakeEvents[E]) => boolean, timeoutMs?: number): Promise<FakeEvents[E][0]>;
  /** Pipedrive's uninstall notice: DELETE <app>/auth/pipedrive/callback with basic auth and JSON. */
  sendUninstall(appUrl: string, who: { companyId: number; userId: number }, opts?: { auth?: string }): Promise<Response>;
  close(): Promise<void>;
}

function apiOp(method: string, p: string): string {
  if (p === '/users/me') return 'usersMe';
  if (p.startsWith('/users/')) return 'getUser';
  if (/^\/v2\/(deals|persons|organizations)\//.test(p)) return 'getRecord';
  if (p === '/notes') return method === 'POST' ? 'addNote' : 'getNotes';
  if (p.startsWith('/notes/')) return method === 'PUT' ? 'updateNote' : 'getNote';
  if (p === '/channels') return 'addChannel';
  if (p === '/channels/messages/receive') return 'receive';
  if (method === 'DELETE') return p.includes('/conversations/') ? 'deleteConversation' : 'deleteChannel';
  return 'other';
}

const DEFAULT_USER: FakeUser = {
  id: 1001,
  name: 'Pat Admin',
  email: 'pat@acme.example',
  company_id: 77,
  company_name: 'Acme Ltd',
  company_domain: 'acme',
  is_admin: true,
  icon_url: 'https://example.com/pat.png',
};

/**
 * A real HTTP fake of Pipedrive (OAuth server and API on one port) that enforces the
 * documented contract and calls the app back like Pipedrive does.
 */
export async function startFakePipedrive(opts: FakePipedriveOptions = {}): Promise<FakePipedrive> {
  const st = newState();
  const events = new FakeEmitter();
  const clientId = opts.clientId ?? CLIENT_ID;
  const clientSecret = opts.clientSecret ?? CLIENT_SECRET;
  const settings = {
    expiresIn: opts.expiresIn ?? 3600,
    codeTtlMs: opts.codeTtlMs ?? 5 * 60_000,
    burst: opts.burst ?? { limit: 80, windowMs: 2000 },
    daily: { left: opts.dailyBudget ?? null, retryAfter: null as number | null },
  };
  let base = '';
  let currentUser = 0;
  let deny = false;
  const faults = new Map<Op, Res[]>();
  const windows = new Map<string, number[]>();

  const addUser = (u: Partial<FakeUser>) => {
    const user = { ...DEFAULT_USER, ...u };
    st.users.set(user.id, user);
    return user;
  };
  currentUser = addUser(opts.user ?? {}).id;

  const oauth = oauthRoutes(st, events, {
    clientId,
    clientSecret,
    redirectUri: opts.redirectUri,
    get codeTtlMs() {
      return settings.codeTtlMs;
    },
    get expiresIn() {
      return settings.expiresIn;
    },
    apiDomain: () => base,
    currentUserId: () => currentUser,
    takeDeny: () => {
      const d = deny;
      deny = false;
      return d;
    },
  });
  const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  const channels = channelRoutes(st, events, { basic, validate: opts.validate ?? true });
  let appUrl: string | null = null;
  const host = hostRoutes(st, events, { secret: opts.uiJwtSecret ?? clientSecret, appUrl: () => appUrl });

  const fault = (op: Op): Res | undefined => faults.get(op)?.shift();
  const noteHooks: FakePipedrive['noteHooks'] = { afterWrite: null };
  const notes = noteRoutes(st, events, noteHooks);
  let channelsRemoved: 404 | 410 | null = null;

  /**
   * Bearer auth, the per-token burst limiter (x-ratelimit-* headers on every answer) and the
   * company's daily token budget: once spent, every call is 429 while the burst window still
   * has room, with x-daily-ratelimit-token-remaining: 0 (as the live API is reported to send).
   */
  function authorize(req: Req, op: string): { user: FakeUser; headers: Record<string, string> } | Res {
    const token = bearer(req.headers.authorization);
    const t = token ? st.accessTokens.get(token) : undefined;
    if (!token || !t || t.revoked || t.expiresAt < Date.now()) {
      st.counters.unauthorized++;
      return { status: 401, body: { success: false, error: 'unauthorized access', errorCode: 401, error_info: 'Please check developers.pipedrive.com' } };
    }
    const now = Date.now();
    const { limit, windowMs } = settings.burst;
    const w = (windows.get(token) ?? []).filter((at) => at > now - windowMs);
    const reset = String(Math.max(1, Math.ceil(((w[0] ?? now) + windowMs - now) / 1000)));
    if (w.length >= limit) {
      st.counters.rateLimited++;
      windows.set(token, w);
      return {
        status: 429,
        headers: { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
        body: apiError('Request over limit', 'RATE_LIMIT_EXCEEDED'),
      };
    }
    w.push(now);
    windows.set(token, w);
    const user = st.users.get(t.userId)!;
    const headers: Record<string, string> = { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(limit - w.length), 'x-ratelimit-reset': reset };
    const daily = settings.daily;
    if (daily.left !== null) {
      const cost = TOKEN_COST[op] ?? 1;
      if (daily.left < cost) {
        st.counters.dailyLimited++;
        return {
          status: 429,
          headers: { ...headers, 'x-daily-ratelimit-token-remaining': '0', ...(daily.retryAfter !== null ? { 'retry-after': String(daily.retryAfter) } : {}) },
          body: apiError('Daily token budget exceeded', 'RATE_LIMIT_EXCEEDED'),
        };
      }
      daily.left -= cost;
      headers['x-daily-ratelimit-token-remaining'] = String(daily.left);
    }
    return { user, headers };
  }

  async function route(req: Req): Promise<Res> {
    if (req.path === '/host' || req.path.startsWith('/host/')) {
      const hosted = await host.route(req);
      if (hosted) return hosted;
    }
    if (req.method === 'GET' && req.path === '/oauth/authorize') return oauth.authorize(req);
    if (req.method === 'POST' && req.path === '/oauth/token') return fault('token') ?? oauth.token(req);
    if (req.method === 'POST' && req.path === '/oauth/revoke') return oauth.revoke(req);
    if (!req.path.startsWith('/api/v1/') && !req.path.startsWith('/api/v2/')) return { status: 404, body: apiError('Not found', 'NOT_FOUND') };
    // v1 paths as `/users/me`, v2 paths as `/v2/deals/1`.
    const p = req.path.startsWith('/api/v1/') ? req.path.slice('/api/v1'.length) : req.path.slice('/api'.length);
    const auth = authorize(req, apiOp(req.method, p));
    if (!('user' in auth)) return auth;
    const withHeaders = (r: Res): Res => ({ ...r, headers: { ...auth.headers, ...r.headers } });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && p === '/users/me') {
      return withHeaders(fault('usersMe') ?? { status: 200, body: { success: true, data: { ...auth.user, is_you: true, active_flag: true, locale: 'en_US' } } });
    }
    if (req.method === 'GET' && (m = /^\/users\/(\d+)$/.exec(p))) {
      const u = st.users.get(Number(m[1]));
      // Pipedrive answers only about users of the token's own company.
      if (!u || u.company_id !== auth.user.company_id) return withHeaders({ status: 404, body: apiError('User not found', 'NOT_FOUND') });
      return withHeaders({ status: 200, body: { success: true, data: { id: u.id, name: u.name, email: u.email, is_admin: u.is_admin, active_flag: true, icon_url: u.icon_url } } });
    }
    if (req.method === 'GET' && (m = /^\/v2\/(deals|persons|organizations)\/(\d+)$/.exec(p))) {
      const type = ({ deals: 'deal', persons: 'person', organizations: 'organization' } as const)[m[1] as 'deals'];
      const r = st.records.get(`${type}:${m[2]}`);
      if (!r || r.company_id !== auth.user.company_id) return withHeaders({ status: 404, body: { success: false, error: `${type} not found`, code: 'NOT_FOUND' } });
      return withHeaders({ status: 200, body: { success: true, data: { id: r.id, ...(type === 'deal' ? { title: r.title } : { name: r.title }), add_time: '2026-01-01T00:00:00Z' } } });
    }
    if (req.method === 'POST' && p === '/notes') return withHeaders(await notes.add(req, auth.user));
    if (req.method === 'GET' && p === '/notes') return withHeaders(notes.list(req, auth.user));
    if ((m = /^\/notes\/(\d+)$/.exec(p))) {
      if (req.method === 'PUT') return withHeaders(await notes.update(Number(m[1]), req, auth.user));
      if (req.method === 'GET') return withHeaders(notes.get(Number(m[1]), auth.user));
    }
    if (channelsRemoved !== null && p.startsWith('/channels')) {
      st.counters.channelsRemovedAnswers++;
      return withHeaders({ status: channelsRemoved, body: apiError('The Channels API has been removed (deprecated since 2026-02-01)', 'GONE') });
    }
    if (req.method === 'POST' && p === '/channels') return withHeaders(fault('addChannel') ?? channels.addChannel(req, auth.user));
    if (req.method === 'POST' && p === '/channels/messages/receive') return withHeaders(fault('receive') ?? (await channels.receive(req, auth.user)));
    if (req.method === 'DELETE' && (m = /^\/channels\/([^/]+)\/conversations\/([^/]+)$/.exec(p))) {
      return withHeaders(fault('deleteConversation') ?? channels.deleteConversation(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), auth.user));
    }
    if (req.method === 'DELETE' && (m = /^\/channels\/([^/]+)$/.exec(p))) return withHeaders(fault('deleteChannel') ?? channels.deleteChannel(decodeURIComponent(m[1]!), auth.user));
    return withHeaders({ status: 404, body: apiError(`No route ${req.method} ${p}`, 'NOT_FOUND') });
  }

  // The contract check compiles Pipedrive's spec on first use, which blocks this whole process
  // (the app under test too) for seconds; done here, before any request is in flight, it cannot
  // stall a test midway (kept-alive sockets then time out and reset under the next request).
  await loadSpec();
  const server = createServer((req, res) => {
    readReq(req)
      .then(route)
      .then(
        (r) => send(res, r),
        (err) => send(res, { status: 500, body: apiError(String(err), 'INTERNAL') }),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, opts.listen?.host ?? '127.0.0.1', resolve));
  base = `http://${opts.listen?.publicHost ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    oauthUrl: base,
    apiUrl: base,
    state: st,
    events,
    settings,
    host: {
      log: host.log,
      expireNextTokens: (n) => {
        host.faults.expiredTokens = n;
      },
      url: (surface, query = {}) => `${base}/host/${surface}${Object.keys(query).length ? `?${new URLSearchParams(query)}` : ''}`,
    },
    async linkApp(url) {
      appUrl = url;
      const res = await fetch(`${url}/manifest.json`);
      if (!res.ok) throw new Error(`manifest.json answered ${res.status}`);
      st.manifest = ((await res.json()) as { endpoints: Record<string, string> }).endpoints;
    },
    addUser,
    noteHooks,
    notesOf(type, id) {
      const key = ({ deal: 'deal_id', person: 'person_id', organization: 'org_id' } as const)[type];
      return [...st.notes.values()].filter((n) => n[key] === id).sort((a, b) => a.id - b.id);
    },
    removeChannelsApi(status = 410) {
      channelsRemoved = status;
    },
    addRecord(type, id, title, companyId) {
      const r: FakeRecord = { type, id, title, company_id: companyId ?? st.users.values().next().value!.company_id };
      st.records.set(`${type}:${id}`, r);
      return r;
    },
    next(event, match = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off(event, listener as never);
          reject(new Error(`timed out waiting for the fake's ${String(event)} event`));
        }, timeoutMs);
        const listener = (...args: FakeEvents[typeof event]) => {
          if (!match(...args)) return;
          clearTimeout(timer);
          events.off(event, listener as never);
          resolve(args[0]);
        };
        events.on(event, listener as never);
      });
    },
    setUser(userId) {
      if (!st.users.has(userId)) throw new Error(`unknown fake user ${userId}`);
      currentUser = userId;
    },
    denyNext() {
      deny = true;
    },
    failNext(op, res) {
      faults.set(op, [...(faults.get(op) ?? []), res]);
    },
    expireAccessTokens() {
      for (const t of st.accessTokens.values()) t.revoked = true;
    },
    lapseRefreshTokens() {
      for (const r of st.refreshTokens.values()) r.lapsed = true;
    },
    async sendUninstall(appUrl, who, o = {}) {
      // Pipedrive revokes the user's tokens and removes their channels, then tells the app.
      for (const t of st.accessTokens.values()) if (t.userId === who.userId) t.revoked = true;
      for (const r of st.refreshTokens.values()) if (r.userId === who.userId) r.lapsed = true;
      for (const [id, ch] of st.channels) if (ch.pd_user_id === who.userId && ch.pd_company_id === who.companyId) st.channels.delete(id);
      return fetch(`${appUrl}/auth/pipedrive/callback`, {
        method: 'DELETE',
        headers: { authorization: o.auth ?? basic, 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: clientId, company_id: who.companyId, user_id: who.userId, timestamp: new Date().toISOString() }),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
