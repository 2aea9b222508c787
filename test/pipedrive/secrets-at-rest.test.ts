import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../app/ground/log.ts';
import { PLATFORM_PARTICIPANT_ID, standingConversationId } from '../../app/domain/standing.ts';
import { findChannel } from '../../app/store/channels.ts';
import type { Job } from '../../app/store/jobs.ts';
import { DIALECT, waitFor } from '../support/harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from '../support/install.ts';
import { TestPlatform } from '../support/test-provider.ts';

test('no Pipedrive token is stored or logged in plaintext', async () => {
  const lines: string[] = [];
  const logger = createLogger('trace', { write: (s: string) => void lines.push(s) });
  const { bridge, fake, close } = await startBridgeWithPipedrive({ platforms: { test: new TestPlatform().factory() }, logger });
  try {
    const { installation, cookie, user } = await installVia(bridge, fake);
    const res = await adminCall(bridge, cookie, 'POST', '/channels', { provider: 'test', name: 'Support', config: { secret: 'platform-secret-value' } });
    assert.equal(res.status, 201);
    const channel = (await findChannel(bridge.db, ((await res.json()) as any).channel.id))!;
    // a refresh (401 → new access token), then a failure path that logs
    fake.expireAccessTokens();
    const conv = (await bridge.inbox.findConversation(channel, { id: standingConversationId(channel, user.company_id, user.id) }))!;
    const delivered = fake.next('message');
    await bridge.platform.recordInbound(channel, {
      dedupe: { source: 't', key: 'k1' },
      conversation: conv,
      senderId: PLATFORM_PARTICIPANT_ID,
      text: 'x',
      platformMessageId: 'k1',
      createdAt: Date.now(),
    });
    await delivered;
    fake.expireAccessTokens();
    fake.lapseRefreshTokens();
    const dead = waitFor<[Job, string]>(bridge.outbox, 'dead');
    await bridge.platform.recordInbound(channel, {
      dedupe: { source: 't', key: 'k2' },
      conversation: conv,
      senderId: PLATFORM_PARTICIPANT_ID,
      text: 'y',
      platformMessageId: 'k2',
      createdAt: Date.now(),
    });
    await dead;

    const tokens = [...fake.state.accessTokens.keys(), ...fake.state.refreshTokens.keys()];
    assert.ok(tokens.length >= 3, 'an exchange and a refresh happened');
    assert.ok(fake.state.counters.refreshes >= 1);

    let stored: string;
    if (DIALECT === 'sqlite') {
      const file = join(bridge.dir, 'app.sqlite');
      stored = [file, `${file}-wal`]
        .filter(existsSync)
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n');
      assert.ok(stored.includes(installation.id), 'the grep reads the real database file');
    } else {
      const rows = await bridge.db('installations').select('*');
      const channels = await bridge.db('channels').select('*');
      stored = JSON.stringify([rows, channels]);
      assert.ok(stored.includes(installation.id));
    }
    const logs = lines.join('');
    assert.ok(logs.includes('pipedrive installation stored') && logs.includes('needs reinstall'), 'the log capture saw the flow');
    for (const t of tokens) {
      assert.ok(!stored.includes(t), `token ${t.slice(0, 6)}… is in the database in plaintext`);
      assert.ok(!logs.includes(t), `token ${t.slice(0, 6)}… is in the logs`);
    }
    assert.ok(!stored.includes('platform-secret-value'), 'channel credentials are sealed too');
    assert.ok(!logs.includes('platform-secret-value'));
  } finally {
    await close();
  }
});
