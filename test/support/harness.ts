import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { loadConfig, type Config } from '../../app/ground/config.ts';
import { startBridge, type Bridge, type BridgeOptions } from '../../app/bridge.ts';
import { createLogger } from '../../app/ground/log.ts';
import { BASIC, CLIENT_ID, CLIENT_SECRET } from '../../fakes/pipedrive/credentials.ts';
import { freePort } from '../../scripts/lib/net.ts';

/** Which database this test process runs on: scripts/test.ts runs every suite once per dialect. */
export const DIALECT: 'sqlite' | 'postgres' = process.env.TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// Shared with the demo and the soak, which run on the same fakes; re-exported so that a test
// needs one import for its rig.
export { BASIC, CLIENT_ID, CLIENT_SECRET } from '../../fakes/pipedrive/credentials.ts';
export { freePort } from '../../scripts/lib/net.ts';
export { waitFor } from '../../scripts/lib/wait-for.ts';

/** A fresh, isolated database location: a temp sqlite file, or a throwaway PostgreSQL schema. */
export function freshDatabaseEnv(dir: string): { env: Record<string, string>; drop(): Promise<void> } {
  if (DIALECT === 'sqlite') return { env: { DATABASE_URL: `sqlite:${join(dir, 'app.sqlite')}` }, drop: async () => {} };
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return {
    env: { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema },
    async drop() {
      const db = knex({ client: 'pg', connection: PG_URL });
      try {
        await db.raw('drop schema if exists ?? cascade', [schema]);
      } finally {
        await db.destroy();
      }
    },
  };
}

export interface TestBridge extends Bridge {
  dir: string;
  /** The database settings, to start a second process/bridge on the same data (`shareDb`). */
  dbEnv: Record<string, string>;
  /** fetch against the running app; `auth: false` omits Pipedrive's basic auth. */
  call(path: string, init?: RequestInit & { auth?: boolean | string }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts the real app (HTTP server, database, outbox worker) on a free port with a fresh
 * database, fast worker timings and silent logs. Env overrides win.
 */
export async function startTestBridge(opts: BridgeOptions & { env?: Record<string, string>; shareDb?: TestBridge } = {}): Promise<TestBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-test-'));
  // A bridge sharing another's database leaves dropping it to the owner.
  const db = opts.shareDb ? { env: opts.shareDb.dbEnv, drop: async () => {} } : freshDatabaseEnv(dir);
  const port = await freePort();
  const config: Config = loadConfig({
    PORT: String(port),
    APP_URL: `http://127.0.0.1:${port}`,
    APP_SECRET: randomBytes(32).toString('hex'),
    PIPEDRIVE_CLIENT_ID: CLIENT_ID,
    PIPEDRIVE_CLIENT_SECRET: CLIENT_SECRET,
    FILES_STORE: join(dir, 'files'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKER_POLL_MS: '25',
    JOB_BACKOFF_BASE_MS: '5',
    JOB_BACKOFF_CAP_MS: '50',
    JOB_LEASE_SECONDS: '30',
    LEADER_CHECK_MS: '50',
    // The platform fakes listen on loopback, which the outbound policy refuses unless allowed.
    OUTBOUND_ALLOW: '127.0.0.0/8',
    ...db.env,
    ...opts.env,
  });
  const bridge = await startBridge(config, { logger: opts.logger ?? createLogger(config.logLevel), ...opts });
  return {
    ...bridge,
    dir,
    dbEnv: db.env,
    call(path, init = {}) {
      const { auth = true, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth) headers.set('authorization', typeof auth === 'string' ? auth : BASIC);
      return fetch(`${bridge.url}${path}`, { ...rest, headers });
    },
    async close() {
      await bridge.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves once no job of the channel is pending or running: every outcome the outbox reports
 * is a moment to look again (listening before looking, so an outcome between the two is not
 * missed). For a test that must act only after the outbox has finished a channel's work, e.g.
 * a job queued by another job's dead letter.
 */
export async function outboxSettled(b: Pick<Bridge, 'db' | 'outbox'>, channelId: string): Promise<void> {
  const outcomes = ['done', 'dead', 'retry', 'lost'] as const;
  for (;;) {
    let wake!: () => void;
    const next = new Promise<void>((resolve) => (wake = resolve));
    for (const o of outcomes) b.outbox.on(o, wake);
    try {
      const unfinished = await b.db('jobs').where({ channel_id: channelId }).whereIn('status', ['pending', 'running']).count({ n: '*' }).first();
      if (Number(unfinished?.n ?? 0) === 0) return;
      await next;
    } finally {
      for (const o of outcomes) b.outbox.off(o, wake);
    }
  }
}
