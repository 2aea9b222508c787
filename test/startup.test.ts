import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support/harness.ts';
import { loadConfig } from '../app/config.ts';

const MAIN = fileURLToPath(new URL('../app/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Runs `npm start`'s command in an empty directory with no configuration but PORT. */
function start(env: Record<string, string>, cwd: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APP_|DATABASE_|PIPEDRIVE_|PORT$)/.test(k)));
  return spawn(process.execPath, ['--import', TSX, MAIN], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    assert.ok(existsSync(join(cwd, 'db', 'app.sqlite')));
    assert.match(out, /APP_SECRET is not set/);
    const journal = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, ['-e', `const D=require(${JSON.stringify(import.meta.resolve('better-sqlite3').replace('file://', ''))});console.log(new D(${JSON.stringify(join(cwd, 'db', 'app.sqlite'))}).pragma('journal_mode',{simple:true}))`]);
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
