import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { startTestBridge, waitFor, type TestBridge } from '../support/harness.ts';
import { seedChannel, seedConversation, seedInbound } from '../support/seed.ts';
import { TestPlatform } from '../support/test-provider.ts';
import type { Channel } from '../../app/ground/records.ts';
import type { Job } from '../../app/store/jobs.ts';
import type { PipedriveGateway } from '../../app/flows/channels-api/receive-job.ts';
import { watchStatements } from '../../scripts/lib/statements.ts';

/** A Pipedrive that holds every delivery until `release()`, which answers them all in one turn. */
class HeldGateway implements PipedriveGateway {
  readonly held = new EventEmitter<{ held: [string] }>();
  private waiting: Array<() => void> = [];
  count = 0;
  /** What each delivery carried: message id → text. */
  readonly sent = new Map<string, string>();

  async receiveMessage(_channel: Channel, body: { id: string; message: string }): Promise<void> {
    this.sent.set(body.id, body.message);
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.count++;
      this.held.emit('held', body.id);
    });
  }

  release(): void {
    for (const answer of this.waiting.splice(0)) answer();
  }

  /** Answers the oldest delivery still held. */
  releaseOne(): void {
    this.waiting.shift()?.();
  }
}

const isReceive = (job: Job) => job.kind === 'pipedrive.receive';

describe('succeeded jobs are marked done together', () => {
  const gateway = new HeldGateway();
  let b: TestBridge;
  let channel: Channel;
  /** The statements that marked jobs done, with their bindings. */
  const finishes: Array<{ sql: string; bindings: unknown[] }> = [];

  before(async () => {
    // Four slots, all usable by the one tenant of this test.
    b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, pipedrive: gateway, env: { WORKER_CONCURRENCY: '4', WORKER_TENANT_CONCURRENCY: '4' } });
    channel = await seedChannel(b);
    b.db.on('query', (q: { sql: string; bindings?: unknown[] }) => {
      if (/^update jobs set status = 'done'/.test(q.sql)) finishes.push({ sql: q.sql, bindings: q.bindings ?? [] });
    });
  });
  after(() => b.close());

  /** Three inbound messages in three conversations, each held in flight by the gateway. */
  async function holdThree(): Promise<void> {
    let held = 0;
    const allHeld = waitFor(gateway.held, 'held', () => ++held === 3);
    for (let i = 0; i < 3; i++) await seedInbound(b, channel, await seedConversation(b, channel), `together ${i}`);
    await allHeld;
  }

  test('three deliveries answered in the same turn are finished by one statement, and each emits done once', async () => {
    await holdThree();
    const inFlight = await b.db('jobs').where({ kind: 'pipedrive.receive', status: 'running' }).select('id');
    assert.equal(inFlight.length, 3);
    const done: number[] = [];
    const onDone = (job: Job) => isReceive(job) && done.push(job.id);
    b.outbox.on('done', onDone);
    let n = 0;
    const allDone = waitFor(b.outbox, 'done', (job: Job) => isReceive(job) && ++n === 3);
    finishes.length = 0;
    gateway.release();
    await allDone;
    b.outbox.off('done', onDone);

    assert.equal(finishes.length, 1, 'one statement finished all three');
    const ids = inFlight.map((r: { id: number }) => Number(r.id)).sort((x, y) => x - y);
    assert.deepEqual(
      [...done].sort((x, y) => x - y),
      ids,
      'each job emitted done exactly once',
    );
    // The statement names its jobs with their claims' tokens as one JSON list.
    const named = (JSON.parse(String(finishes[0]!.bindings.at(-1))) as Array<{ id: number }>).map((h) => Number(h.id)).sort((x, y) => x - y);
    assert.deepEqual(named, ids);
    const rows = await b.db('jobs').whereIn('id', ids).select('status', 'locked_by');
    assert.deepEqual(
      rows.map((r: { status: string; locked_by: string | null }) => [r.status, r.locked_by]),
      ids.map(() => ['done', null]),
    );
  });

  test('a job among them whose lease another claim took over is reported lost and keeps that claim; the others finish', async () => {
    await holdThree();
    const inFlight = (await b.db('jobs').where({ kind: 'pipedrive.receive', status: 'running' }).orderBy('id').select('id')).map((r: { id: number }) => Number(r.id));
    assert.equal(inFlight.length, 3);
    const stolen = inFlight[1]!;
    // As if its lease had run out and another worker had claimed it again.
    await b.db('jobs').where({ id: stolen }).update({ locked_by: 'another-worker:1' });
    const events: Array<[string, number]> = [];
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const record = (kind: string) => (job: Job) => {
      if (isReceive(job) && events.push([kind, job.id]) === 3) settle();
    };
    const onDone = record('done');
    const onLost = record('lost');
    b.outbox.on('done', onDone);
    b.outbox.on('lost', onLost);
    finishes.length = 0;
    gateway.release();
    await settled;
    b.outbox.off('done', onDone);
    b.outbox.off('lost', onLost);

    assert.equal(finishes.length, 1, 'one statement for the three');
    assert.deepEqual(
      events.filter(([, id]) => id === stolen),
      [['lost', stolen]],
    );
    assert.deepEqual(
      events
        .filter(([kind]) => kind === 'done')
        .map(([, id]) => id)
        .sort((x, y) => x - y),
      [inFlight[0], inFlight[2]],
    );
    const row = await b.db('jobs').where({ id: stolen }).first();
    assert.equal(row.status, 'running', 'the late attempt did not finish the job another claim holds');
    assert.equal(row.locked_by, 'another-worker:1');
    const others = await b.db('jobs').whereIn('id', [inFlight[0]!, inFlight[2]!]).select('status');
    assert.deepEqual(
      others.map((r: { status: string }) => r.status),
      ['done', 'done'],
    );
  });
});

describe('the message jobs of one claim read their messages together', () => {
  test('three deliveries claimed together cost one context read, and each sends its own message', async () => {
    const gateway = new HeldGateway();
    const b = await startTestBridge({ platforms: { test: new TestPlatform().factory() }, pipedrive: gateway, env: { WORKER_CONCURRENCY: '4', WORKER_TENANT_CONCURRENCY: '4' } });
    try {
      const channel = await seedChannel(b);
      // Queued while no worker runs, so that one claim takes all three.
      await b.outbox.stop();
      const messages = [];
      for (const text of ['ahead one', 'ahead two', 'ahead three']) messages.push(await seedInbound(b, channel, await seedConversation(b, channel), text));
      const reads: unknown[][] = [];
      watchStatements(b.db, (q) => {
        // The delivery read (app/store/message-context.ts), in either dialect's form.
        if (/c__provider_channel_id/.test(q.sql ?? '')) reads.push(q.bindings ?? []);
      });
      let held = 0;
      const allHeld = waitFor(gateway.held, 'held', () => ++held === 3);
      b.outbox.start();
      await allHeld;

      assert.equal(reads.length, 1, 'one statement read the three messages with their context');
      for (const m of messages) assert.ok(String(reads[0]![0]).includes(m.id), `the read named ${m.id}`);
      assert.deepEqual(
        messages.map((m) => gateway.sent.get(m.id)),
        ['ahead one', 'ahead two', 'ahead three'],
        'each delivery carried its own message',
      );
      gateway.release();
    } finally {
      await b.close();
    }
  });
});

describe('slots freed while other jobs run are claimed for together', () => {
  test('four answers that come one at a time free four slots, and one claim takes the next four deliveries', async () => {
    const gateway = new HeldGateway();
    // Eight slots for the one tenant; the batch window is long, so only the count of freed slots
    // (4: CLAIM_BATCH) makes the claim, and no idle poll claims meanwhile.
    const b = await startTestBridge({
      platforms: { test: new TestPlatform().factory() },
      pipedrive: gateway,
      env: { WORKER_CONCURRENCY: '8', WORKER_TENANT_CONCURRENCY: '8', WORKER_CLAIM_BATCH_MS: '60000', WORKER_POLL_MS: '60000' },
    });
    try {
      const channel = await seedChannel(b);
      // Twelve conversations queued while no worker runs: the first claim takes eight.
      await b.outbox.stop();
      for (let i = 0; i < 12; i++) await seedInbound(b, channel, await seedConversation(b, channel), `queued ${i}`);
      let held = 0;
      const firstEight = waitFor(gateway.held, 'held', () => ++held === 8);
      b.outbox.start();
      await firstEight;

      const claims: number[] = [];
      watchStatements(b.db, (q) => {
        if (/^update jobs set status = 'running'/.test(q.sql ?? '')) claims.push(Date.now());
      });
      const nextFour = waitFor(gateway.held, 'held', () => ++held === 12);
      for (let i = 0; i < 4; i++) {
        const done = waitFor(b.outbox, 'done', isReceive);
        gateway.releaseOne();
        await done;
        if (i < 3) assert.equal(claims.length, 0, `no claim after ${i + 1} freed slot(s)`);
      }
      await nextFour;
      assert.equal(claims.length, 1, 'one claim took the four next deliveries');
      assert.equal(gateway.count, 12);
      gateway.release();
    } finally {
      await b.close();
    }
  });
});
