import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Logger } from '../../ground/log.ts';
import { backoffDelay } from '../../runtime/backoff.ts';
import type { OutboundPolicy } from '../../ground/security/outbound-policy.ts';
import { encodeFrame, StompDecoder } from './stomp.ts';

export interface StompSubscriberOptions {
  /** Airy host, e.g. https://airy.example.com; the socket is <host>/ws.communication. */
  apiUrl: string;
  /** Sent as `Authorization` on the HTTP upgrade: Airy's websocket component authenticates the upgrade and ignores STOMP CONNECT headers
   * (https://github.com/airyhq/airy/tree/develop/backend/components/websocket). */
  token: string;
  destination?: string;
  /** Heart-beat we offer and ask for (Airy's broker uses 30000,30000). */
  heartbeatMs?: number;
  backoff?: { baseMs: number; capMs: number };
  /** The outbound policy: the host is checked and its address pinned on every dial. */
  policy?: OutboundPolicy;
  /** Largest WebSocket message and STOMP frame accepted (default 1 MiB). */
  maxFrameBytes?: number;
  log: Logger;
  onEvent(body: string): Promise<void> | void;
}

const MAX_PENDING = 1000;

export interface StompSubscriberEvents {
  subscribed: [];
  closed: [string];
}

/**
 * One STOMP subscription to Airy's `/events` over a raw WebSocket, reconnecting with
 * jittered exponential backoff until stop(). Airy broadcasts every event to every client,
 * so one subscription per Airy host is enough. Events are handled one at a time in arrival
 * order; a handler failure is logged and the stream goes on.
 */
export class StompSubscriber extends EventEmitter<StompSubscriberEvents> {
  private ws: WebSocket | undefined;
  private running = false;
  private attempt = 0;
  private timers = new Set<NodeJS.Timeout>();
  private queue: Promise<void> = Promise.resolve();
  /** Events received but not handled yet; past MAX_PENDING the host is flooding us and events are dropped. */
  private pending = 0;

  constructor(private readonly opts: StompSubscriberOptions) {
    super();
  }

  get url(): string {
    return `${this.opts.apiUrl.replace(/^http/, 'ws')}/ws.communication`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
    await this.queue;
  }

  private open(): void {
    const hb = this.opts.heartbeatMs ?? 30_000;
    const max = this.opts.maxFrameBytes ?? 1024 * 1024;
    try {
      this.opts.policy?.assertUrl(this.url);
    } catch (err) {
      this.opts.log.warn({ url: this.url, err: err instanceof Error ? err.message : String(err) }, 'airy websocket: host refused by the outbound policy');
      this.emit('closed', this.url);
      this.retryLater();
      return;
    }
    const ws = new WebSocket(this.url, {
      headers: { authorization: `Bearer ${this.opts.token}` },
      handshakeTimeout: 10_000,
      maxPayload: max,
      ...(this.opts.policy ? { lookup: this.opts.policy.lookup } : {}),
    });
    this.ws = ws;
    const decoder = new StompDecoder(max);
    let lastSeen = Date.now();
    let beat: NodeJS.Timeout | undefined;

    ws.on('open', () => {
      const host = new URL(this.url).hostname;
      ws.send(encodeFrame('CONNECT', { 'accept-version': '1.2', host, 'heart-beat': `${hb},${hb}` }));
    });
    ws.on('message', (data) => {
      lastSeen = Date.now();
      let frames;
      try {
        frames = decoder.push(data.toString());
      } catch (err) {
        this.opts.log.warn({ url: this.url, err: err instanceof Error ? err.message : String(err) }, 'airy websocket: frame too large; closing');
        ws.terminate();
        return;
      }
      for (const f of frames) {
        if (f.command === 'CONNECTED') {
          beat = this.heartbeat(ws, f.headers['heart-beat'] ?? '0,0', hb, () => lastSeen);
          ws.send(encodeFrame('SUBSCRIBE', { id: 'sub-0', destination: this.opts.destination ?? '/events', ack: 'auto' }));
          this.attempt = 0;
          this.emit('subscribed');
        } else if (f.command === 'MESSAGE') {
          if (this.pending >= MAX_PENDING) {
            this.opts.log.warn({ url: this.url }, 'airy websocket: too many events waiting; one dropped');
            continue;
          }
          this.pending++;
          this.queue = this.queue.then(async () => {
            try {
              await this.opts.onEvent(f.body);
            } catch (err) {
              this.opts.log.warn({ err: String(err) }, 'airy event handling failed');
            } finally {
              this.pending--;
            }
          });
        } else if (f.command === 'ERROR') {
          this.opts.log.warn({ message: f.headers.message }, 'airy websocket sent a STOMP ERROR');
          ws.terminate();
        }
      }
    });
    // A refused upgrade (403: token not accepted) arrives here too, then 'close' retries.
    ws.on('error', (err) => this.opts.log.warn({ url: this.url, err: err.message }, 'airy websocket error'));
    ws.on('close', () => {
      if (beat) {
        clearInterval(beat);
        this.timers.delete(beat);
      }
      this.emit('closed', this.url);
      if (this.ws === ws) this.ws = undefined;
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (!this.running) return;
    const delay = backoffDelay(this.attempt++, this.opts.backoff ?? { baseMs: 1000, capMs: 60_000 });
    this.opts.log.info({ url: this.url, delay }, 'airy websocket closed; reconnecting');
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) this.open();
    }, delay);
    this.timers.add(t);
  }

  /** STOMP heart-beats: send EOLs at the agreed rate; drop a connection silent for twice the server's. */
  private heartbeat(ws: WebSocket, server: string, ours: number, lastSeen: () => number): NodeJS.Timeout | undefined {
    const [sx = 0, sy = 0] = server.split(',').map((n) => Number(n) || 0);
    const sendEvery = ours && sy ? Math.max(ours, sy) : 0;
    const expectEvery = ours && sx ? Math.max(ours, sx) : 0;
    if (!sendEvery && !expectEvery) return undefined;
    const tick = Math.min(...[sendEvery, expectEvery].filter(Boolean));
    let lastSent = Date.now();
    const t = setInterval(() => {
      const now = Date.now();
      if (sendEvery && now - lastSent >= sendEvery) {
        ws.send('\n');
        lastSent = now;
      }
      if (expectEvery && now - lastSeen() > expectEvery * 2) ws.terminate();
    }, tick);
    t.unref();
    this.timers.add(t);
    return t;
  }
}
