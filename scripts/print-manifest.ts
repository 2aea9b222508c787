/**
 * `npm run manifest`: prints the Developer Hub manifest for APP_URL (read from the
 * environment and .env, like `npm start`); `--write` also writes ./manifest.json.
 *   npm run manifest
 *   APP_URL=https://bridge.example.com npm run manifest -- --write
 */
import { writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../app/ground/config.ts';
import { buildManifest } from '../app/http/channels-api/manifest.ts';

let appUrl: string;
try {
  ({ appUrl } = loadConfig({ ...process.env, APP_SECRET: process.env.APP_SECRET || 'x'.repeat(32) }));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}
const url = new URL(appUrl);
if (url.protocol !== 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
  console.error(`warning: APP_URL is ${appUrl}; Pipedrive needs a public https:// address (set APP_URL in .env or the environment, e.g. a tunnel's address)`);
}
const text = `${JSON.stringify(buildManifest(appUrl), null, 2)}\n`;
process.stdout.write(text);
if (process.argv.includes('--write')) {
  writeFileSync('manifest.json', text);
  console.error('wrote manifest.json');
}
