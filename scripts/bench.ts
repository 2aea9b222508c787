/**
 * `npm run bench`: load on the manifest endpoints from this process against a server
 * process (scripts/bench-server.ts) that also runs a bare Koa handler as the baseline.
 *   BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 20), DATABASE_URL (default sqlite)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const auth = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;

const server = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
const info = await new Promise<Record<string, string | number>>((resolve, reject) => {
  createInterface({ input: server.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  server.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
});

const boundary = 'benchboundary';
const multipart = (conversation: string) =>
  [`--${boundary}`, 'Content-Disposition: form-data; name="conversationId"', '', conversation, `--${boundary}`, 'Content-Disposition: form-data; name="message"', '', 'hello from the bench', `--${boundary}--`, ''].join('\r\n');

const ch = `/api/channels/${info.providerChannelId}`;
const scenarios: Array<{ name: string; url: string; path: string; method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }> = [
  { name: 'bare Koa handler (baseline)', url: String(info.bare), path: '/' },
  { name: 'getConversations (30×30)', url: String(info.bridge), path: `${ch}/conversations` },
  { name: 'getConversationById (30 msgs)', url: String(info.bridge), path: `${ch}/conversations/${info.conversation}` },
  { name: 'getMessageById', url: String(info.bridge), path: `${ch}/messages/${info.message}` },
  { name: 'getTemplates', url: String(info.bridge), path: `${ch}/templates` },
  {
    name: 'postMessage (multipart, stored + queued)',
    url: String(info.bridge),
    path: `${ch}/messages`,
    method: 'POST',
    body: multipart(String(info.conversation)),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  },
];

console.log(`db=${info.db} seeded ${info.conversations} conversations × ${info.messages} messages; ${CONNECTIONS} connections, ${SECONDS}s each\n`);
const rows: Array<Record<string, string | number>> = [];
let baseline = 0;
for (const s of scenarios) {
  const r = await autocannon({
    url: s.url + s.path,
    method: s.method ?? 'GET',
    body: s.body,
    headers: { authorization: auth, ...s.headers },
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  const rps = Math.round(r.requests.average);
  if (!baseline) baseline = rps;
  const errors = r.non2xx + r.errors + r.timeouts;
  rows.push({ scenario: s.name, 'req/s': rps, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'vs bare': `${((rps / baseline) * 100).toFixed(1)}%`, errors });
}
console.table(rows);
server.kill('SIGTERM');
