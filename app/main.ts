import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './ground/config.ts';
import { startBridge } from './bridge.ts';
import { createLogger } from './ground/log.ts';
import { describeStartupError } from './startup-errors.ts';
import { buildInfo } from './ground/version.ts';

/**
 * Zero-config development: without APP_SECRET a key is generated once and kept in
 * db/.dev-app-secret (git-ignored), so encrypted tokens survive restarts. Production must
 * set APP_SECRET.
 */
function devSecret(): string {
  const path = 'db/.dev-app-secret';
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync('db', { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path, secret, { mode: 0o600 });
  return secret;
}

async function main(): Promise<void> {
  const env = { ...process.env };
  const generated = !env.APP_SECRET;
  if (generated) env.APP_SECRET = devSecret();
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  if (generated) {
    log.warn('!!! APP_SECRET is not set: using a generated development key from db/.dev-app-secret. Set APP_SECRET (>= 32 chars) in production. !!!');
  }
  if (!config.pipedrive.clientId || !config.pipedrive.clientSecret) {
    log.warn(`PIPEDRIVE_CLIENT_ID / PIPEDRIVE_CLIENT_SECRET are not set: every manifest endpoint answers 401 until they are; ${config.appUrl}/auth/pipedrive shows how to set them up.`);
  }
  let bridge;
  try {
    bridge = await startBridge(config, { logger: log });
  } catch (err) {
    // One line naming the variable or the cause; the stack only when asked for.
    log.debug({ err }, 'start-up failed');
    console.error(describeStartupError(err, config));
    process.exit(1);
  }
  const { version, revision } = buildInfo();
  log.info({ url: config.appUrl, db: config.database.client, version, revision }, `ready: ${config.appUrl}/healthz`);
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    bridge.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

await main();
