import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { DIALECT } from '../support/harness.ts';
import { adminCall } from '../support/install.ts';
import { startPipedriveRig } from '../support/pipedrive-rig.ts';
import { startAlvariaRig } from '../support/alvaria.ts';
import { randomUUID } from 'node:crypto';
import { sign } from '../support/test-provider.ts';

/** The driver the app uses, opened directly as "another process" would (it ships no types). */
interface SqliteDb {
  exec(sql: string): void;
  pragma(s: string): unknown;
  close(): void;
  readonly inTransaction: boolean;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => SqliteDb;

/**
 * A POST on a new connection: after a slow setup a pooled keep-alive socket may be one the
 * server is just closing (its keepAliveTimeout), which fetch reports as ECONNRESET.
 */
function postFresh(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; retryAfter: string | null; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * sqlite: another process holds the write lock. Reads must not queue behind our blocked
 * write, and the webhook whose write cannot get the lock answers 503 with Retry-After (the
 * platform retries or shows "try again"), not 500.
 */
describe('sqlite: a write lock held by another process', { skip: DIALECT !== 'sqlite' && 'a sqlite locking scenario' }, () => {
  let rig: Awaited<ReturnType<typeof startPipedriveRig>>;
  let other: SqliteDb;

  before(async () => {
    rig = await startPipedriveRig();
    const file = rig.bridge.config.database.client === 'sqlite' ? rig.bridge.config.database.filename : '';
    other = new Database(file);
    other.pragma('journal_mode = WAL');
  });
  after(async () => {
    if (other.inTransaction) other.exec('rollback');
    other.close();
    await rig.close();
  });

  test('pages and the admin API answer while a webhook waits for the lock; the webhook then gets 503 + Retry-After', async () => {
    other.exec('begin immediate');
    let webhookSettled = false;
    const body = JSON.stringify({ eventId: 'locked-1', conversationId: rig.conversationId, text: 'while locked' });
    const webhook = postFresh(`${rig.bridge.url}/webhooks/test/${rig.channel.id}`, { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) }, body).finally(
      () => (webhookSettled = true),
    );
    // Give the webhook's write the connection first, as in the finding.
    await new Promise((r) => setImmediate(r));

    const page = await rig.bridge.call(`/api/channels/${rig.channel.provider_channel_id}/conversations`);
    assert.equal(page.status, 200);
    const channels = await adminCall(rig.bridge, rig.cookie, 'GET', '/channels');
    assert.equal(channels.status, 200);
    assert.equal(webhookSettled, false, 'the reads did not wait for the blocked write');

    const res = await webhook;
    assert.equal(res.status, 503);
    assert.match(res.retryAfter ?? '', /^\d+$/);
    assert.equal(typeof (JSON.parse(res.body) as { error?: unknown }).error, 'string');
    other.exec('rollback');

    // Once the lock is gone the platform's retry is stored (exactly once).
    const retry = await fetch(`${rig.bridge.url}/webhooks/test/${rig.channel.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) },
      body,
    });
    assert.equal(retry.status, 200);
  });
});

describe('sqlite: an Alvaria callback while another process holds the write lock', { skip: DIALECT !== 'sqlite' && 'a sqlite locking scenario' }, () => {
  test('answers 503 with Retry-After (Alvaria retries), then the retry is stored', async () => {
    const rig = await startAlvariaRig();
    const file = rig.b.config.database.client === 'sqlite' ? rig.b.config.database.filename : '';
    const other = new Database(file);
    try {
      const event = { eventId: randomUUID(), event: 'MESSAGE_STATUS', sessionId: 'no-such-session', messageId: 'm-1', status: 'FAILED', statusMessage: 'x' };
      other.exec('begin immediate');
      const locked = await postFresh(rig.notes.callback_url!, { 'content-type': 'application/json', authorization: (await rig.fake.signer.authorization()) ?? '' }, JSON.stringify(event));
      assert.equal(locked.status, 503);
      assert.match(locked.retryAfter ?? '', /^\d+$/);
      other.exec('rollback');
      assert.equal((await rig.callback(event)).status, 200);
    } finally {
      if (other.inTransaction) other.exec('rollback');
      other.close();
      await rig.close();
    }
  });
});
