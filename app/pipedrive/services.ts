import type { Config } from '../ground/config.ts';
import type { Inbox } from '../domain/inbox.ts';
import type { Logger } from '../ground/log.ts';
import type { ProviderRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import { TokenBuckets } from '../ground/security/token-buckets.ts';
import type { Db } from '../store/db.ts';
import type { Metrics } from '../ground/metrics.ts';
import { PipedriveClient } from './client.ts';
import { PipedriveOAuth, pipedriveAxios } from './oauth-client.ts';
import { DEFAULT_PACING, PipedrivePacer } from './pacing.ts';
import { TokenManager } from './tokens.ts';

/** Everything install, uninstall and the admin flows need, built once by the bridge. */
export interface PipedriveServices {
  db: Db;
  inbox: Inbox;
  secrets: Secrets;
  registry: ProviderRegistry;
  config: Config;
  log: Logger;
  metrics: Metrics;
  oauth: PipedriveOAuth;
  tokens: TokenManager;
  client: PipedriveClient;
  /** Channel connect attempts per installation: each one calls a host the admin names. */
  connectLimiter: TokenBuckets;
}

export function createPipedriveServices(d: Omit<PipedriveServices, 'oauth' | 'tokens' | 'client' | 'connectLimiter'>): PipedriveServices {
  const http = pipedriveAxios();
  const oauth = new PipedriveOAuth(d.config, http);
  const tokens = new TokenManager({ db: d.db, secrets: d.secrets, oauth, config: d.config, log: d.log });
  const pacer = new PipedrivePacer({
    ...DEFAULT_PACING,
    burstLimit: d.config.pipedrive.burstLimit,
    breakerThreshold: d.config.pipedrive.breakerThreshold,
    breakerBaseMs: d.config.pipedrive.breakerCooldownMs,
    breakerMaxMs: Math.max(DEFAULT_PACING.breakerMaxMs, d.config.pipedrive.breakerCooldownMs),
  });
  const perMinute = d.config.outbound.connectAttemptsPerMinute;
  const connectLimiter = new TokenBuckets({ perMinute, burst: perMinute });
  return { ...d, oauth, tokens, client: new PipedriveClient(tokens, http, pacer, d.metrics), connectLimiter };
}
