import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseAllowList } from './security/outbound-policy.ts';
import { deepFreeze } from './freeze.ts';

/** Where an S3-compatible bucket keeps attachment bytes (FILES_STORE=s3). */
export interface S3Settings {
  bucket: string;
  /** Key prefix inside the bucket, '' or ending in '/'. */
  prefix: string;
  endpoint: string | undefined;
  region: string;
  /** Unset → the SDK's default credential chain (AWS_* variables, instance or task roles). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
}

/**
 * The whole operator contract in one place.
 * Parsed once at start; a bad value stops the process with the variable's name.
 */
const intFrom = (def: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (!v) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      return v.replace(/\/+$/, '');
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
      return z.NEVER;
    }
  });

/**
 * Extra origins allowed to frame the workspace pages (a comma list), e.g. a local host page in
 * tests. Each must be a bare http(s) origin: the value lands in a CSP header, so nothing else passes.
 */
const originList = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    const out: string[] = [];
    for (const item of (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      let ok = false;
      try {
        const u = new URL(item);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item.replace(/\/+$/, '');
        if (ok) out.push(u.origin);
      } catch {
        ok = false;
      }
      if (!ok) {
        ctx.addIssue({ code: 'custom', message: `must be a comma list of origins like https://host:port (got "${item}")` });
        return z.NEVER;
      }
    }
    return out;
  });

const EnvSchema = z.object({
  PORT: intFrom(3000, 0, 65535),
  APP_URL: optionalUrl,
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || /^(postgres|postgresql|sqlite):/.test(v), 'must start with postgres://, postgresql:// or sqlite:'),
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || /^[a-z_][a-z0-9_]{0,62}$/.test(v), 'must be a lowercase PostgreSQL identifier'),
  DATABASE_WAIT_SECONDS: intFrom(30, 0, 3600),
  PIPEDRIVE_CLIENT_ID: z.string().trim().optional(),
  PIPEDRIVE_CLIENT_SECRET: z.string().trim().optional(),
  PIPEDRIVE_UI_JWT_SECRET: z.string().trim().optional(),
  PIPEDRIVE_OAUTH_URL: optionalUrl,
  PIPEDRIVE_API_URL: optionalUrl,
  PIPEDRIVE_BURST_LIMIT: intFrom(80, 1, 10_000),
  PIPEDRIVE_BREAKER_THRESHOLD: intFrom(5, 1, 1000),
  PIPEDRIVE_BREAKER_COOLDOWN_MS: intFrom(5000, 10, 3_600_000),
  APP_SECRET: z
    .string()
    .optional()
    .refine((v) => !v || v.length >= 32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  FILES_STORE: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || !v.startsWith('s3:') || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v), 'must be a folder or s3://bucket/prefix with a valid bucket name'),
  /** Deprecated name of FILES_STORE (a local folder only). */
  FILES_DIR: z.string().trim().optional(),
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().trim().optional(),
  S3_ACCESS_KEY_ID: z.string().trim().optional(),
  S3_SECRET_ACCESS_KEY: z.string().trim().optional(),
  S3_FORCE_PATH_STYLE: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || /^(true|false|1|0)$/i.test(v), 'must be true or false'),
  MAX_UPLOAD_BYTES: intFrom(25 * 1024 * 1024, 1, 1024 * 1024 * 1024),
  MAX_UPLOAD_FILES: intFrom(10, 0, 100),
  FILE_URL_TTL_SECONDS: intFrom(3600, 60, 7 * 24 * 3600),
  FILE_SEND_TIMEOUT_SECONDS: intFrom(30, 1, 3600),
  FILE_MAX_DOWNLOADS: intFrom(64, 1, 100_000),
  STAGED_UPLOAD_MAX_AGE_SECONDS: intFrom(3600, 60, 30 * 24 * 3600),
  METRICS_TOKEN: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || v.length >= 16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)'),
  // Jobs are outside calls (Pipedrive, Airy, Alvaria) that mostly wait on the network: at 4
  // slots a process sent ~20 messages/s to a 200 ms API, and each freed slot cost a claim of its
  // own (npm run bench: a claim per delivered message). 16 leave one company 8 (the default
  // tenant share) and claim and finish several jobs per statement.
  WORKER_CONCURRENCY: intFrom(16, 0, 256),
  WORKER_POLL_MS: intFrom(1000, 10, 60_000),
  // Slots freed while other jobs run wait this long for more before one claim takes work for
  // them all (app/runtime/outbox.ts, CLAIM_BATCH); 0 claims for each at once.
  WORKER_CLAIM_BATCH_MS: intFrom(2, 0, 60_000),
  ATTACHMENT_RETENTION_DAYS: intFrom(365, 0, 36_500),
  ALVARIA_PARKED_RETENTION_HOURS: intFrom(48, 1, 8760),
  DELETED_DATA_GRACE_DAYS: intFrom(30, 0, 3650),
  QUOTA_ATTACHMENT_MB: intFrom(5120, 0, 10_000_000),
  QUOTA_MESSAGES_PER_MINUTE: intFrom(600, 0, 1_000_000),
  WEBHOOK_RATE_PER_MINUTE: intFrom(1200, 0, 6_000_000),
  WEBHOOK_BURST: intFrom(100, 1, 1_000_000),
  WORKER_TENANT_CONCURRENCY: intFrom(0, 0, 256),
  JOB_LEASE_SECONDS: intFrom(60, 1, 3600),
  JOB_MAX_ATTEMPTS: intFrom(12, 1, 100),
  JOB_BACKOFF_BASE_MS: intFrom(2000, 1, 3_600_000),
  LEADER_CHECK_MS: intFrom(5000, 10, 600_000),
  JOB_BACKOFF_CAP_MS: intFrom(3_600_000, 1, 86_400_000),
  UI_FRAME_ANCESTORS: originList,
  OUTBOUND_ALLOW: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const entries = (v ?? '')
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      try {
        parseAllowList(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be comma-separated host names and CIDRs: ${err instanceof Error ? err.message : String(err)}` });
        return z.NEVER;
      }
      return entries;
    }),
  OUTBOUND_MAX_RESPONSE_BYTES: intFrom(1024 * 1024, 1024, 64 * 1024 * 1024),
  CONNECT_ATTEMPTS_PER_MINUTE: intFrom(10, 1, 10_000),
  ALVARIA_CALLBACK_MAX_AGE_SECONDS: intFrom(600, 10, 24 * 3600),
  TRANSCRIPT_FLUSH_SECONDS: intFrom(60, 0, 86_400),
  INGEST_BATCH_MAX_EVENTS: intFrom(64, 1, 1000),
});

export type Env = Record<string, string | undefined>;

export interface Config {
  readonly port: number;
  readonly appUrl: string;
  readonly database: { readonly client: 'sqlite'; readonly filename: string } | { readonly client: 'pg'; readonly url: string; readonly schema?: string };
  /** How long the start waits for an unreachable database before giving up. */
  readonly databaseWaitMs: number;
  readonly pipedrive: {
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
    readonly oauthUrl: string;
    readonly apiUrl: string | undefined;
    /** Calls per installation in Pipedrive's 2 s burst window until x-ratelimit-limit says otherwise. */
    readonly burstLimit: number;
    /** Consecutive 5xx/network failures that pause an installation's calls, and the first pause. */
    readonly breakerThreshold: number;
    readonly breakerCooldownMs: number;
    /** The custom UI extensions' JWT secret (Developer Hub); undefined → the client secret verifies iframe tokens. */
    readonly uiJwtSecret: string | undefined;
  };
  /** Idle time of a conversation about a record before its new lines are written to the record's note. */
  readonly transcriptFlushMs: number;
  readonly appSecret: string;
  readonly logLevel: string;
  /** FILES_STORE: a local folder, or an S3-compatible bucket shared by every process. */
  readonly files: { readonly kind: 'local'; readonly dir: string } | { readonly kind: 's3'; readonly s3: S3Settings };
  readonly uploads: { readonly maxBytes: number; readonly maxFiles: number };
  readonly fileUrlTtlSeconds: number;
  /** The workspace pages (custom UI iframes): origins allowed to frame them besides Pipedrive's. */
  readonly ui: { readonly frameAncestors: readonly string[] };
  /** /files: a download that makes no progress this long is dropped; downloads served at once per process. */
  readonly fileDownloads: { readonly sendTimeoutMs: number; readonly maxConcurrent: number };
  /** Staged uploads older than this are left over from a crash and removed at start. */
  readonly stagedUploadMaxAgeMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined;
  /** How long tenant data is kept (0 attachments = forever); see README "Retention". */
  readonly retention: { readonly attachmentsMs: number; readonly parkedMs: number; readonly deletedGraceMs: number };
  /** Per tenant (a Pipedrive company): stored attachment bytes and messages posted per minute; 0 = unlimited. */
  readonly quotas: { readonly attachmentBytes: number; readonly messagesPerMinute: number };
  /** Webhook requests per channel and process: sustained rate (0 = unlimited) and burst. */
  readonly webhookRate: { readonly perMinute: number; readonly burst: number };
  readonly worker: {
    readonly concurrency: number;
    /** Most jobs one tenant (a Pipedrive company) may have in flight at once, so others always find a slot. */
    readonly tenantConcurrency: number;
    readonly pollMs: number;
    /** How long a freed slot waits for others before claiming, while jobs are in flight (0: at once). */
    readonly claimBatchMs: number;
    readonly leaseMs: number;
    readonly maxAttempts: number;
    readonly backoffBaseMs: number;
    readonly backoffCapMs: number;
    /** How often a process tries to become (or checks it still is) the singleton leader. */
    readonly leaderCheckMs: number;
  };
  /** Calls to tenant-named hosts (app/ground/security/outbound-policy.ts). */
  readonly outbound: {
    /** OUTBOUND_ALLOW: hosts and CIDRs that may be called although private or loopback. */
    readonly allow: readonly string[];
    readonly maxResponseBytes: number;
    /** Channel connect attempts per installation and minute (each one calls an admin-named host). */
    readonly connectAttemptsPerMinute: number;
  };
  /** Oldest Alvaria callback JWT accepted, by its `iat`. */
  readonly alvariaCallbackMaxAgeSeconds: number;
  /**
   * Group commit of inbound platform events: concurrent webhooks share one transaction of at
   * most `maxBatch` events (1 = one transaction per event). Concurrent postMessage calls are
   * grouped the same way, in batches of their own with the same bound.
   */
  readonly ingest: { readonly maxBatch: number };
}

/** Every invalid variable at once, so one restart fixes them all; the message is one line. */
export class ConfigError extends Error {
  readonly problems: ReadonlyArray<{ variable: string; detail: string }>;
  constructor(problems: Array<{ variable: string; detail: string }>) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable} ${p.detail}`).join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }

  get variable(): string {
    return this.problems[0]?.variable ?? 'environment';
  }
}

export function loadConfig(env: Env = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const seen = new Set<string>();
    const problems = parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? 'environment'), detail: issue.message })).filter((p) => !seen.has(p.variable) && seen.add(p.variable));
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const dbUrl = e.DATABASE_URL ?? '';
  const database: Config['database'] = dbUrl.startsWith('postgres')
    ? { client: 'pg', url: dbUrl, ...(e.DATABASE_SCHEMA ? { schema: e.DATABASE_SCHEMA } : {}) }
    : { client: 'sqlite', filename: dbUrl.startsWith('sqlite:') ? dbUrl.slice('sqlite:'.length) : 'db/app.sqlite' };

  const config: Config = {
    port: e.PORT,
    appUrl: e.APP_URL ?? `http://localhost:${e.PORT}`,
    database,
    databaseWaitMs: e.DATABASE_WAIT_SECONDS * 1000,
    pipedrive: {
      clientId: e.PIPEDRIVE_CLIENT_ID || undefined,
      clientSecret: e.PIPEDRIVE_CLIENT_SECRET || undefined,
      oauthUrl: e.PIPEDRIVE_OAUTH_URL ?? 'https://oauth.pipedrive.com',
      apiUrl: e.PIPEDRIVE_API_URL,
      burstLimit: e.PIPEDRIVE_BURST_LIMIT,
      breakerThreshold: e.PIPEDRIVE_BREAKER_THRESHOLD,
      breakerCooldownMs: e.PIPEDRIVE_BREAKER_COOLDOWN_MS,
      uiJwtSecret: e.PIPEDRIVE_UI_JWT_SECRET || undefined,
    },
    transcriptFlushMs: e.TRANSCRIPT_FLUSH_SECONDS * 1000,
    appSecret: e.APP_SECRET ?? randomBytes(32).toString('hex'),
    logLevel: e.LOG_LEVEL ?? 'info',
    files: filesStore(e),
    uploads: { maxBytes: e.MAX_UPLOAD_BYTES, maxFiles: e.MAX_UPLOAD_FILES },
    fileUrlTtlSeconds: e.FILE_URL_TTL_SECONDS,
    ui: { frameAncestors: e.UI_FRAME_ANCESTORS },
    fileDownloads: { sendTimeoutMs: e.FILE_SEND_TIMEOUT_SECONDS * 1000, maxConcurrent: e.FILE_MAX_DOWNLOADS },
    stagedUploadMaxAgeMs: e.STAGED_UPLOAD_MAX_AGE_SECONDS * 1000,
    metricsToken: e.METRICS_TOKEN || undefined,
    retention: {
      attachmentsMs: e.ATTACHMENT_RETENTION_DAYS * 86_400_000,
      parkedMs: e.ALVARIA_PARKED_RETENTION_HOURS * 3_600_000,
      deletedGraceMs: e.DELETED_DATA_GRACE_DAYS * 86_400_000,
    },
    quotas: { attachmentBytes: e.QUOTA_ATTACHMENT_MB * 1024 * 1024, messagesPerMinute: e.QUOTA_MESSAGES_PER_MINUTE },
    webhookRate: { perMinute: e.WEBHOOK_RATE_PER_MINUTE, burst: e.WEBHOOK_BURST },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      // Default: half the slots, so one tenant's slow platform (each stuck attempt holds a slot
      // until its deadline) leaves as many slots to everyone else as it takes.
      tenantConcurrency: e.WORKER_TENANT_CONCURRENCY || Math.max(1, Math.floor(e.WORKER_CONCURRENCY / 2)),
      pollMs: e.WORKER_POLL_MS,
      claimBatchMs: e.WORKER_CLAIM_BATCH_MS,
      leaseMs: e.JOB_LEASE_SECONDS * 1000,
      maxAttempts: e.JOB_MAX_ATTEMPTS,
      backoffBaseMs: e.JOB_BACKOFF_BASE_MS,
      backoffCapMs: e.JOB_BACKOFF_CAP_MS,
      leaderCheckMs: e.LEADER_CHECK_MS,
    },
    outbound: { allow: e.OUTBOUND_ALLOW, maxResponseBytes: e.OUTBOUND_MAX_RESPONSE_BYTES, connectAttemptsPerMinute: e.CONNECT_ATTEMPTS_PER_MINUTE },
    alvariaCallbackMaxAgeSeconds: e.ALVARIA_CALLBACK_MAX_AGE_SECONDS,
    ingest: { maxBatch: e.INGEST_BATCH_MAX_EVENTS },
  };
  return deepFreeze(config);
}

function filesStore(e: z.infer<typeof EnvSchema>): Config['files'] {
  const where = e.FILES_STORE || e.FILES_DIR || 'data/files';
  if (!where.startsWith('s3://')) return { kind: 'local', dir: where };
  const [bucket = '', ...rest] = where.slice('s3://'.length).split('/');
  const prefix = rest.join('/').replace(/^\/+|\/+$/g, '');
  if (!e.S3_ACCESS_KEY_ID !== !e.S3_SECRET_ACCESS_KEY) {
    throw new ConfigError([
      { variable: e.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID', detail: 'must be set together with its pair (or leave both empty to use the AWS default credentials)' },
    ]);
  }
  return {
    kind: 's3',
    s3: {
      bucket,
      prefix: prefix ? `${prefix}/` : '',
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION || 'us-east-1',
      credentials: e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } : undefined,
      forcePathStyle: /^(true|1)$/i.test(e.S3_FORCE_PATH_STYLE ?? ''),
    },
  };
}
