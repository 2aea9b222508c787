import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIALECT, PG_URL, freePort } from './support/harness.ts';
import { loadConfig } from '../app/ground/config.ts';

const MAIN = fileURLToPath(new URL('../app/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = import.meta.resolve('tsx');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

/** Runs `npm start`'s command in an empty directory with no configuration but PORT. */
function start(env: Record<string, string>, cwd: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APP_|DATABASE_|PIPEDRIVE_|PORT$|LOG_LEVEL$)/.test(k)));
  return spawn(process.execPath, ['--env-file-if-exists=.env', '--import', TSX, MAIN], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts the app and collects its output until it exits (a failed start). */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-start-'));
  try {
    const child = start(env, cwd);
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    return { code, stderr, stdout };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** A start-up failure is exactly one line on stderr (besides Node's own note that there is no .env). */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !/^\(node:\d+\) |^\(Use `node --trace|^\.env not found\. Continuing without it\.$/.test(l));
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

/** Runs a package script's command (as `npm run` would, from package.json) in `cwd`. */
function runScript(name: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const command = PKG.scripts[name]!.split(' ');
  assert.deepEqual(command.slice(0, 4), ['node', '--env-file-if-exists=.env', '--import', 'tsx'], `npm run ${name} reads .env like npm start`);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APP_|DATABASE_|PIPEDRIVE_|PORT$)/.test(k)));
  const child = spawn(process.execPath, ['--env-file-if-exists=.env', '--import', TSX, join(ROOT, command[4]!), ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

test('zero configuration: starts on sqlite at db/app.sqlite, warns about APP_SECRET, serves /healthz', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-start-'));
  const port = await freePort();
  const child = start({ PORT: String(port) }, cwd);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready:') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    const health = (await res.json()) as { ok: boolean; version: string; revision: string };
    assert.equal(health.ok, true);
    assert.equal(health.version, PKG.version);
    assert.match(health.revision, /^([0-9a-f]{7,40}|unknown)$/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.ok(metrics.includes(`bridge_build_info{version="${PKG.version}",revision="${health.revision}"`), metrics.slice(0, 500));
    assert.ok(existsSync(join(cwd, 'db', 'app.sqlite')));
    assert.match(out, /APP_SECRET is not set/);
    assert.match(out, /"msg":"migrations applied: 001_init, 002_installations/);

    // The start page says what this is and where to go; sign-in explains the setup instead of failing.
    const landing = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(landing.status, 200);
    assert.match(landing.headers.get('content-type') ?? '', /^text\/html/);
    const home = await landing.text();
    assert.match(home, /Pipedrive Messaging app extension/);
    assert.ok(home.includes(`http://localhost:${port}/manifest.json`), 'the manifest URL');
    assert.match(home, /href="\/admin"/);
    assert.match(home, /docs\/DEPLOY\.md/);
    assert.match(home, /tunnel/, 'a non-HTTPS APP_URL is flagged');
    const signIn = await fetch(`http://127.0.0.1:${port}/auth/pipedrive`, { redirect: 'manual' });
    assert.equal(signIn.status, 200);
    const setup = await signIn.text();
    assert.match(setup, /Developer Hub/);
    assert.ok(setup.includes(`http://localhost:${port}/auth/pipedrive/callback`), 'the callback URL to register');
    assert.match(setup, /PIPEDRIVE_CLIENT_ID/);
    assert.match(setup, /public HTTPS/);
    assert.doesNotMatch(setup, /href="\/auth\/pipedrive"/, 'no link back to itself');
    const journal = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [
        '-e',
        `const D=require(${JSON.stringify(import.meta.resolve('better-sqlite3').replace('file://', ''))});console.log(new D(${JSON.stringify(join(cwd, 'db', 'app.sqlite'))}).pragma('journal_mode',{simple:true}))`,
      ]);
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('exit', () => resolve(s.trim()));
    });
    assert.equal(journal, 'wal');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('a bad value stops the start with a message naming the variable', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-start-'));
  const child = start({ PORT: 'eighty' }, cwd);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.once('exit', r));
  rmSync(cwd, { recursive: true, force: true });
  assert.equal(code, 1);
  assert.match(err, /PORT must be an integer/);
});

test('every invalid variable is reported at once, in one line', async () => {
  const r = await failedStart({ PORT: 'eighty', APP_SECRET: 'short', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
  assert.equal(r.code, 1);
  const line = oneLine(r.stderr);
  for (const v of ['PORT must be an integer', 'APP_SECRET must be at least 32', 'LOG_LEVEL', 'DATABASE_URL must start with']) assert.ok(line.includes(v), `${v} in: ${line}`);
});

test('a port in use stops the start with one line naming PORT', async () => {
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, r));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = await failedStart({ PORT: String(port) });
    assert.equal(r.code, 1);
    assert.equal(oneLine(r.stderr), `PORT ${port} is already in use (EADDRINUSE): stop the other process or set PORT to a free port`);
  } finally {
    busy.close();
  }
});

test('an unreachable PostgreSQL is retried for DATABASE_WAIT_SECONDS, then one line names DATABASE_URL (never the password)', async () => {
  const port = await freePort(); // nothing listens there
  const r = await failedStart({ DATABASE_URL: `postgres://bridge:s3cret-pw@127.0.0.1:${port}/app`, DATABASE_WAIT_SECONDS: '1', PORT: '0' });
  assert.equal(r.code, 1);
  assert.equal(oneLine(r.stderr), `DATABASE_URL: PostgreSQL at postgres://bridge@127.0.0.1:${port}/app is not reachable (ECONNREFUSED), still after 1 s of retries (DATABASE_WAIT_SECONDS)`);
  assert.match(r.stdout, /the database is not reachable yet; retrying for up to 1 s/);
  assert.doesNotMatch(r.stdout + r.stderr, /s3cret-pw/);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
});

test('a PostgreSQL that comes up during the wait is used', { skip: DIALECT !== 'postgres' && 'needs PostgreSQL' }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-start-'));
  const dbPort = await freePort();
  const pg = new URL(PG_URL);
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String(dbPort);
  const appPort = await freePort();
  const child = start({ DATABASE_URL: url.toString(), DATABASE_SCHEMA: `t_wait_${process.pid}`, DATABASE_WAIT_SECONDS: '60', PORT: String(appPort) }, cwd);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  // PostgreSQL "comes up": a TCP relay to the real one opens on the configured port once the app has retried.
  let relay: Server | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('not reachable yet') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    relay = createServer((c) => {
      const up = connect(Number(pg.port || 5432), pg.hostname);
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => relay!.listen(dbPort, '127.0.0.1', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready:') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.equal((await fetch(`http://127.0.0.1:${appPort}/healthz`)).status, 200);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    relay?.close();
    const { default: knex } = await import('knex');
    const db = knex({ client: 'pg', connection: PG_URL });
    await db.raw('drop schema if exists ?? cascade', [`t_wait_${process.pid}`]).finally(() => db.destroy());
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('a role PostgreSQL does not know stops the start at once with one line', { skip: DIALECT !== 'postgres' && 'needs PostgreSQL' }, async () => {
  const url = new URL(PG_URL);
  url.username = 'no_such_role_for_the_bridge';
  url.password = 'pw-not-shown';
  const started = Date.now();
  const r = await failedStart({ DATABASE_URL: url.toString(), DATABASE_WAIT_SECONDS: '60', PORT: '0' });
  assert.equal(r.code, 1);
  const line = oneLine(r.stderr);
  assert.match(line, /^DATABASE_URL: PostgreSQL refused the login at postgres:\/\/no_such_role_for_the_bridge@.*role "no_such_role_for_the_bridge" does not exist \(28000\)/);
  assert.doesNotMatch(line, /pw-not-shown/);
  assert.ok(Date.now() - started < 30_000, 'not retried: a wrong role does not fix itself');
});

test('npm run manifest reads .env, prints to stdout, writes manifest.json only with --write, warns on a non-HTTPS APP_URL', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-manifest-'));
  try {
    writeFileSync(join(cwd, '.env'), 'APP_URL=https://bridge.example.com\n');
    const printed = await runScript('manifest', [], cwd);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(JSON.parse(printed.stdout).endpoints.getConversations, 'https://bridge.example.com/api/channels/:providerChannelId/conversations');
    assert.doesNotMatch(printed.stderr, /warning/);
    assert.ok(!existsSync(join(cwd, 'manifest.json')), 'nothing written without --write');

    const written = await runScript('manifest', ['--write'], cwd);
    assert.equal(written.code, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(cwd, 'manifest.json'), 'utf8')), JSON.parse(written.stdout));

    const local = await runScript('manifest', [], cwd, { APP_URL: 'http://localhost:3000' });
    assert.equal(local.code, 0);
    assert.match(local.stderr, /warning: APP_URL is http:\/\/localhost:3000; Pipedrive needs a public https:\/\/ address/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('npm run dead-letters opens the database .env names, and says which', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'pdb-dead-'));
  try {
    writeFileSync(join(cwd, '.env'), 'DATABASE_URL=sqlite:data/ops.sqlite\n');
    const r = await runScript('dead-letters', [], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /database: sqlite data\/ops\.sqlite/);
    assert.equal(r.stdout.trim(), 'no dead letters');
    assert.ok(existsSync(join(cwd, 'data', 'ops.sqlite')));
    assert.ok(!existsSync(join(cwd, 'db', 'app.sqlite')), 'not the default database');
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('every operator script reads .env like npm start', () => {
  for (const name of ['start', 'manifest', 'dead-letters', 'demo', 'bench', 'soak']) {
    // `exec` for start: npm forwards SIGTERM to its child, the shell running the script, and
    // a shell does not pass it on; exec makes the bridge that child, so a stop drains it.
    assert.match(PKG.scripts[name]!, name === 'start' ? /^exec node --env-file-if-exists=\.env / : /^node --env-file-if-exists=\.env /, name);
  }
});

test('config: defaults, frozen, every bad key named', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.appUrl, 'http://localhost:3000');
  assert.deepEqual(c.database, { client: 'sqlite', filename: 'db/app.sqlite' });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.worker));
  assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u@h/db', DATABASE_SCHEMA: 'app' }).database, { client: 'pg', url: 'postgres://u@h/db', schema: 'app' });
  for (const [key, value] of [
    ['APP_URL', 'ftp://x'],
    ['DATABASE_URL', 'mysql://x'],
    ['APP_SECRET', 'short'],
    ['MAX_UPLOAD_FILES', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_SCHEMA', 'Robert"); drop'],
    ['OUTBOUND_ALLOW', '10.0.0.0/8,not a host!'],
    ['OUTBOUND_ALLOW', '10.0.0.0/99'],
  ]) {
    assert.throws(() => loadConfig({ [key!]: value }), new RegExp(`^ConfigError: Invalid configuration: ${key} `), key);
  }
});
