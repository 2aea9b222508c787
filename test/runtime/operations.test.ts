import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import knex from 'knex';
import { DIALECT, PG_URL, startTestBridge, waitFor, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import { RETENTION, sweep } from '../../app/runtime/retention-task.ts';
import type { Job } from '../../app/store/jobs.ts';

async function post(b: TestBridge, providerChannelId: string, conversationId: string, text: string): Promise<string> {
  const fd = new FormData();
  fd.append('message', text);
  fd.append('conversationId', conversationId);
  const res = await b.call(`/api/channels/${providerChannelId}/messages`, { method: 'POST', body: fd });
  assert.equal(res.status, 200);
  return (await res.json()).data.id;
}

describe('operations', () => {
  test('dead letters are listed and replayed from the shell; a replayed send that succeeds clears the failure', async () => {
    const platform = new TestPlatform();
    const b = await startTestBridge({ platforms: { test: platform.factory() } });
    try {
      const channel = await seedChannel(b);
      const conv = await seedConversation(b, channel);
      platform.script = ['permanent'];
      const dead = waitFor(b.outbox, 'dead', (j: Job) => j.kind === 'platform.send');
      const id = await post(b, channel.providerChannelId, conv.id, 'try again later');
      const [job] = await dead;

      const env = { ...process.env, ...b.dbEnv };
      const list = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dead-letters.ts', 'list'], { env, encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, new RegExp(`^${job.id}\\tplatform\\.send\\tattempts=1\\t.*platform rejected the message`, 'm'));

      const replay = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dead-letters.ts', 'replay', String(job.id)], { env, encoding: 'utf8' });
      // Armed after spawnSync: it blocks this process (the bridge included) for as long as the
      // script runs, so a timer armed before it could expire before the worker ever ran. Nothing
      // can finish the job before this line for the same reason.
      const delivered = waitFor(b.outbox, 'done', (j: Job) => j.id === job.id);
      assert.equal(replay.status, 0, replay.stderr);
      assert.match(replay.stdout, /replayed 1 job/);
      b.outbox.kick();
      await delivered;
      const msg = await (await b.call(`/api/channels/${channel.providerChannelId}/messages/${id}`)).json();
      assert.equal(msg.status, 'sent');
      assert.equal(platform.sent.filter((s) => s.message.message.id === id).length, 1);

      const none = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dead-letters.ts', 'replay', '999999'], { env, encoding: 'utf8' });
      assert.equal(none.status, 1);
    } finally {
      await b.close();
    }
  });

  test('retention purges finished jobs and expired event keys, keeps recent ones', async () => {
    const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
    try {
      const now = Date.now();
      const old = now - RETENTION.doneJobsMs - 1000;
      await b.db('jobs').insert([
        { kind: 'platform.send', payload: '{}', status: 'done', attempts: 1, max_attempts: 3, run_at: old, created_at: old, updated_at: old },
        { kind: 'platform.send', payload: '{}', status: 'done', attempts: 1, max_attempts: 3, run_at: now, created_at: now, updated_at: now },
        { kind: 'platform.send', payload: '{}', status: 'dead', attempts: 1, max_attempts: 3, run_at: old, created_at: old, updated_at: old },
      ]);
      await b.db('inbound_events').insert([
        { source: 's', event_key: 'old', received_at: now - RETENTION.eventKeysMs - 1000 },
        { source: 's', event_key: 'fresh', received_at: now - 25 * 3_600_000 },
      ]);
      // The leader's own sweep may run first; either way the end state is the same.
      await sweep(b.db, now);
      assert.deepEqual(
        (await b.db('inbound_events').select('event_key')).map((r) => r.event_key),
        ['fresh'],
      );
      assert.equal(Number((await b.db('jobs').count({ n: '*' }).first())?.n), 2, 'the recent done job and the 7-day-old dead letter stay');
    } finally {
      await b.close();
    }
  });

  test('singletons run in exactly one process and move when the leader stops', async (t) => {
    if (DIALECT !== 'postgres') return t.skip('leader election is a PostgreSQL advisory lock; sqlite runs one process');
    const a = await startTestBridge({ platforms: { test: new TestPlatform().factory() } });
    const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, shareDb: a });
    try {
      if (!a.singletons.isLeader && !b.singletons.isLeader) await Promise.race([waitFor(a.singletons, 'elected'), waitFor(b.singletons, 'elected')]);
      const [leader, follower] = a.singletons.isLeader ? [a, b] : [b, a];
      assert.equal(follower.singletons.isLeader, false);
      const takeover = waitFor(follower.singletons, 'elected');
      await leader.stop();
      await takeover;
      assert.equal(follower.singletons.isLeader, true);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

test(
  'several processes starting at once on a fresh PostgreSQL schema all come up: one migrates, the others wait',
  { skip: DIALECT !== 'postgres' && 'PostgreSQL only: sqlite runs one process' },
  async () => {
    const schema = `t_race_${process.pid}_${Date.now()}`;
    const env = { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema };
    const started = await Promise.allSettled([startTestBridge({ env }), startTestBridge({ env }), startTestBridge({ env })]);
    const bridges = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      assert.deepEqual(
        started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'up')),
        ['up', 'up', 'up'],
      );
      for (const b of bridges) assert.equal((await b.call('/healthz', { auth: false })).status, 200);
    } finally {
      await Promise.all(bridges.map((b) => b.stop()));
      const db = knex({ client: 'pg', connection: PG_URL });
      await db.raw('drop schema if exists ?? cascade', [schema]).finally(() => db.destroy());
    }
  },
);
