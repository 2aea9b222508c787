import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../../app/ground/failures.ts';
import { channelContext } from '../../../app/platforms/context.ts';
import { alvariaAdapterFactory } from '../../../app/platforms/alvaria/adapter.ts';
import { startTestBridge } from '../../support/harness.ts';
import { FakeAlvaria } from '../../../fakes/alvaria/server.ts';

test('connect validates the config, fetches a token, keeps secrets sealed and shows the callback URL', async () => {
  const fake = await FakeAlvaria.start();
  const b = await startTestBridge({ platforms: { alvaria: alvariaAdapterFactory({ now: fake.clock.now }) } });
  const connect = (config: Record<string, unknown>) => b.flows.connectChannel({ platform: 'alvaria', name: 'Support', avatarUrl: null, config, templates: [], installationId: null });
  try {
    const { channel, notes } = await connect(fake.channelConfig());
    assert.equal(notes.callback_url, `${b.config.appUrl}/webhooks/alvaria/${channel.id}`);
    assert.equal(fake.tokenCalls, 1, 'the credentials were checked by fetching a token');
    assert.ok(!channel.configEnc.includes(fake.clientSecret), 'config is stored encrypted');
    assert.equal(channelContext<{ client_secret: string }, unknown>(channel, b.secrets).config.client_secret, fake.clientSecret);

    await assert.rejects(connect(fake.channelConfig({ client_secret: 'nope-secret' })), (err) => {
      assert.ok(err instanceof AppError && err.code === 'BAD_GATEWAY', String(err));
      assert.match(err.message, /refused the client credentials \(HTTP 401\)/);
      assert.ok(!err.message.includes('nope-secret'));
      return true;
    });
    await assert.rejects(connect(fake.channelConfig({ callback_public_keys: ['-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----'] })), (err) => {
      assert.ok(err instanceof AppError && err.code === 'INVALID_BODY');
      assert.match(err.message, /callback_public_keys\.0/);
      return true;
    });
    await assert.rejects(connect(fake.channelConfig({ callback_public_keys: [] })), /at least one public key/i);
    await assert.rejects(connect(fake.channelConfig({ token_url: 'ftp://x' })), /token_url/);
  } finally {
    await fake.stop();
    await b.close();
  }
});
