import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import knex, { type Knex } from 'knex';
import { createLogger } from '../../app/ground/log.ts';
import { DIALECT, PG_URL, startTestBridge, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';

/** A logger whose lines the test can read and wait for. */
function capturedLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const raw of String(chunk).split('\n').filter(Boolean)) {
        const l = JSON.parse(raw) as Record<string, unknown>;
        lines.push(l);
        for (const w of waiters.filter((x) => x.match(l))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      done();
    },
  });
  return {
    lines,
    logger: createLogger('info', sink),
    next: (match: (l: Record<string, unknown>) => boolean) => new Promise<void>((resolve) => waiters.push({ match, resolve })),
  };
}

/** Another connection holding the database's write lock (sqlite) or the probe table's lock (PostgreSQL). */
async function holdWriteLock(b: TestBridge): Promise<() => Promise<void>> {
  let other: Knex;
  if (DIALECT === 'sqlite') {
    other = knex({ client: 'better-sqlite3', connection: { filename: b.dbEnv.DATABASE_URL!.slice('sqlite:'.length) }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
    const trx = await other.transaction();
    // A write inside the transaction takes sqlite's single write lock until rollback.
    await trx('health_probe').insert({ id: 'held-by-test', at: 0 });
    return async () => {
      await trx.rollback();
      await other.destroy();
    };
  }
  other = knex({ client: 'pg', connection: PG_URL, pool: { min: 1, max: 1 } });
  const trx = await other.transaction();
  await trx.raw('lock table ??.health_probe in access exclusive mode', [b.dbEnv.DATABASE_SCHEMA!]);
  return async () => {
    await trx.rollback();
    await other.destroy();
  };
}

test('/healthz proves the database takes writes and reports the outbox age; a held write lock → 503', { timeout: 60_000 }, async () => {
  // No outbox worker: on sqlite its claims would wait on the same lock and crowd the event loop.
  const b = await startTestBridge({ env: { WORKER_CONCURRENCY: '0' } });
  try {
    const ok = await b.call('/healthz', { auth: false });
    assert.equal(ok.status, 200);
    const healthy = (await ok.json()) as { ok: boolean; checks: unknown; outbox: unknown };
    assert.deepEqual([healthy.ok, healthy.checks, healthy.outbox], [true, { database: 'ok', files: 'ok' }, { oldest_pending_age_seconds: 0 }]);

    const release = await holdWriteLock(b);
    let locked: Response;
    try {
      locked = await b.call('/healthz', { auth: false });
    } finally {
      await release();
    }
    assert.equal(locked.status, 503);
    const body = (await locked.json()) as any;
    assert.equal(body.ok, false);
    assert.equal(body.checks.database, 'failed');
    assert.equal(body.checks.files, 'ok');

    assert.equal((await b.call('/healthz', { auth: false })).status, 200);
  } finally {
    await b.close();
  }
});

/** A 1 MB tmpfs (needs root and mount; skipped elsewhere): a disk that really fills up. */
function tinyDisk(): { dir: string; unmount(): void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const disk = tinyDisk();
disk?.unmount();

test('a full disk: an upload is 507 with a clear message and /healthz fails until there is room again', { skip: disk ? false : 'needs permission to mount a tmpfs', timeout: 60_000 }, async () => {
  const full = tinyDisk()!;
  const platform = new TestPlatform();
  const b = await startTestBridge({ platforms: { test: platform.factory() }, env: { FILES_STORE: join(full.dir, 'files'), MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) } });
  try {
    const channel = await seedChannel(b);
    const conv = await seedConversation(b, channel);
    const fd = new FormData();
    fd.append('conversationId', conv.id);
    fd.append('message', 'big');
    fd.append('files', new Blob([new Uint8Array(2 * 1024 * 1024).fill(1)], { type: 'video/mp4' }), 'big.mp4');
    const res = await b.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: fd });
    assert.equal(res.status, 507);
    assert.deepEqual(await res.json(), { success: false, data: { message: 'The server is out of storage space for uploads; try again later', code: 'INSUFFICIENT_STORAGE' } });
    assert.deepEqual(
      readdirSync(join(full.dir, 'files', 'tmp')).filter((n) => n.startsWith('up-')),
      [],
      'the partial upload is removed',
    );

    // Fill the disk to the last byte: the health check's file write fails.
    const filler = join(full.dir, 'filler');
    try {
      writeFileSync(filler, new Uint8Array(2 * 1024 * 1024));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const sick = await b.call('/healthz', { auth: false });
    assert.equal(sick.status, 503);
    assert.equal(((await sick.json()) as any).checks.files, 'failed');
    rmSync(filler);
    assert.equal((await b.call('/healthz', { auth: false })).status, 200);
  } finally {
    await b.close();
    full.unmount();
  }
});

test('a client that aborts an upload is logged as aborted, not as a server error', { timeout: 30_000 }, async () => {
  const logs = capturedLogs();
  const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, logger: logs.logger });
  try {
    const channel = await seedChannel(b);
    const conv = await seedConversation(b, channel);
    const aborted = logs.next((l) => l.msg === 'request aborted by the client');
    const accessLine = logs.next((l) => l.msg === 'request' && l.path === `/api/channels/${channel.providerChannelId}/messages`);
    const u = new URL(b.url);
    const socket = connect(Number(u.port), u.hostname);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const boundary = 'abortedupload';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conv.id}\r\n--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    socket.write(
      `POST /api/channels/${channel.providerChannelId}/messages HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Basic ${Buffer.from('test-client-id:test-client-secret').toString('base64')}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${1024 * 1024}\r\n\r\n${head}`,
    );
    // Part of the file, and then the client goes away.
    await new Promise<void>((r) => socket.write(Buffer.alloc(64 * 1024, 1), () => r()));
    socket.destroy();
    await Promise.all([aborted, accessLine]);
    assert.deepEqual(
      logs.lines.filter((l) => (l.level as number) >= 50),
      [],
      'no error-level line',
    );
  } finally {
    await b.close();
  }
});

test('staged uploads left behind by a crash are swept at start; recent ones (maybe in flight elsewhere) are kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-staged-'));
  const staging = join(dir, 'files', 'tmp');
  mkdirSync(staging, { recursive: true });
  const old = Date.now() / 1000 - 2 * 3600;
  for (const name of ['up-crashed-1', 'up-crashed-2']) {
    writeFileSync(join(staging, name), 'partial');
    utimesSync(join(staging, name), old, old);
  }
  writeFileSync(join(staging, 'up-in-flight'), 'partial');
  const logs = capturedLogs();
  const b = await startTestBridge({ logger: logs.logger, env: { FILES_STORE: join(dir, 'files') } });
  try {
    assert.deepEqual(
      readdirSync(staging).filter((n) => n.startsWith('up-')),
      ['up-in-flight'],
    );
    assert.ok(logs.lines.some((l) => l.msg === 'removed staged uploads left over from an interrupted run' && l.swept === 2));
  } finally {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/metrics needs Authorization: Bearer $METRICS_TOKEN when METRICS_TOKEN is set', async () => {
  const token = 'm'.repeat(40);
  const b = await startTestBridge({ env: { METRICS_TOKEN: token } });
  try {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${token}`, `Bearer ${token}x`]) {
      const res = await b.call('/metrics', { auth: false, headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="metrics"');
      assert.doesNotMatch(await res.text(), /bridge_/);
    }
    const ok = await b.call('/metrics', { auth: false, headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^bridge_leader [01]$/m);
  } finally {
    await b.close();
  }
});

test('production code needs no devDependency: playwright-core is a devDependency and app/ imports only dependencies', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  assert.equal(pkg.dependencies['playwright-core'], undefined);
  assert.ok(pkg.devDependencies['playwright-core']);
  const files = (function walk(d: string): string[] {
    return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
  })('app');
  const missing: string[] = [];
  for (const file of [...files, 'db/migrations/index.ts']) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*import\s+(?!type\b)[^'"]*?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      // tsx is how `npm start` runs TypeScript: it must be a dependency too, but it is imported by the start script, not by app/.
      if (!pkg.dependencies[name]) missing.push(`${relative('.', file)} imports ${name}`);
    }
  }
  assert.deepEqual(missing, []);
});
