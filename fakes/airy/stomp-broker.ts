import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Airy's WebSocket: STOMP over a raw WebSocket at /ws.communication,
 * Spring's simple broker, every client gets every event on `/events`. Auth happens on the
 * HTTP upgrade (the caller decides); STOMP CONNECT headers are ignored like Spring does.
 */
interface Client {
  ws: WebSocket;
  subs: Map<string, string>;
  buffer: string;
}

function encode(command: string, headers: Record<string, string>, body = ''): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c');
  return `${command}\n${Object.entries(headers)
    .map(([k, v]) => `${esc(k)}:${esc(v)}\n`)
    .join('')}\n${body}\0`;
}

function* frames(c: Client, chunk: string): Generator<{ command: string; headers: Record<string, string> }> {
  c.buffer += chunk;
  for (;;) {
    c.buffer = c.buffer.replace(/^(\r?\n)+/, '');
    const end = c.buffer.indexOf('\0');
    if (end < 0) return;
    const raw = c.buffer.slice(0, end);
    c.buffer = c.buffer.slice(end + 1);
    const [command = '', ...lines] = raw.split(/\r?\n\r?\n/)[0]!.split(/\r?\n/);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0 && !(l.slice(0, i) in headers)) headers[l.slice(0, i)] = l.slice(i + 1);
    }
    yield { command, headers };
  }
}

export class StompBroker extends EventEmitter<{ subscribed: [string]; disconnected: [] }> {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<Client>();
  private seq = 0;

  get subscriberCount(): number {
    return [...this.clients].filter((c) => [...c.subs.values()].includes('/events')).length;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Client = { ws, subs: new Map(), buffer: '' };
      this.clients.add(c);
      ws.on('close', () => {
        this.clients.delete(c);
        this.emit('disconnected');
      });
      ws.on('message', (data) => {
        for (const f of frames(c, data.toString())) {
          if (f.command === 'CONNECT' || f.command === 'STOMP') {
            ws.send(encode('CONNECTED', { version: '1.2', 'heart-beat': '0,0' }));
          } else if (f.command === 'SUBSCRIBE') {
            c.subs.set(f.headers.id ?? '', f.headers.destination ?? '');
            this.emit('subscribed', f.headers.destination ?? '');
          } else if (f.command === 'UNSUBSCRIBE') {
            c.subs.delete(f.headers.id ?? '');
          } else if (f.command === 'DISCONNECT') {
            if (f.headers.receipt) ws.send(encode('RECEIPT', { 'receipt-id': f.headers.receipt }));
            ws.close();
          } else {
            ws.send(encode('ERROR', { message: `unsupported frame ${f.command}` }));
            ws.close();
          }
        }
      });
    });
  }

  /** Sends one event `{type, timestamp, payload}` to every subscription on /events. */
  broadcast(event: { type: string; timestamp: number | null; payload: unknown }): void {
    const body = JSON.stringify(event);
    for (const c of this.clients) {
      for (const [id, dest] of c.subs) {
        if (dest !== '/events') continue;
        c.ws.send(encode('MESSAGE', { destination: '/events', subscription: id, 'message-id': String(++this.seq), 'content-type': 'application/json' }, body));
      }
    }
  }

  /** Cuts every connection (tests of the subscriber's reconnect). */
  dropAll(): void {
    for (const c of this.clients) c.ws.terminate();
  }

  close(): void {
    this.dropAll();
    this.wss.close();
  }
}
