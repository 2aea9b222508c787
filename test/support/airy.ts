import type { Channel } from '../../app/ground/records.ts';
import { airyAdapterFactory, type AiryAdapter } from '../../app/platforms/airy/adapter.ts';
import type { AiryConfig, AiryState } from '../../app/platforms/airy/schema.ts';
import { channelContext } from '../../app/platforms/context.ts';
import { FakeAiry } from '../../fakes/airy/index.ts';
import type { Job } from '../../app/store/jobs.ts';
import { startTestBridge, waitFor, type TestBridge } from './harness.ts';
import { RecordingGateway } from './recording-gateway.ts';

export interface AiryWorld {
  fake: FakeAiry;
  gateway: RecordingGateway;
  b: TestBridge;
  adapter: AiryAdapter;
  connect(name?: string): Promise<{ channel: Channel; state: AiryState; notes: Record<string, string> }>;
  close(): Promise<void>;
}

/**
 * The bridge with the Airy adapter (short timeouts, fast reconnects), a fake Airy and a
 * recording Pipedrive gateway. `connect()` goes through the real connect flow and waits
 * until the WebSocket subscription to the fake is up.
 */
export async function startAiryWorld(env: Record<string, string> = {}, adapterOpts: { timeoutMs?: number; rescanMs?: number } = {}): Promise<AiryWorld> {
  const fake = await FakeAiry.start();
  const gateway = new RecordingGateway();
  const b = await startTestBridge({
    env,
    pipedrive: gateway,
    platforms: { airy: airyAdapterFactory({ timeoutMs: adapterOpts.timeoutMs ?? 2000, realtime: { backoff: { baseMs: 20, capMs: 100 }, rescanMs: adapterOpts.rescanMs ?? 50 } }) },
  });
  const adapter = b.registry.get('airy') as AiryAdapter;
  return {
    fake,
    gateway,
    b,
    adapter,
    async connect(name = 'Sales inbox') {
      const { channel, notes } = await b.flows.connectChannel({
        platform: 'airy',
        name,
        avatarUrl: null,
        config: { api_url: fake.url, system_token: fake.systemToken },
        templates: [],
        installationId: null,
      });
      // Bounded, so a subscription that never comes fails here with a name instead of hanging.
      if (fake.broker.subscriberCount === 0) await waitFor(fake.broker, 'subscribed');
      return { channel, notes, state: channelContext<AiryConfig, AiryState>(channel, b.secrets).state };
    },
    async close() {
      await b.close();
      await fake.close();
    },
  };
}

/** What the connect flow hands the adapter for a channel on the world's fake Airy (the adapter's own port, no channel row). */
export function adapterConnectInput(w: AiryWorld, channelId: string, name = 'x') {
  return {
    channelId,
    providerChannelId: `pd-${channelId}`,
    name,
    avatarUrl: null,
    config: { api_url: w.fake.url, system_token: w.fake.systemToken },
    webhookUrl: `${w.b.config.appUrl}/webhooks/airy/${channelId}`,
  };
}

/** postMessage as Pipedrive sends it: multipart with conversationId, message and files. */
export async function postMessage(b: TestBridge, providerChannelId: string, conversationId: string, text: string, files: Array<{ name: string; type: string; content: string }> = []) {
  const form = new FormData();
  form.set('conversationId', conversationId);
  form.set('message', text);
  for (const f of files) form.append('files', new Blob([f.content], { type: f.type }), f.name);
  const res = await b.call(`/api/channels/${providerChannelId}/messages`, { method: 'POST', body: form });
  const json = (await res.json()) as { success: boolean; data: { id: string } };
  if (res.status !== 200) throw new Error(`postMessage answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data.id;
}

/** Resolves when the outbox reports `event` for a job of `kind` (the reason for retry/dead). */
export async function outboxEvent(b: TestBridge, event: 'done' | 'retry' | 'dead', kind: string): Promise<{ job: Job; reason: string }> {
  const [job, reason] = await waitFor<[Job, string?]>(b.outbox, event, (j) => j.kind === kind);
  return { job, reason: reason ?? '' };
}
