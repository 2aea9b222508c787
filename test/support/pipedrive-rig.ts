import type { Job } from '../../app/store/jobs.ts';
import type { FakePipedriveOptions } from '../../fakes/pipedrive/server.ts';
import { waitFor } from './harness.ts';
import { adminCall, installVia, startBridgeWithPipedrive } from './install.ts';
import { sign, TestPlatform } from './test-provider.ts';

/**
 * An installed bridge with one connected test-platform channel, for suites about the
 * Pipedrive direction: `inbound(text)` posts a signed platform webhook into the installing
 * user's standing conversation, so the message travels the public path to the Pipedrive fake.
 */
export async function startPipedriveRig(opts: { env?: Record<string, string>; fake?: FakePipedriveOptions } = {}) {
  const platform = new TestPlatform();
  const world = await startBridgeWithPipedrive({ platforms: { test: platform.factory() }, ...opts });
  const { bridge, fake } = world;
  try {
    const installed = await installVia(bridge, fake);
    const synced = fake.next('sync');
    const res = await adminCall(bridge, installed.cookie, 'POST', '/channels', { provider: 'test', name: 'Support', config: { secret: 'hook-secret' } });
    if (res.status !== 201) throw new Error(`connect answered ${res.status}: ${await res.text()}`);
    const { channel } = (await res.json()) as { channel: { id: string; provider_channel_id: string } };
    const conversationId = String((await synced).conversations[0]!.id);
    let n = 0;
    return {
      ...world,
      ...installed,
      platform,
      channel,
      conversationId,
      /** A platform message into the standing conversation; resolves to the webhook's answer. */
      async inbound(text: string, eventId = `ev-${++n}`) {
        const body = JSON.stringify({ eventId, conversationId, text });
        const r = await fetch(`${bridge.url}/webhooks/test/${channel.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-signature': sign('hook-secret', body) }, body });
        return { status: r.status, body: (await r.json()) as { id?: string; duplicate?: true; error?: string } };
      },
      /** Resolves with the next outbox retry of a Pipedrive delivery whose reason matches. */
      receiveRetry(reason: RegExp) {
        return waitFor<[Job, string]>(bridge.outbox, 'retry', (j, why) => j.kind === 'pipedrive.receive' && reason.test(why));
      },
    };
  } catch (err) {
    await world.close();
    throw err;
  }
}
