import type { Config } from '../ground/config.ts';
import type { Logger } from '../ground/log.ts';
import type { Metrics } from '../ground/metrics.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { PipedriveClient } from './client.ts';
import { PipedriveOAuth, pipedriveAxios } from './oauth-client.ts';
import { DEFAULT_PACING, PipedrivePacer } from './pacing.ts';
import { TokenManager, type TokenRepository } from './tokens.ts';

/** Pipedrive as the bridge reaches it: OAuth, per-installation tokens, and the paced API client. */
export interface PipedrivePort {
  oauth: PipedriveOAuth;
  tokens: TokenManager;
  client: PipedriveClient;
}

export function createPipedrivePort(d: { config: Config; log: Logger; metrics: Metrics; secrets: Secrets; tokenStore: TokenRepository }): PipedrivePort {
  const http = pipedriveAxios();
  const oauth = new PipedriveOAuth(d.config, http);
  const tokens = new TokenManager({ store: d.tokenStore, secrets: d.secrets, oauth, config: d.config, log: d.log });
  const pacer = new PipedrivePacer({
    ...DEFAULT_PACING,
    burstLimit: d.config.pipedrive.burstLimit,
    breakerThreshold: d.config.pipedrive.breakerThreshold,
    breakerBaseMs: d.config.pipedrive.breakerCooldownMs,
    breakerMaxMs: Math.max(DEFAULT_PACING.breakerMaxMs, d.config.pipedrive.breakerCooldownMs),
  });
  return { oauth, tokens, client: new PipedriveClient(tokens, http, pacer, d.metrics) };
}
