import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname } from 'node:path';
import { SPEC_AVAILABLE } from '../../fakes/pipedrive/contract.ts';
import { adminCall } from '../support/install.ts';

/**
 * `npm run demo` as a newcomer runs it, in a child process. The demo always uses its own
 * temporary sqlite (whatever TEST_DB says), so this file is the same on both dialects.
 */
function runDemo(
  env: Record<string, string>,
  onStdout?: (all: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
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

/**
 * The demo always runs on its own sqlite, so the PostgreSQL pass would repeat the same run: it
 * runs on the sqlite pass only. Each step has its own 15 s bound (a hang fails there, named); the
 * test bound only has to cover a whole story on a loaded 2-core machine.
 */
const demoRun = { skip: process.env.TEST_DB === 'postgres' && 'the demo uses its own sqlite whatever the database: run on the sqlite pass only', timeout: 120_000 };

const databaseDir = (out: string) => {
  const m = /Database: +(\S+)\/demo\.sqlite/.exec(out);
  assert.ok(m, 'the demo names its temporary database');
  return dirname(`${m[1]}/demo.sqlite`);
};

test('the demo plays the whole story and exits 0 in once-mode', demoRun, async () => {
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

  // The contract claim is only made when the OpenAPI check ran (it needs Pipedrive's OpenAPI file beside the clone).
  if (SPEC_AVAILABLE) assert.match(r.out, /matched Pipedrive's contract \(0 problems\)/);
  else assert.match(r.out, /not validated against Pipedrive's OpenAPI file \(it is not beside this checkout\)/);
  if (!SPEC_AVAILABLE) assert.doesNotMatch(r.out, /matched Pipedrive's contract/);
  assert.match(r.out, /Admin page: +http:\/\/127\.0\.0\.1:\d+\/admin/);
  assert.match(r.out, /open http:\/\/127\.0\.0\.1:\d+\/auth\/pipedrive in a browser/);
  assert.equal(existsSync(databaseDir(r.out)), false, 'the temporary database is removed on exit');
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

test(
  "without once-mode the demo keeps running (DEMO_HOST=0.0.0.0: reachable on this machine's address), a person connects a channel by hand with the printed values, and Ctrl-C (SIGINT) stops it cleanly",
  demoRun,
  async () => {
    let admin: Promise<{ page: number; connected: number }> | undefined;
    let signalled = false;
    const r = await runDemo({ DEMO_EXIT: '', DEMO_HOST: '0.0.0.0' }, (out, child) => {
      if (signalled || !out.includes('Press Ctrl-C to stop')) return;
      signalled = true;
      // While it runs the app answers, and signing in through the fake OAuth reaches the admin page.
      const base = /Admin page: +(http:\/\/\S+)\/admin/.exec(out)![1]!;
      const apiUrl = /Airy Core\n +API URL \(api_url\) +(\S+)/.exec(out)?.[1];
      const token = /System token \(system_token\) +(\S+)/.exec(out)?.[1];
      admin = (async () => {
        if (external) assert.equal(new URL(base).hostname, external, "URLs use the machine's address");
        const { page, cookie } = await signIn(base);
        assert.ok(apiUrl && token, `the demo prints Airy's URL and token\n${out}`);
        const res = await adminCall({ url: base }, cookie, 'POST', '/channels', { provider: 'airy', name: 'By hand', config: { api_url: apiUrl, system_token: token } });
        return { page, connected: res.status };
      })().finally(() => child.kill('SIGINT'));
      admin.catch(() => {}); // awaited once the child has exited
    });
    assert.ok(signalled, `the demo never said it keeps running\n${r.out}\n${r.err}`);
    assert.deepEqual(await admin, { page: 200, connected: 201 });
    assert.match(r.out, /Client secret \(client_secret\) +\S+/);
    assert.match(r.out, /-----BEGIN PUBLIC KEY-----/);
    assert.equal(r.code, 0, `exit code (signal ${r.signal})\n${r.out}\n${r.err}`);
    assert.match(r.out, /Ctrl-C: stopping the app and the fakes/);
    assert.equal(existsSync(databaseDir(r.out)), false, 'the temporary database is removed on Ctrl-C');
  },
);

/** A browser's trip: /auth/pipedrive → the fake's authorize → the callback (state cookie) → /admin (session cookie). */
async function signIn(base: string): Promise<{ page: number; cookie: string }> {
  const start = await fetch(`${base}/auth/pipedrive`, { redirect: 'manual' });
  const state = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const approved = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie: state } });
  const session = callback.headers
    .getSetCookie()
    .find((c) => c.startsWith('pdb_session='))!
    .split(';')[0]!;
  const page = await fetch(`${base}/admin`, { headers: { cookie: session } });
  return { page: page.status, cookie: session };
}
