import { Agent, request } from 'node:http';
import { connect } from 'node:net';

/**
 * What a fuzz case expects:
 * - reject: a 4xx (bad auth, malformed body, unknown id…); any 2xx/3xx is a finding
 * - read: a read with valid credentials; any status below 500 is fine, it stores nothing
 * - noop: deleteChannelById for an id that is not ours; 200 is its documented idempotent answer
 */
export type Expect = 'reject' | 'read' | 'noop';

export interface FuzzCase {
  endpoint: string;
  family: string;
  expect: Expect;
  method: string;
  /** Sent exactly as written (no client-side normalisation of `..` or percent-escapes). */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** Bytes written straight to a socket instead (protocol-level garbage). */
  raw?: Buffer;
}

export interface FuzzOutcome {
  status: number | null;
  /** Set when there was no HTTP answer (connection reset, client-side refusal). */
  error?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function send(base: URL, c: FuzzCase): Promise<FuzzOutcome> {
  return c.raw ? sendRaw(base, c.raw) : sendHttp(base, c);
}

function sendHttp(base: URL, c: FuzzCase): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: FuzzOutcome) => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    let req;
    try {
      req = request({ host: base.hostname, port: base.port, method: c.method, path: c.path, headers: c.headers, agent, timeout: 20_000 }, (res) => {
        res.resume();
        res.on('end', () => done({ status: res.statusCode ?? null }));
        res.on('error', () => done({ status: res.statusCode ?? null }));
      });
    } catch (err) {
      // Node refuses to send some inputs at all (invalid characters in a path or header).
      done({ status: null, error: `client refused: ${(err as Error).message}` });
      return;
    }
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done({ status: null, error: err.message }));
    req.end(c.body);
  });
}

/** Writes raw bytes and reads the status line of whatever comes back (Node's parser answers 400 to garbage). */
function sendRaw(base: URL, bytes: Buffer): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    const socket = connect(Number(base.port), base.hostname);
    let data = '';
    const finish = (o: FuzzOutcome) => {
      socket.destroy();
      resolve(o);
    };
    socket.setTimeout(10_000, () => finish({ status: null, error: 'timeout' }));
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m) finish({ status: Number(m[1]) });
    });
    socket.on('error', (err) => finish({ status: null, error: err.message }));
    socket.on('close', () => finish({ status: null, error: data ? `unparsable answer: ${data.slice(0, 40)}` : 'closed without an answer' }));
  });
}

export function closeAgent(): void {
  agent.destroy();
}
