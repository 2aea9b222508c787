/**
 * Section (c): postMessage with a 25 MB file, streamed as Pipedrive would (multipart,
 * known length), while the server samples its own RSS every 20 ms. Growth is the peak
 * during the upload minus the RSS just before it (after a GC).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { startServer } from './client.ts';
import { BASIC } from './pages.ts';
import type { BenchOptions, Dialect } from './options.ts';
import type { RssReport } from './protocol.ts';

export interface UploadRun extends RssReport {
  fileMb: number;
  uploadMs: number;
}

export interface UploadSection {
  dialect: Dialect;
  runs: UploadRun[];
  /** The largest growth over the runs. */
  growthMb: number;
}

const CHUNK = 64 * 1024;

async function postFile(agent: Agent, url: string, conversationId: string, bytes: number): Promise<number> {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    [
      `--${boundary}`,
      'Content-Disposition: form-data; name="conversationId"',
      '',
      conversationId,
      `--${boundary}`,
      'Content-Disposition: form-data; name="message"',
      '',
      'The signed contract, as promised',
      `--${boundary}`,
      'Content-Disposition: form-data; name="files"; filename="contract-scan.pdf"',
      'Content-Type: application/pdf',
      '',
      '',
    ].join('\r\n'),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = randomBytes(CHUNK);
  const u = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent,
        headers: { authorization: BASIC, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + bytes + tail.length },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.once('end', () => {
          if (res.statusCode !== 200) reject(new Error(`postMessage answered ${res.statusCode}: ${Buffer.concat(parts).toString('utf8').slice(0, 300)}`));
          else resolve(performance.now() - started);
        });
      },
    );
    req.once('error', reject);
    void (async () => {
      req.write(head);
      for (let sent = 0; sent < bytes; sent += CHUNK) {
        const part = bytes - sent >= CHUNK ? chunk : chunk.subarray(0, bytes - sent);
        if (!req.write(part)) await new Promise((r) => req.once('drain', r));
      }
      req.end(tail);
    })();
  });
}

export async function runUpload(opts: BenchOptions, dialect: Dialect, log: (s: string) => void): Promise<UploadSection> {
  const server = await startServer(dialect, {
    pgUrl: opts.pgUrl,
    // Above the 25 MB file plus the multipart envelope.
    env: { BENCH_MAX_UPLOAD_BYTES: String(opts.uploadBytes + 16 * 1024 * 1024) },
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const fx = await server.request('upload-fixtures', {});
    const url = `${server.ready.bridge}/api/channels/${fx.providerChannelId}/messages`;
    // Warm-up: multer, busboy and the send job's code paths are loaded before measuring.
    for (let i = 0; i < 3; i++) await postFile(agent, url, fx.conversationId, 256 * 1024);
    const runs: UploadRun[] = [];
    for (let i = 0; i < opts.uploadRepeats; i++) {
      await server.request('rss-start', { intervalMs: 20 });
      const uploadMs = await postFile(agent, url, fx.conversationId, opts.uploadBytes);
      // The send job runs right after the answer; keep sampling while it does.
      await new Promise((r) => setTimeout(r, 200));
      const rss = await server.request('rss-stop', {});
      runs.push({ ...rss, fileMb: Math.round(opts.uploadBytes / (1024 * 1024)), uploadMs: Math.round(uploadMs) });
      log(
        `  ${dialect} postMessage ${Math.round(opts.uploadBytes / (1024 * 1024))} MB file: RSS ${rss.baselineMb} → ${rss.peakMb} MB (+${rss.growthMb} MB, ${rss.samples} samples) in ${Math.round(uploadMs)} ms`,
      );
    }
    return { dialect, runs, growthMb: Math.max(...runs.map((r) => r.growthMb)) };
  } finally {
    agent.destroy();
    await server.close();
  }
}
