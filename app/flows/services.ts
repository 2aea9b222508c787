import type { Config } from '../ground/config.ts';
import type { Directory } from '../domain/directory.ts';
import type { Inbox } from '../domain/inbox.ts';
import type { Logger } from '../ground/log.ts';
import type { Metrics } from '../ground/metrics.ts';
import type { PlatformRegistry } from '../platforms/registry.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { TokenBuckets } from '../ground/security/token-buckets.ts';
import type { Db } from '../store/db.ts';
import type { PipedrivePort } from '../pipedrive/port.ts';

/** Everything install, uninstall and the channel flows need, built once by the bridge. */
export interface BridgeServices extends PipedrivePort {
  db: Db;
  inbox: Inbox;
  /** Lookups by id (installations, users, channels) for the HTTP edge. */
  directory: Directory;
  secrets: Secrets;
  registry: PlatformRegistry;
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** Channel connect attempts per installation: each one calls a host the admin names. */
  connectLimiter: TokenBuckets;
}
