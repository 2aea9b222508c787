import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../../app/store/jobs.ts';
import { waitFor } from '../../support/harness.ts';
import { adminCall, installVia } from '../../support/install.ts';
import { startPipedriveRig } from '../../support/pipedrive-rig.ts';

const refused = { status: 400, body: { success: false, error: 'bad payload', additional_data: { code: 'INVALID_RECEIVE_MESSAGE_PAYLOAD' } } };

test('dead letters on the admin page: listed with reason and summary, replayed one by one or all, only by their owner', async () => {
  const rig = await startPipedriveRig();
  try {
    const { bridge, fake, cookie } = rig;
    const died = (n: number) => {
      const ids: Job[] = [];
      return new Promise<Job[]>((resolve) => {
        const on = (j: Job) => {
          if (j.kind !== 'pipedrive.receive') return;
          ids.push(j);
          if (ids.length === n) {
            bridge.outbox.off('dead', on);
            resolve(ids);
          }
        };
        bridge.outbox.on('dead', on);
      });
    };
    const dead = died(2);
    fake.failNext('receive', refused);
    fake.failNext('receive', refused);
    const a = await rig.inbound('first words');
    const b = await rig.inbound('x'.repeat(500));
    assert.deepEqual([a.status, b.status], [200, 200]);
    await dead;

    const listed = await adminCall(bridge, cookie, 'GET', '/dead-letters');
    assert.equal(listed.status, 200);
    const { dead_letters } = (await listed.json()) as { dead_letters: any[] };
    assert.equal(dead_letters.length, 2);
    const [newest, oldest] = dead_letters;
    assert.equal(oldest.kind, 'pipedrive.receive');
    assert.equal(oldest.channel_name, 'Support');
    assert.match(oldest.reason, /HTTP 400/);
    assert.equal(oldest.summary, `message ${a.body.id} in conversation ${rig.conversationId}: "first words"`);
    assert.ok(newest.summary.endsWith(`${'x'.repeat(120)}…"`), 'long texts are cut short');
    assert.ok(!Number.isNaN(Date.parse(oldest.failed_at)));

    const page = await (await fetch(`${bridge.url}/admin`, { headers: { cookie } })).text();
    assert.match(page, /<table id="dead-letters"/);
    assert.match(page, /first words/);
    assert.match(page, /id="figures"/);
    assert.match(page, /<strong>2<\/strong> dead letters/);

    // Another company's admin neither sees nor replays them.
    const stranger = fake.addUser({ id: 3003, company_id: 99, name: 'Other Co admin' });
    const other = await installVia(bridge, fake, { userId: stranger.id });
    assert.deepEqual(await (await adminCall(bridge, other.cookie, 'GET', '/dead-letters')).json(), { dead_letters: [] });
    assert.equal((await adminCall(bridge, other.cookie, 'POST', `/dead-letters/${oldest.id}/replay`, {})).status, 404);
    assert.deepEqual(await (await adminCall(bridge, other.cookie, 'POST', '/dead-letters/replay', {})).json(), { replayed: 0 });

    // Writes are JSON only and need a session.
    const form = await fetch(`${bridge.url}/admin/api/dead-letters/replay`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
    assert.equal(form.status, 415);
    assert.equal((await adminCall(bridge, 'pdb_session=forged', 'POST', '/dead-letters/replay', {})).status, 401);
    assert.equal((await adminCall(bridge, cookie, 'POST', '/dead-letters/not-a-number/replay', {})).status, 404);

    const first = fake.next('message', (m) => m.id === a.body.id);
    const one = await adminCall(bridge, cookie, 'POST', `/dead-letters/${oldest.id}/replay`, {});
    assert.deepEqual(await one.json(), { replayed: 1 });
    assert.equal((await first).message, 'first words');
    assert.equal((await adminCall(bridge, cookie, 'POST', `/dead-letters/${oldest.id}/replay`, {})).status, 404, 'no longer dead');

    const second = waitFor<[Job]>(bridge.outbox, 'done', (j) => j.id === newest.id);
    assert.deepEqual(await (await adminCall(bridge, cookie, 'POST', '/dead-letters/replay', {})).json(), { replayed: 1 });
    await second;
    assert.equal(fake.state.messages.get(b.body.id!)!.versions, 1);
    assert.deepEqual(await (await adminCall(bridge, cookie, 'GET', '/dead-letters')).json(), { dead_letters: [] });
  } finally {
    await rig.close();
  }
});
