/**
 * The manifest endpoints Pipedrive calls, at fixed concurrency on a modest store (200
 * conversations × 40 messages), the store of the performance targets' figures: getConversations 30×30 and
 * postMessage have targets against the req/s quoted there (report.ts); the others are for
 * reference. Server CPU and SQL statements are charged per request sent.
 */
import autocannon from 'autocannon';
import { startServer } from './client.ts';
import type { BenchOptions, Dialect } from './options.ts';
import { BASIC } from './pages.ts';

export interface ManifestRun {
  endpoint: string;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** Server CPU per request sent (user + system), in-flight ones finished. */
  serverCpuMs: number;
  /** SQL statements per request sent. */
  statements: number;
}

const boundary = 'benchboundary';
const multipart = (conversation: string) =>
  [
    `--${boundary}`,
    'Content-Disposition: form-data; name="conversationId"',
    '',
    conversation,
    `--${boundary}`,
    'Content-Disposition: form-data; name="message"',
    '',
    'hello from the bench',
    `--${boundary}--`,
    '',
  ].join('\r\n');

export async function runManifest(opts: BenchOptions, dialect: Dialect, log: (s: string) => void): Promise<ManifestRun[]> {
  const server = await startServer(dialect, { pgUrl: opts.pgUrl });
  try {
    const fx = await server.request('pages-fixtures', { messages: 8000, maxConversations: 200 });
    const ch = `/api/channels/${fx.providerChannelId}`;
    const scenarios: Array<{ endpoint: string; path: string; method?: 'POST'; body?: string; headers?: Record<string, string> }> = [
      { endpoint: 'getConversations 30×30', path: `${ch}/conversations` },
      { endpoint: 'getConversationById (30 messages)', path: `${ch}/conversations/${fx.conversationId}` },
      { endpoint: 'getMessageById', path: `${ch}/messages/${fx.messageId}` },
      { endpoint: 'getTemplates', path: `${ch}/templates` },
      {
        endpoint: 'postMessage (text, stored + queued)',
        path: `${ch}/messages`,
        method: 'POST',
        body: multipart(fx.conversationId),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      },
    ];
    const runs: ManifestRun[] = [];
    const seconds = Math.max(2, Math.round(opts.seconds / 2));
    for (const s of scenarios) {
      const before = { cpu: (await server.request('cpu', {})).ms, statements: (await server.request('work', {})).requestStatements };
      const r = await server.profiled(opts.profilePath(`${dialect}-manifest-${s.endpoint.split(' ')[0]}`), () =>
        autocannon({
          url: server.ready.bridge + s.path,
          method: s.method ?? 'GET',
          ...(s.body ? { body: s.body } : {}),
          headers: { authorization: BASIC, ...s.headers },
          connections: opts.connections,
          duration: seconds,
        }),
      );
      // Requests still in flight when the run stops are finished by the server: wait until its
      // statement count stops moving, then charge CPU and statements per request sent.
      let last = -1;
      for (let i = 0; i < 40; i++) {
        const now = (await server.request('work', {})).requestStatements;
        if (now === last) break;
        last = now;
        await new Promise((res) => setTimeout(res, 250));
      }
      const sent = Math.max(1, r.requests.sent);
      const cpu = (await server.request('cpu', {})).ms - before.cpu;
      const statements = (await server.request('work', {})).requestStatements - before.statements;
      const run: ManifestRun = {
        endpoint: s.endpoint,
        rps: Math.round(r['2xx'] / r.duration),
        p50: r.latency.p50,
        p99: r.latency.p99,
        failed: r.non2xx + r.errors,
        serverCpuMs: Math.round((cpu / sent) * 100) / 100,
        statements: Math.round((statements / sent) * 100) / 100,
      };
      log(
        `  ${dialect} ${s.endpoint}: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, server CPU ${run.serverCpuMs} ms/request, ${run.statements} SQL statements/request${run.failed ? `, ${run.failed} failed` : ''}`,
      );
      runs.push(run);
    }
    return runs;
  } finally {
    await server.close();
  }
}
