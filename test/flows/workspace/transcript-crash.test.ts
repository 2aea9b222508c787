import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../app/ground/config.ts';
import { createDb } from '../../../app/store/db.ts';
import { AppProcess } from '../../../scripts/soak/app-process.ts';
import { FakeAiry } from '../../../fakes/airy/index.ts';
import { mintUiToken, startFakePipedrive, type FakeNote } from '../../../fakes/pipedrive/server.ts';
import { CLIENT_ID, CLIENT_SECRET, freePort, freshDatabaseEnv } from '../../support/harness.ts';
import { adminCall, installVia } from '../../support/install.ts';

const linesOf = (content: string) => [...content.matchAll(/<p>\d{4}-\d\d-\d\d \d\d:\d\d UTC · <b>.*?<\/b>: (.*?)<\/p>/g)].map((m) => m[1]!);

test('kill -9 during a transcript flush (after Pipedrive stored the POST, then during a PUT) and restart: every line is on the deal exactly once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-crash-'));
  const fake = await startFakePipedrive();
  const airy = await FakeAiry.start();
  const dbEnv = freshDatabaseEnv(dir);
  const port = await freePort();
  const env: Record<string, string> = {
    APP_URL: `http://127.0.0.1:${port}`,
    APP_SECRET: randomBytes(32).toString('hex'),
    PIPEDRIVE_CLIENT_ID: CLIENT_ID,
    PIPEDRIVE_CLIENT_SECRET: CLIENT_SECRET,
    PIPEDRIVE_OAUTH_URL: fake.oauthUrl,
    PIPEDRIVE_API_URL: fake.apiUrl,
    FILES_STORE: join(dir, 'files'),
    LOG_LEVEL: 'info',
    WORKER_POLL_MS: '25',
    JOB_LEASE_SECONDS: '1',
    JOB_BACKOFF_BASE_MS: '5',
    JOB_BACKOFF_CAP_MS: '50',
    LEADER_CHECK_MS: '50',
    TRANSCRIPT_FLUSH_SECONDS: '0',
    OUTBOUND_ALLOW: '127.0.0.0/8',
    ...dbEnv.env,
  };
  const app = new AppProcess('crash', port, env, join(dir, 'app.log'));
  const db = createDb(loadConfig({ ...env, PORT: String(port) }).database);
  try {
    await app.start();
    const { cookie, user } = await installVia({ url: app.url, db }, fake);
    fake.addRecord('deal', 5, 'Big deal');
    const res = await adminCall({ url: app.url }, cookie, 'POST', '/channels', { provider: 'airy', name: 'Airy desk', config: { api_url: airy.url, system_token: airy.systemToken } });
    assert.equal(res.status, 201, await res.clone().text());
    const channelId = ((await res.json()) as { channel: { id: string } }).channel.id;
    const token = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: CLIENT_SECRET, ttl: 3600 });
    const call = async (method: string, path: string, body: unknown) => {
      const r = await fetch(`${app.url}/ui/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.ok(r.status === 201 || r.status === 200, `${path} answered ${r.status}: ${await r.clone().text()}`);
      return (await r.json()) as any;
    };
    const conversationId: string = (await call('POST', '/conversations', { channelId, record: { type: 'deal', id: 5 } })).conversation.id;
    const say = (text: string) => call('POST', `/conversations/${conversationId}/messages`, { text });
    const noteWith = (text: string, op: 'add' | 'update') => fake.next('note', (n: FakeNote, o: 'add' | 'update') => o === op && n.deal_id === 5 && linesOf(n.content).includes(text), 60_000);

    // 1. The first POST reaches Pipedrive; the process dies before it hears the answer.
    let killed: Promise<void> | undefined;
    fake.noteHooks.afterWrite = async (op) => {
      if (op === 'add' && !killed) {
        killed = app.kill();
        await killed;
      }
    };
    const posted = noteWith('line 1', 'add');
    await say('line 1');
    await posted;
    await killed;
    assert.equal(app.alive, false);
    await app.start();
    // After the lease the job runs again, finds the posted note by its token and completes it.
    await say('line 2');
    await noteWith('line 2', 'update');

    // 2. A PUT is cut off the same way.
    killed = undefined;
    fake.noteHooks.afterWrite = async (op) => {
      if (op === 'update' && !killed) {
        killed = app.kill();
        await killed;
      }
    };
    const put = noteWith('line 3', 'update');
    await say('line 3');
    await put;
    // eslint-disable-next-line @typescript-eslint/await-thenable -- the hook above assigns it; TypeScript's narrowing does not see that
    await killed;
    await app.start();
    fake.noteHooks.afterWrite = null;
    await say('line 4');
    await noteWith('line 4', 'update');

    const notes = fake.notesOf('deal', 5);
    assert.equal(notes.length, 1, 'one note, never a second for the same lines');
    assert.deepEqual(linesOf(notes[0]!.content), ['line 1', 'line 2', 'line 3', 'line 4']);
    assert.equal(app.kills, 2);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- app log (tail) ---\n${readFileSync(app.logFile, 'utf8').split('\n').slice(-30).join('\n')}`, { cause: err });
  } finally {
    await app.stop();
    await db.destroy();
    await airy.close();
    await fake.close();
    await dbEnv.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
