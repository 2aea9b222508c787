import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `npm run demo` as a newcomer runs it, in a child process. The demo always uses its own
 * temporary sqlite (whatever TEST_DB says), so this file is the same on both dialects.
 */
function runDemo(env: Record<string, string>, onStdout?: (all: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    env: { ...process.env, NO_COLOR: '1', DEMO_PORT: '', DEMO_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onStdout?.(out, child);
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
}

const databaseDir = (out: string) => {
  const m = /Database: +(\S+)\/demo\.sqlite/.exec(out);
  assert.ok(m, 'the demo names its temporary database');
  return dirname(`${m[1]}/demo.sqlite`);
};

test('the demo plays the whole story and exits 0 in once-mode', { timeout: 60_000 }, async () => {
  const r = await runDemo({ DEMO_EXIT: '1' });
  assert.equal(r.code, 0, `exit code\n--- stdout\n${r.out}\n--- stderr\n${r.err}`);
  const steps = [
    '1. Install the app in Pipedrive (OAuth)',
    '2. Connect an Airy Core channel',
    '3. Connect an Alvaria Cloud channel',
    "4. Pipedrive's initial sync",
    '5. A Pipedrive user writes in "Airy support", with a PDF attached',
    '6. A Pipedrive user writes in "Alvaria service desk", with a photo attached',
    '7. An Airy user answers in the Airy inbox',
    '8. An Alvaria agent picks the session up and answers',
    '9. Read receipts from Airy back to Pipedrive',
    '10. The Alvaria session ends, and the next message reopens the conversation',
    '11. The floating window inside Pipedrive (custom UI extension, GET /ui/inbox)',
    '12. A deal panel starts a conversation about "Acme renewal 2027" on Alvaria',
    '13. The transcript becomes a note on the deal',
  ];
  for (const s of steps) assert.ok(r.out.includes(s), `missing step: ${s}\n${r.out}`);
  assert.ok(!r.out.includes('✖'), r.out);
  assert.match(r.out, /Every step worked/);
  // A person can click the workspace through the fake Pipedrive web app.
  assert.match(r.out, /window: +http:\/\/127\.0\.0\.1:\d+\/host\/window/);

  // The figures of the summary: what the fake Pipedrive received.
  assert.match(r.out, /Airy support \(airy-[^)]+\): 1 conversation\(s\), 2 message\(s\)/);
  assert.match(r.out, /Alvaria service desk \(alvaria-[^)]+\): 1 conversation\(s\), 3 message\(s\)/);
  assert.match(r.out, /Pat Admin +"Hello! Could you check the attached quote\?" +\[delivered → read\]/);
  assert.match(r.out, /John +"John joined the conversation" +\[sent\]/);
  assert.match(r.out, /John +"The session was closed by Alvaria" +\[sent\]/);
  assert.match(r.out, /Total: 2 channel\(s\), 5 message\(s\) received by Pipedrive/);
  assert.match(r.out, /The conversation is now "closed"/);
  assert.match(r.out, /The conversation is "open" again/);

  assert.match(r.out, /Admin page: +http:\/\/127\.0\.0\.1:\d+\/admin/);
  assert.match(r.out, /open http:\/\/127\.0\.0\.1:\d+\/auth\/pipedrive in a browser/);
  assert.equal(existsSync(databaseDir(r.out)), false, 'the temporary database is removed on exit');
});

test('without once-mode the demo keeps running and Ctrl-C (SIGINT) stops it cleanly', { timeout: 60_000 }, async () => {
  let admin: Promise<number> | undefined;
  let signalled = false;
  const r = await runDemo({ DEMO_EXIT: '' }, (out, child) => {
    if (signalled || !out.includes('Press Ctrl-C to stop')) return;
    signalled = true;
    // While it runs the app answers, and signing in through the fake OAuth reaches the admin page.
    const base = /Admin page: +(http:\/\/\S+)\/admin/.exec(out)![1]!;
    admin = signIn(base).finally(() => child.kill('SIGINT'));
    admin.catch(() => {}); // awaited once the child has exited
  });
  assert.ok(signalled, `the demo never said it keeps running\n${r.out}\n${r.err}`);
  assert.equal(await admin, 200);
  assert.equal(r.code, 0, `exit code (signal ${r.signal})\n${r.out}\n${r.err}`);
  assert.match(r.out, /Ctrl-C: stopping the app and the fakes/);
  assert.equal(existsSync(databaseDir(r.out)), false, 'the temporary database is removed on Ctrl-C');
});

/** A browser's trip: /auth/pipedrive → the fake's authorize → the callback (state cookie) → /admin (session cookie). */
async function signIn(base: string): Promise<number> {
  const start = await fetch(`${base}/auth/pipedrive`, { redirect: 'manual' });
  const state = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const approved = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie: state } });
  const session = callback.headers.getSetCookie().find((c) => c.startsWith('pdb_session='))!.split(';')[0]!;
  const page = await fetch(`${base}/admin`, { headers: { cookie: session } });
  return page.status;
}
