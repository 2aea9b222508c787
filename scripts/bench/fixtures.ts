/**
 * Channels for the server under test, written straight into the store with secrets the
 * bench knows (an Airy source token, an Alvaria signing key), as a connect through OAuth
 * and the platforms would have left them; the webhook channels belong to an installation
 * whose tokens the bench's Pipedrive sink accepts.
 */
import { randomUUID } from 'node:crypto';
import type { Bridge } from '../../app/bridge.ts';
import { newId } from '../../app/domain/inbox.ts';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import { AIRY_AGENT } from '../../app/platforms/airy/inbound.ts';
import { airyIds } from '../../app/platforms/airy/ids.ts';
import type { AiryConfig, AiryState } from '../../app/platforms/airy/schema.ts';
import type { AlvariaConfig } from '../../app/platforms/alvaria/schema.ts';
import { sealJson } from '../../app/platforms/context.ts';
import { recordSession, settleSession } from '../../app/store/alvaria-sessions.ts';
import { findChannel, insertChannel } from '../../app/store/channels.ts';
import { upsertInstallation } from '../../app/store/installations.ts';
import type { WebhookFixtures } from './protocol.ts';
import { insertBatched } from './seed.ts';

// Nothing listens here: the Airy adapter's read-receipt WebSocket retries with a backoff
// that grows to a minute, so it costs nothing measurable while the bench runs.
const NO_AIRY = 'http://127.0.0.1:9';

/**
 * An installation as OAuth leaves one, with tokens valid for a day. The server under test
 * sends its Pipedrive calls to the bench's sink (PIPEDRIVE_API_URL, scripts/bench/server.ts),
 * so a delivery runs the app's own Pipedrive client: token context, pacing, the SDK, axios.
 */
async function benchInstallation(b: Bridge): Promise<string> {
  const now = Date.now();
  const inst = await upsertInstallation(
    b.db,
    newId('inst'),
    { companyId: 1, userId: 1, apiDomain: 'https://bench.pipedrive.invalid', userName: 'Bench', userEmail: null, companyName: 'Bench', companyDomain: 'bench', isAdmin: true, iconUrl: null },
    { accessTokenEnc: b.secrets.encrypt('bench-access-token'), refreshTokenEnc: b.secrets.encrypt('bench-refresh-token'), expiresAt: now + 24 * 3600_000 },
    now,
  );
  return inst.id;
}

async function storeChannel(b: Bridge, platform: string, config: unknown, state: unknown, installationId: string | null = null): Promise<Channel> {
  const id = newId('ch');
  await insertChannel(
    b.db,
    {
      id,
      providerChannelId: `${platform}-${randomUUID()}`,
      installationId,
      platform,
      name: `Bench ${platform}`,
      avatarUrl: null,
      configEnc: sealJson(b.secrets, config),
      stateEnc: sealJson(b.secrets, state),
      status: 'active',
    },
    Date.now(),
  );
  return (await findChannel(b.db, id))!;
}

const pdUser = (id: string) => ({ id: `pd-${id}`, role: 'source_user' as const, name: `Pipedrive user ${id}`, avatarUrl: null, email: `${id}@example.com` });

/**
 * Delivered Pipedrive receive jobs of the given conversations, as a store that has run for a
 * while holds them (finished jobs are kept 7 days): claims check ordering keys against them.
 */
async function jobHistory(b: Bridge, channelId: string, conversationIds: string[], count: number): Promise<void> {
  const at = Date.now() - 3_600_000;
  const rows = Array.from({ length: count }, (_, i) => ({
    kind: 'pipedrive.receive',
    payload: JSON.stringify({ messageId: `m_history_${i}` }),
    ordering_key: `pd:${conversationIds[i % conversationIds.length]}`,
    status: 'done',
    attempts: 1,
    max_attempts: 12,
    run_at: at,
    channel_id: channelId,
    created_at: at,
    updated_at: at,
  }));
  await insertBatched(b.db, 'jobs', rows);
}

/**
 * An Airy channel and an Alvaria channel, each with `n` conversations the webhooks can
 * address and `jobHistory` finished jobs spread over them.
 */
export async function webhookFixtures(b: Bridge, args: { airySourceToken: string; alvariaPublicPem: string; conversations: number; jobHistory: number }): Promise<WebhookFixtures> {
  const sourceId = `pipedrive-bench-${randomUUID()}`;
  const airyConfig: AiryConfig = { api_url: NO_AIRY, system_token: 'bench-system-token' };
  const airyState: AiryState = { source_id: sourceId, source_token: args.airySourceToken, channel_id: randomUUID(), source_channel_id: 'bench' };
  const installationId = await benchInstallation(b);
  const airy = await storeChannel(b, 'airy', airyConfig, airyState, installationId);
  const conversationRefs: string[] = [];
  const airyIdsList: string[] = [];
  for (let i = 0; i < args.conversations; i++) {
    const id = `airy-bench-${i}`;
    airyIdsList.push(id);
    const ref = airyIds.conversation(sourceId, id);
    await b.inbox.ensureConversation(airy, {
      id,
      platformRef: ref,
      platformState: JSON.stringify({ source_conversation_id: id }),
      participants: [pdUser(id), AIRY_AGENT],
    });
    conversationRefs.push(ref);
  }

  const alvariaConfig: AlvariaConfig = {
    api_url: 'http://127.0.0.1:9',
    token_url: 'http://127.0.0.1:9/token',
    org_id: 'bench',
    client_id: 'bench',
    client_secret: 'bench',
    api_key: 'bench',
    work_type_id: '1',
    callback_public_keys: [args.alvariaPublicPem],
  };
  const alvaria = await storeChannel(b, 'alvaria', alvariaConfig, { connectedAt: Date.now() }, installationId);
  const sessionIds: string[] = [];
  const alvariaIdsList: string[] = [];
  for (let i = 0; i < args.conversations; i++) {
    const id = `alvaria-bench-${i}`;
    alvariaIdsList.push(id);
    const conversation: Conversation = await b.inbox.ensureConversation(alvaria, {
      id,
      participants: [pdUser(id), { id: `alvaria-agent-${id}`, role: 'end_user', name: 'Alvaria agent', avatarUrl: null, email: null }],
    });
    const sessionId = `session-${randomUUID()}`;
    await recordSession(b.db, { channelId: alvaria.id, sessionId, conversationId: conversation.id }, Date.now());
    await settleSession(b.db, alvaria.id, sessionId, 'live', null, null, Date.now());
    sessionIds.push(sessionId);
  }
  await jobHistory(b, airy.id, airyIdsList, Math.ceil(args.jobHistory / 2));
  await jobHistory(b, alvaria.id, alvariaIdsList, Math.floor(args.jobHistory / 2));
  return { airy: { channelId: airy.id, conversationRefs }, alvaria: { channelId: alvaria.id, sessionIds } };
}

/** A channel of the bench platform (accepts every send at once), through the app's connect flow. */
export async function benchChannel(b: Bridge): Promise<Channel> {
  const { channel } = await b.flows.connectChannel({
    platform: 'bench',
    name: 'Bench',
    avatarUrl: null,
    config: {},
    templates: [{ id: 't1', name: 'Hello', content: 'Hello {{name}}', language: 'en' }],
    installationId: null,
  });
  return channel;
}

export async function uploadFixtures(b: Bridge): Promise<{ providerChannelId: string; conversationId: string }> {
  const channel = await benchChannel(b);
  const conversation = await b.inbox.ensureConversation(channel, {
    id: 'upload-bench',
    participants: [pdUser('upload'), { id: 'agent', role: 'end_user', name: 'Agent', avatarUrl: null, email: null }],
  });
  return { providerChannelId: channel.providerChannelId, conversationId: conversation.id };
}
