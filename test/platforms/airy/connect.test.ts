import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../../app/ground/failures.ts';
import { channelContext } from '../../../app/platforms/context.ts';
import { findChannel } from '../../../app/store/channels.ts';
import { PlatformError } from '../../../app/platforms/contract.ts';
import { adapterConnectInput, startAiryWorld, outboxEvent } from '../../support/airy.ts';

test('connecting creates the source (action endpoint = our webhook URL) and the channel on Airy; the token is stored encrypted', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state, notes } = await w.connect('Sales inbox');
    const source = w.fake.model.sources.get(state.source_id);
    assert.ok(source);
    assert.equal(state.source_id, `pipedrive-${channel.id}`);
    assert.equal(source.actionEndpoint, `${w.b.config.appUrl}/webhooks/airy/${channel.id}`);
    assert.equal(notes.webhook_url, source.actionEndpoint);
    assert.equal(source.token, state.source_token);
    const airyChannel = w.fake.model.channels.get(state.channel_id);
    assert.deepEqual(
      { source: airyChannel?.source, sourceChannelId: airyChannel?.sourceChannelId, connected: airyChannel?.connected, name: airyChannel?.metadata.name },
      { source: state.source_id, sourceChannelId: channel.providerChannelId, connected: true, name: 'Sales inbox' },
    );
    const row = await w.b.db('channels').where({ id: channel.id }).first();
    assert.ok(!JSON.stringify(row).includes(state.source_token), 'no plaintext token at rest');
    assert.ok(!JSON.stringify(row).includes(w.fake.systemToken), 'no plaintext system token at rest');

    // Deleting the channel disconnects it on Airy (through the outbox).
    const disconnected = outboxEvent(w.b, 'done', 'platform.disconnect');
    await w.b.inbox.deleteChannel(channel);
    await disconnected;
    assert.equal(w.fake.model.channels.get(state.channel_id)?.connected, false);
    // Already gone on Airy's side (source deleted → 404): tolerated.
    await w.fake.post('/sources.delete', { source_id: state.source_id });
    await w.adapter.disconnect({ channel, config: { api_url: w.fake.url, system_token: w.fake.systemToken }, state });
  } finally {
    await w.close();
  }
});

test('connect errors are actionable and never echo a token; 409 "Source already exists" is refused, not adopted', async () => {
  const w = await startAiryWorld();
  try {
    const req = { platform: 'airy', name: 'x', avatarUrl: null, templates: [], installationId: null };
    await assert.rejects(w.b.flows.connectChannel({ ...req, config: { api_url: w.fake.url } }), (e: AppError) => e.code === 'INVALID_BODY' && /system_token/.test(e.message));
    await assert.rejects(w.b.flows.connectChannel({ ...req, config: { api_url: 'ftp://x', system_token: 't' } }), (e: AppError) => e.code === 'INVALID_BODY');
    await assert.rejects(
      w.b.flows.connectChannel({ ...req, config: { api_url: w.fake.url, system_token: 'wrong-secret-token' } }),
      (e: AppError) => e.code === 'BAD_GATEWAY' && /403/.test(e.message) && !e.message.includes('wrong-secret-token'),
    );
    assert.equal(w.fake.model.sources.size, 0);

    const input = adapterConnectInput(w, 'ch_fixed');
    await w.adapter.connect(input);
    await assert.rejects(w.adapter.connect(input), (e: PlatformError) => e instanceof PlatformError && /already has a source "pipedrive-ch_fixed"/.test(e.message));
  } finally {
    await w.close();
  }
});

test('editing a channel renames the Airy source and channel with the new system token, keeps the source, and refuses a gone source', async () => {
  const w = await startAiryWorld();
  try {
    const { channel, state } = await w.connect('Sales inbox');
    const edit = (config: Record<string, unknown>, name = 'Support inbox') => w.b.flows.reconfigureChannel(channel, { name, avatarUrl: null, config });

    // A wrong token is refused by Airy; nothing is stored.
    await assert.rejects(edit({ system_token: 'wrong-token' }), (e: AppError) => e.code === 'BAD_GATEWAY' && /403/.test(e.message) && !e.message.includes('wrong-token'));
    assert.equal((await findChannel(w.b.db, channel.id))!.name, 'Sales inbox');

    const { channel: edited } = await edit({ system_token: w.fake.systemToken });
    assert.equal(edited.name, 'Support inbox');
    assert.equal(w.fake.model.sources.get(state.source_id)?.name, 'Pipedrive: Support inbox');
    assert.equal(w.fake.model.channels.get(state.channel_id)?.metadata.name, 'Support inbox');
    assert.equal(w.fake.model.sources.size, 1, 'the same source, not a new one');
    const kept = channelContext<{ system_token: string }, { source_token: string }>(edited, w.b.secrets);
    assert.equal(kept.state.source_token, state.source_token);

    // Invalid settings: every field at once, before Airy is called.
    await assert.rejects(edit({ api_url: 'not a url', system_token: '' }), (e: AppError) => {
      const fields = (e.extra.fields as Array<{ field: string; message: string }>).map((f) => [f.field, f.message]);
      assert.deepEqual(fields, [
        ['config.api_url', 'Must be an http(s) URL.'],
        ['config.system_token', 'This is required.'],
      ]);
      return true;
    });

    // The source deleted on Airy: the admin is told to connect the channel again.
    await w.fake.post('/sources.delete', { source_id: state.source_id });
    await assert.rejects(edit({}), (e: AppError) => e.code === 'BAD_GATEWAY' && /delete the channel and connect it again/.test(e.message));
  } finally {
    await w.close();
  }
});
