import { EventEmitter } from 'node:events';
import type { CallbackSigner } from './signer.ts';

export interface Delivery {
  id: number;
  payload: Record<string, unknown>;
  attempts: Array<{ status: number | null; at: number }>;
  state: 'pending' | 'delivered' | 'failed';
  firstAt: number;
}

export interface DeliveryEvents {
  attempt: [Delivery, number | null];
  delivered: [Delivery];
  failed: [Delivery];
  /** The chaos re-delivery of an already delivered callback, with its answer. */
  duplicated: [Delivery, number | null];
}

const FOUR_HOURS = 4 * 60 * 60 * 1000;

/**
 * Posts callbacks to the configured URL the way the API document describes: JSON with a
 * JWT in Authorization; anything but 200 (or, in lenient mode, any non-2xx) or a network
 * failure is retried with the same payload at growing intervals until 4 h after the first
 * attempt (fake clock), then recorded as failed.
 */
export class Deliverer extends EventEmitter<DeliveryEvents> {
  callbackUrl: string | undefined;
  /** 'strict': only 200 counts (the document's wording); 'any-2xx': every 2xx does. */
  successMode: 'strict' | 'any-2xx' = 'strict';
  retryBaseMs = 20;
  retryCapMs = 500;
  /** Safety cap so a broken test cannot spin for long; the 4 h window ends sooner under a fake clock. */
  maxAttempts = 50;
  /** Re-sign each attempt (whether Alvaria does is unconfirmed); false reuses the first token. */
  resignEachAttempt = true;
  /** Chaos: deliver a second time after a success. */
  duplicate = false;
  readonly all: Delivery[] = [];
  private seq = 0;
  private stopped = false;
  private readonly active = new Set<Promise<void>>();

  constructor(
    private readonly signer: CallbackSigner,
    private readonly now: () => number,
  ) {
    super();
  }

  send(payload: Record<string, unknown>): Delivery {
    const d: Delivery = { id: ++this.seq, payload, attempts: [], state: 'pending', firstAt: this.now() };
    this.all.push(d);
    const p = this.run(d).finally(() => this.active.delete(p));
    this.active.add(p);
    return d;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.active]);
  }

  private async run(d: Delivery): Promise<void> {
    const body = JSON.stringify(d.payload);
    let auth: string | undefined = await this.signer.authorization();
    for (let n = 0; !this.stopped; n++) {
      if (n > 0 && this.resignEachAttempt) auth = await this.signer.authorization();
      const status = await this.post(body, auth);
      d.attempts.push({ status, at: this.now() });
      this.emit('attempt', d, status);
      if (status !== null && (status === 200 || (this.successMode === 'any-2xx' && status >= 200 && status < 300))) {
        d.state = 'delivered';
        this.emit('delivered', d);
        if (this.duplicate) this.emit('duplicated', d, await this.post(body, this.resignEachAttempt ? await this.signer.authorization() : auth));
        return;
      }
      if (this.now() - d.firstAt >= FOUR_HOURS || d.attempts.length >= this.maxAttempts) break;
      await new Promise((r) => setTimeout(r, Math.min(this.retryCapMs, this.retryBaseMs * 2 ** n)));
    }
    d.state = 'failed';
    this.emit('failed', d);
  }

  private async post(body: string, auth: string | undefined): Promise<number | null> {
    if (!this.callbackUrl) return null;
    try {
      const res = await fetch(this.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body,
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    }
  }
}
