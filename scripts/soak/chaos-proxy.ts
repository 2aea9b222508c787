import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback proxy between the app and the fake Pipedrive API (the app's PIPEDRIVE_API_URL
 * points here). It counts every receiveMessage call by the posted message id and, when
 * `faultRate` > 0, answers that fraction of them itself with 429 or 503 without forwarding.
 * It lives in the soak suite so the shared fake stays as other tests know it.
 *
 * The injected 429 looks like Pipedrive's burst limit (x-ratelimit-remaining: 0, reset in
 * 1 s); a 429 with room left in the window would read as the daily budget and park the
 * installation until midnight, which is a different scenario.
 */
export class ChaosProxy {
  faultRate = 0;
  /** Calls per message id, injected faults included. */
  readonly calls = new Map<string, number>();
  readonly injected = { 429: 0, 503: 0 };
  forwarded = 0;
  url = '';
  private server: Server | undefined;

  constructor(
    private readonly target: string,
    private readonly random: () => number = Math.random,
  ) {}

  static async start(target: string): Promise<ChaosProxy> {
    const p = new ChaosProxy(target);
    p.server = createServer((req, res) => {
      p.handle(req).then(
        (r) => {
          res.writeHead(r.status, r.headers);
          res.end(r.body);
        },
        (err) => {
          // The fake itself failed: pass that on as a 502 so it is never mistaken for the app's.
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ success: false, error: `chaos proxy: ${String(err)}` }));
        },
      );
    });
    p.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => p.server!.listen(0, '127.0.0.1', resolve));
    p.url = `http://127.0.0.1:${(p.server.address() as AddressInfo).port}`;
    return p;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && req.url?.split('?')[0] === '/api/v1/channels/messages/receive') {
      let id = '(unparsed)';
      try {
        id = String((JSON.parse(body.toString('utf8')) as { id?: unknown }).id);
      } catch {
        // counted under (unparsed)
      }
      this.calls.set(id, (this.calls.get(id) ?? 0) + 1);
      if (this.faultRate > 0 && this.random() < this.faultRate) {
        const rateLimited = this.random() < 0.5;
        this.injected[rateLimited ? 429 : 503]++;
        return rateLimited
          ? json(429, { success: false, error: 'Request over limit', error_info: '', additional_data: { code: 'RATE_LIMIT_EXCEEDED' } }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' })
          : json(503, { success: false, error: 'Service unavailable', error_info: '', additional_data: { code: 'SERVICE_UNAVAILABLE' } });
      }
    }
    this.forwarded++;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const res = await fetch(`${this.target}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(body.length && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
      redirect: 'manual',
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding', 'keep-alive'].includes(k)) out[k] = v;
    });
    return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: Buffer.from(JSON.stringify(body)) };
}
