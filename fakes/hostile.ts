import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A platform host that misbehaves on purpose (tests and the soak's hostile scenario), on
 * loopback only. By default it answers the Airy Source API calls a connect makes well
 * enough to get through (a source with a token, a channel); each behaviour below replaces
 * the answer to the paths it names:
 *
 *   drip       headers at once, then one byte every `dripMs`, up to `dripBytes`
 *   huge       200 with a JSON body of `hugeBytes`, written as fast as the reader takes it
 *   status     a fixed status with a body holding `secret` (must never reach an admin)
 *   endless    the WebSocket answers CONNECTED, then a MESSAGE frame that never ends
 */
export type HostileBehaviour = { kind: 'ok' } | { kind: 'drip'; dripMs: number; dripBytes: number } | { kind: 'huge'; hugeBytes: number } | { kind: 'status'; status: number; secret: string };

export interface HostileEvents {
  request: [string];
  /** A WebSocket client went away (closed or terminated), with the bytes sent to it. */
  wsClosed: [number];
  wsConnected: [];
}

export class HostilePlatform extends EventEmitter<HostileEvents> {
  requests: string[] = [];
  /** Per path (e.g. `/sources.webhook`); `*` for every path not named. */
  behaviours: Record<string, HostileBehaviour> = {};
  /** What the WebSocket at /ws.communication does once a client connects. */
  ws: { kind: 'endless'; chunkBytes: number; maxBytes: number } | { kind: 'refuse' } = { kind: 'refuse' };
  /** WebSocket clients connected now. */
  openWs = 0;
  private readonly sockets = new Set<Socket>();
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    super();
  }

  static async start(host = '127.0.0.1'): Promise<HostilePlatform> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const { port } = server.address() as AddressInfo;
    const h = new HostilePlatform(server, `http://${host}:${port}`);
    server.on('connection', (s) => {
      // The app cutting a call short (deadline, size cap) resets the connection: expected here.
      s.on('error', () => {});
      h.sockets.add(s);
      s.on('close', () => h.sockets.delete(s));
    });
    server.on('request', (req, res) => h.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => h.onUpgrade(req, socket as Socket, head));
    return h;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.push(path);
    this.emit('request', path);
    req.resume();
    const b = this.behaviours[path] ?? this.behaviours['*'] ?? { kind: 'ok' };
    req.on('end', () => {
      switch (b.kind) {
        case 'drip': {
          // Headers and a first byte at once: a client's header timeout is over from here on.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(' ');
          let sent = 1;
          const t = setInterval(() => {
            if (sent++ >= b.dripBytes) return void (clearInterval(t), res.end());
            res.write(' ');
          }, b.dripMs);
          res.on('close', () => clearInterval(t));
          return;
        }
        case 'huge': {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let left = b.hugeBytes;
          res.write('{"token":"t","pad":"');
          const pump = () => {
            while (left > 0 && !res.destroyed) {
              left -= chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            if (!res.destroyed) res.end('"}');
          };
          pump();
          return;
        }
        case 'status':
          res.writeHead(b.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: b.secret, detail: `internal ${b.secret}` }));
          return;
        default:
          return this.okAnswer(path, res);
      }
    });
  }

  /** Just enough of the Source API for a connect and a send to go through. */
  private okAnswer(path: string, res: ServerResponse): void {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (path === '/sources.create') return json(200, { source_id: 's', token: 'hostile-source-token', action_endpoint: null, name: null, image_url: null });
    if (path === '/sources.channels.create') return json(201, { id: '00000000-0000-5000-8000-000000000000', source: 's', source_channel_id: 'c', connected: true, metadata: {} });
    if (path === '/sources.channels.disconnect') return json(204, undefined);
    return json(200, undefined);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => {});
    if (this.ws.kind === 'refuse' || !req.url?.startsWith('/ws.communication')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const mode = this.ws;
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('error', () => {});
      this.openWs++;
      this.emit('wsConnected');
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      ws.on('close', () => {
        this.openWs--;
        clearInterval(timer);
        this.emit('wsClosed', sent);
      });
      ws.once('message', () => {
        // CONNECT → CONNECTED, then a MESSAGE whose NUL never comes.
        ws.send('CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0');
        ws.send('MESSAGE\ndestination:/events\nsubscription:sub-0\n\n');
        const chunk = 'x'.repeat(mode.chunkBytes);
        timer = setInterval(() => {
          if (ws.readyState !== ws.OPEN || sent >= mode.maxBytes) return void clearInterval(timer);
          if (ws.bufferedAmount > 4 * mode.chunkBytes) return;
          ws.send(chunk);
          sent += chunk.length;
        }, 1);
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
