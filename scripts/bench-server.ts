/**
 * The process under load for `npm run bench`: the real bridge (sqlite by default, or
 * DATABASE_URL) seeded with a channel of conversations, plus a bare Koa handler as the
 * baseline, in the same process. Prints one JSON line with the URLs when ready.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { z } from 'zod';
import { loadConfig } from '../app/config.ts';
import { startBridge } from '../app/bridge.ts';
import { connectChannel } from '../app/inbox/channels.ts';
import { createLogger } from '../app/log.ts';

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40);

const dir = mkdtempSync(join(tmpdir(), 'pdb-bench-'));
const config = loadConfig({
  PORT: '0',
  APP_SECRET: randomBytes(32).toString('hex'),
  PIPEDRIVE_CLIENT_ID: 'bench',
  PIPEDRIVE_CLIENT_SECRET: 'bench-secret',
  FILES_DIR: join(dir, 'files'),
  DATABASE_URL: process.env.DATABASE_URL || `sqlite:${join(dir, 'bench.sqlite')}`,
  DATABASE_SCHEMA: process.env.DATABASE_URL ? `bench_${randomBytes(4).toString('hex')}` : '',
  LOG_LEVEL: 'silent',
  WORKER_POLL_MS: '50',
});

// A platform that accepts every send at once: the bench measures the bridge, not a provider.
const bridge = await startBridge(config, {
  logger: createLogger('silent'),
  providers: {
    bench: () => ({
      kind: 'bench',
      displayName: 'Bench',
      configSchema: z.object({}),
      connect: async () => ({ state: {} }),
      disconnect: async () => {},
      send: async ({}, m) => ({ providerMessageId: `b-${m.message.id}` }),
    }),
  },
});
const { channel } = await connectChannel(
  { db: bridge.db, secrets: bridge.secrets, registry: bridge.registry, appUrl: bridge.config.appUrl },
  { provider: 'bench', name: 'Bench', avatarUrl: null, config: {}, templates: [], installationId: null },
);
let firstConversation = '';
let firstMessage = '';
for (let c = 0; c < CONVERSATIONS; c++) {
  const conv = await bridge.inbox.ensureConversation(channel, {
    id: `bench-${c}`,
    participants: [
      { id: `pd-${c}`, role: 'source_user', name: `User ${c}`, avatarUrl: null, email: null },
      { id: 'agent', role: 'end_user', name: 'Agent', avatarUrl: null, email: null },
    ],
  });
  firstConversation ||= conv.id;
  await bridge.db.transaction(async (tx) => {
    for (let m = 0; m < MESSAGES; m++) {
      const r = await bridge.inbox.recordInbound(
        channel,
        { dedupe: { source: 'bench', key: `${c}-${m}` }, conversation: conv, senderId: 'agent', text: `message ${m} of ${c}`, providerMessageId: null, createdAt: Date.now() },
        tx,
      );
      if (!firstMessage && 'message' in r) firstMessage = r.message.id;
    }
  });
}
// The seeded receive jobs have no Pipedrive to go to; drop them so the worker idles during the bench.
await bridge.db('jobs').delete();

const bare = new Koa();
bare.use((ctx) => {
  ctx.body = { success: true, data: [] };
});
const bareServer = createServer(bare.callback()).listen(0);
await new Promise((r) => bareServer.once('listening', r));

process.stdout.write(
  `${JSON.stringify({
    bridge: bridge.url,
    bare: `http://127.0.0.1:${(bareServer.address() as { port: number }).port}`,
    providerChannelId: channel.providerChannelId,
    conversation: firstConversation,
    message: firstMessage,
    db: config.database.client,
    conversations: CONVERSATIONS,
    messages: MESSAGES,
  })}\n`,
);
process.on('SIGTERM', async () => {
  bareServer.close();
  await bridge.stop();
  process.exit(0);
});
