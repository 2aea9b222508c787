import type { BridgeOptions } from '../../app/bridge.ts';
import { startFakePipedrive, type FakePipedrive, type FakePipedriveOptions } from '../../fakes/pipedrive/server.ts';
import { startTestBridge, type TestBridge } from './harness.ts';

// The install and admin calls are shared with the demo and the soak (scripts/lib); re-exported
// so that a test needs one import for its rig.
export { adminCall, installVia, type Installed } from '../../scripts/lib/install.ts';

/** A test bridge pointed at a fresh fake Pipedrive (PIPEDRIVE_OAUTH_URL / PIPEDRIVE_API_URL). */
export async function startBridgeWithPipedrive(
  opts: BridgeOptions & { env?: Record<string, string>; fake?: FakePipedriveOptions } = {},
): Promise<{ bridge: TestBridge; fake: FakePipedrive; close(): Promise<void> }> {
  const fake = await startFakePipedrive(opts.fake);
  const bridge = await startTestBridge({ ...opts, env: { PIPEDRIVE_OAUTH_URL: fake.oauthUrl, PIPEDRIVE_API_URL: fake.apiUrl, UI_FRAME_ANCESTORS: fake.url, ...opts.env } });
  return {
    bridge,
    fake,
    async close() {
      await bridge.close();
      await fake.close();
    },
  };
}
