/**
 * `npm run manifest`: prints the Developer Hub manifest for APP_URL and rewrites
 * ./manifest.json with it (`--stdout` prints only).
 *   APP_URL=https://bridge.example.com npm run manifest
 */
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../app/config.ts';
import { buildManifest } from '../app/pipedrive/manifest.ts';

const { appUrl } = loadConfig({ ...process.env, APP_SECRET: process.env.APP_SECRET || 'x'.repeat(32) });
const text = `${JSON.stringify(buildManifest(appUrl), null, 2)}\n`;
if (!process.argv.includes('--stdout')) writeFileSync('manifest.json', text);
process.stdout.write(text);
