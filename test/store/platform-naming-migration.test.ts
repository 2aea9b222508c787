import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { migrationSource } from '../../db/migrations/index.ts';
import { DIALECT, PG_URL } from '../support/harness.ts';

/** A database as release 012 left it, with a channel, a platform message and queued/dead platform jobs. */
async function seedAt012(db: Knex, schemaName?: string): Promise<void> {
  for (;;) {
    const [done] = (await db.migrate.list({ migrationSource, schemaName })) as [Array<{ name?: string } | string>, unknown];
    if (done.length && String((done.at(-1) as { name?: string }).name ?? done.at(-1)) === '012_transcripts') break;
    await db.migrate.up({ migrationSource, schemaName });
  }
  const now = Date.now();
  await db('channels').insert({ id: 'ch_1', provider_channel_id: 'airy-1', provider: 'airy', name: 'Old', config_enc: 'x', status: 'active', created_at: now, updated_at: now });
  const [{ pk }] = (await db('conversations').insert({ id: 'conv-1', channel_id: 'ch_1', status: 'open', provider_ref: 'ref-1', provider_state: '{}', created_at: now, updated_at: now }, ['pk'])) as [
    { pk: number },
  ];
  await db('messages').insert([
    { id: 'm_in', conversation_pk: pk, channel_id: 'ch_1', provider_message_id: 'airy-msg-1', origin: 'provider', sender_id: 'a', text: 'hi', status: 'sent', created_at: now, updated_at: now },
    { id: 'm_out', conversation_pk: pk, channel_id: 'ch_1', provider_message_id: null, origin: 'pipedrive', sender_id: 'b', text: 'yo', status: 'pending', created_at: now, updated_at: now },
  ]);
  const job = { channel_id: 'ch_1', attempts: 0, max_attempts: 5, run_at: now, created_at: now, updated_at: now };
  await db('jobs').insert([
    { ...job, kind: 'provider.send', payload: '{"messageId":"m_out"}', status: 'pending', ordering_key: 'send:conv-1', idempotency_key: 'k1' },
    { ...job, kind: 'provider.send', payload: '{"messageId":"m_old"}', status: 'dead', ordering_key: 'send:conv-1', idempotency_key: 'k2' },
    { ...job, kind: 'provider.disconnect', payload: '{"channelId":"ch_1"}', status: 'pending', ordering_key: 'ch:ch_1', idempotency_key: 'k3' },
    { ...job, kind: 'pipedrive.receive', payload: '{"messageId":"m_in"}', status: 'done', ordering_key: 'recv:conv-1', idempotency_key: 'k4' },
  ]);
}

test('migration 013 renames the platform columns, job kinds and message origin, keeping every row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-mig-'));
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db =
    DIALECT === 'sqlite'
      ? knex({ client: 'better-sqlite3', connection: { filename: join(dir, 'm.sqlite') }, useNullAsDefault: true })
      : knex({ client: 'pg', connection: PG_URL, searchPath: [schema] });
  const schemaName = DIALECT === 'sqlite' ? undefined : schema;
  try {
    if (schemaName) await db.raw('create schema ??', [schemaName]);
    await seedAt012(db, schemaName);
    await db.migrate.latest({ migrationSource, schemaName });

    assert.deepEqual(await db('channels').select('id', 'platform', 'provider_channel_id'), [{ id: 'ch_1', platform: 'airy', provider_channel_id: 'airy-1' }]);
    assert.deepEqual(await db('conversations').select('platform_ref', 'platform_state'), [{ platform_ref: 'ref-1', platform_state: '{}' }]);
    assert.deepEqual(await db('messages').select('id', 'origin', 'platform_message_id').orderBy('id'), [
      { id: 'm_in', origin: 'platform', platform_message_id: 'airy-msg-1' },
      { id: 'm_out', origin: 'pipedrive', platform_message_id: null },
    ]);
    assert.deepEqual(await db('jobs').select('idempotency_key', 'kind', 'status').orderBy('idempotency_key'), [
      { idempotency_key: 'k1', kind: 'platform.send', status: 'pending' },
      { idempotency_key: 'k2', kind: 'platform.send', status: 'dead' },
      { idempotency_key: 'k3', kind: 'platform.disconnect', status: 'pending' },
      { idempotency_key: 'k4', kind: 'pipedrive.receive', status: 'done' },
    ]);
    // The unique key on (channel, platform ref) came along with the rename.
    await assert.rejects(db('conversations').insert({ id: 'conv-2', channel_id: 'ch_1', status: 'open', platform_ref: 'ref-1', created_at: 1, updated_at: 1 }));

    // And 013 back down again, for an operator who rolls back (later migrations stay: none depends on it).
    await db.migrate.down({ migrationSource, schemaName, name: '013_platform_naming' });
    assert.deepEqual(await db('channels').select('provider'), [{ provider: 'airy' }]);
    assert.equal((await db('jobs').where({ idempotency_key: 'k1' }).first()).kind, 'provider.send');
    assert.equal((await db('messages').where({ id: 'm_in' }).first()).origin, 'provider');
  } finally {
    if (schemaName) await db.raw('drop schema if exists ?? cascade', [schemaName]).catch(() => {});
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
