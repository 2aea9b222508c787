import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import { createDb, type Db } from '../../app/store/db.ts';
import { FakeAiry } from '../../fakes/airy/index.ts';
import { FakeAlvaria } from '../../fakes/alvaria/server.ts';
import { startFakePipedrive, type FakePipedrive, type FakeUser } from '../../fakes/pipedrive/server.ts';
import { BASIC, CLIENT_ID, CLIENT_SECRET } from '../../fakes/pipedrive/credentials.ts';
import { freePort } from '../lib/net.ts';
import { adminCall, installVia } from '../lib/install.ts';
import { AppProcess } from './app-process.ts';
import { ChaosProxy } from './chaos-proxy.ts';
import { waitUntil } from './util.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface WorldOptions {
  dialect: Dialect;
  pgUrl: string;
  /** Pipedrive users who install the app (the admin included): each gets a standing conversation per channel. */
  users: number;
  /** App processes on the one database (more than one needs PostgreSQL). */
  processes?: number;
  /** Connect an Alvaria channel and open a session per user (scenarios that send Alvaria callbacks). */
  alvaria?: boolean;
  /** The fake Pipedrive's burst limit (default: Pipedrive Lite, 80 per 2 s). */
  burst?: { limit: number; windowMs: number };
  /** Extra env for the app processes. */
  env?: Record<string, string>;
}

export interface ChannelInfo {
  id: string;
  providerChannelId: string;
  webhookPath: string;
}

/**
 * Everything a soak scenario runs against, all on loopback: the fakes of Pipedrive, Airy and
 * Alvaria, the chaos proxy in front of Pipedrive's API, and one or more real app processes
 * on a fresh database (a temp sqlite file or a throwaway PostgreSQL schema). Set up through
 * the real flows: OAuth install of every user, channels connected on the admin API (Pipedrive
 * addChannel and its initial sync), Alvaria sessions opened by a Pipedrive message.
 */
export class World {
  readonly apps: AppProcess[] = [];
  airyChannel!: ChannelInfo & { sourceToken: string };
  alvariaChannel: ChannelInfo | undefined;
  /** Alvaria: standing conversation id → its live session id. */
  readonly sessions = new Map<string, string>();
  users: FakeUser[] = [];
  db!: Db;
  private dropSchema: (() => Promise<void>) | undefined;

  private constructor(
    readonly opts: WorldOptions,
    readonly dir: string,
    readonly pipedrive: FakePipedrive,
    readonly proxy: ChaosProxy,
    readonly airy: FakeAiry,
    readonly alvaria: FakeAlvaria,
  ) {}

  get app(): AppProcess {
    return this.apps[0]!;
  }

  static async start(opts: WorldOptions): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), 'pdb-soak-'));
    const pipedrive = await startFakePipedrive(opts.burst ? { burst: opts.burst } : {});
    const proxy = await ChaosProxy.start(pipedrive.apiUrl);
    const airy = await FakeAiry.start();
    const alvaria = await FakeAlvaria.start();
    // Alvaria keeps retrying a callback that was not answered 200 (4 h in real life): long enough to outlast a restart.
    alvaria.deliveries.maxAttempts = 10_000;
    alvaria.deliveries.retryCapMs = 250;
    // One waiter per conversation sender.
    alvaria.deliveries.setMaxListeners(0);
    const w = new World(opts, dir, pipedrive, proxy, airy, alvaria);
    try {
      await w.setup();
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  private async setup(): Promise<void> {
    const { opts } = this;
    const dbEnv = this.databaseEnv();
    const secret = randomBytes(32).toString('hex');
    for (let i = 0; i < (opts.processes ?? 1); i++) {
      const port = await freePort();
      this.apps.push(
        new AppProcess(
          `app${i + 1}`,
          port,
          {
            APP_URL: `http://127.0.0.1:${port}`,
            APP_SECRET: secret,
            PIPEDRIVE_CLIENT_ID: CLIENT_ID,
            PIPEDRIVE_CLIENT_SECRET: CLIENT_SECRET,
            PIPEDRIVE_OAUTH_URL: this.pipedrive.oauthUrl,
            PIPEDRIVE_API_URL: this.proxy.url,
            FILES_STORE: join(this.dir, 'files'),
            LOG_LEVEL: 'warn',
            // The soak compresses time: short backoff and lease, so more attempts cover a similar retry window.
            JOB_LEASE_SECONDS: '10',
            JOB_MAX_ATTEMPTS: '40',
            JOB_BACKOFF_BASE_MS: '100',
            JOB_BACKOFF_CAP_MS: '2000',
            // The platform fakes listen on 127.0.0.1, which the outbound policy refuses unless allowed
            // (only that address: the hostile scenario's "private" host is another loopback one).
            OUTBOUND_ALLOW: '127.0.0.1/32',
            // One company drives all the soak's traffic, far above a tenant's default budgets
            // (webhooks per channel, messages per minute); their limits have their own tests.
            WEBHOOK_RATE_PER_MINUTE: '0',
            QUOTA_MESSAGES_PER_MINUTE: '0',
            ...dbEnv,
            ...opts.env,
          },
          join(this.dir, `app${i + 1}.log`),
        ),
      );
    }
    // One at a time: the first applies the migrations.
    for (const app of this.apps) await app.start();
    this.db = createDb(dbEnv.DATABASE_SCHEMA ? { client: 'pg', url: dbEnv.DATABASE_URL!, schema: dbEnv.DATABASE_SCHEMA } : { client: 'sqlite', filename: dbEnv.DATABASE_URL!.slice('sqlite:'.length) });

    // Every user installs before the channels exist, so each channel gets a standing conversation per user.
    const admin = await installVia({ url: this.app.url, db: this.db }, this.pipedrive);
    this.users = [admin.user];
    for (let i = 1; i < opts.users; i++) {
      const u = this.pipedrive.addUser({ id: 5000 + i, name: `Soak User ${i}`, email: `soak${i}@acme.example`, is_admin: false });
      await installVia({ url: this.app.url, db: this.db }, this.pipedrive, { userId: u.id });
      this.users.push(u);
    }
    this.pipedrive.setUser(admin.user.id);

    const airy = await this.connect(admin.cookie, 'airy', { api_url: this.airy.url, system_token: this.airy.systemToken });
    const source = this.airy.model.sources.get(`pipedrive-${airy.id}`);
    if (!source) throw new Error('the Airy source was not created');
    this.airyChannel = { ...airy, sourceToken: source.token };
    if (opts.alvaria) {
      this.alvariaChannel = await this.connect(admin.cookie, 'alvaria', this.alvaria.channelConfig());
      this.alvaria.deliveries.callbackUrl = `${this.app.url}${this.alvariaChannel.webhookPath}`;
      await this.openSessions();
    }
  }

  private databaseEnv(): Record<string, string> {
    if (this.opts.dialect === 'sqlite') return { DATABASE_URL: `sqlite:${join(this.dir, 'app.sqlite')}` };
    const schema = `soak_${randomBytes(6).toString('hex')}`;
    const url = this.opts.pgUrl;
    this.dropSchema = async () => {
      const admin = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
      try {
        await admin.raw('drop schema if exists ?? cascade', [schema]);
      } finally {
        await admin.destroy();
      }
    };
    return { DATABASE_URL: url, DATABASE_SCHEMA: schema };
  }

  private async connect(cookie: string, provider: 'airy' | 'alvaria', config: Record<string, unknown>): Promise<ChannelInfo> {
    const res = await adminCall(this.app, cookie, 'POST', '/channels', { provider, name: `Soak ${provider}`, config });
    const body = (await res.json()) as { channel?: { id: string; provider_channel_id: string; urls: { webhook_url: string } } };
    if (res.status !== 201 || !body.channel) throw new Error(`connecting ${provider} answered ${res.status}: ${JSON.stringify(body)}`);
    const ch = body.channel;
    // Pipedrive's initial sync (getConversations right after addChannel) has learned the standing conversations.
    await waitUntil(`the initial sync of the ${provider} channel`, () => this.pipedrive.state.syncs.some((s) => s.providerChannelId === ch.provider_channel_id), Date.now() + 30_000);
    return { id: ch.id, providerChannelId: ch.provider_channel_id, webhookPath: new URL(ch.urls.webhook_url).pathname };
  }

  /** A Pipedrive message in each standing Alvaria conversation opens its session (NEW_SESSION arrives through the callback URL). */
  private async openSessions(): Promise<void> {
    const ch = this.alvariaChannel!;
    const rows: Array<{ id: string; name: string }> = await this.db('conversations as c')
      .join('participants as p', 'p.conversation_pk', 'c.pk')
      .where({ 'c.channel_id': ch.id, 'p.role': 'source_user' })
      .select('c.id', 'p.name');
    for (const r of rows) {
      const form = new FormData();
      form.set('conversationId', r.id);
      form.set('message', `hello from ${r.name}`);
      const res = await fetch(`${this.app.url}/api/channels/${ch.providerChannelId}/messages`, { method: 'POST', body: form, headers: { authorization: BASIC } });
      if (res.status !== 200) throw new Error(`postMessage answered ${res.status}: ${await res.text()}`);
    }
    await waitUntil(
      'a live Alvaria session per conversation',
      () => {
        const live = [...this.alvaria.sessions.values()].filter((s) => s.status === 'active' && s.messages.length > 0);
        return live.length >= rows.length ? live : undefined;
      },
      Date.now() + 60_000,
    );
    for (const r of rows) {
      const s = [...this.alvaria.sessions.values()].find((x) => x.contactName === r.name && x.status === 'active');
      if (!s) throw new Error(`no Alvaria session for ${r.name}`);
      this.sessions.set(r.id, s.id);
    }
  }

  /** App log lines at error level, across every process. */
  errorLines(): string[] {
    return this.apps.flatMap((a) => a.errorLines().map((l) => `${a.name}: ${l}`));
  }

  async close(): Promise<void> {
    for (const app of this.apps) await app.stop().catch(() => app.kill());
    await this.alvaria.stop().catch(() => {});
    await this.airy.close().catch(() => {});
    await this.proxy.close().catch(() => {});
    await this.pipedrive.close().catch(() => {});
    await this.db?.destroy().catch(() => {});
    await this.dropSchema?.().catch(() => {});
    if (!process.env.SOAK_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}
