import { LRUCache } from 'lru-cache';

export interface TokenBucketConfig {
  /** Sustained rate, refilled evenly; 0 turns the limit off. */
  perMinute: number;
  /** Tokens a key may spend at once (a full bucket). */
  burst: number;
  /** Most keys remembered at once (default 10 000). */
  maxKeys?: number;
}

/**
 * Token buckets by key, in this process: the per-channel webhook budget, the per-tenant
 * message quota and the per-installation connect attempts. A key starts with a full bucket of
 * `burst` tokens, refilled at `perMinute`.
 *
 * Keys come from tenants, so the table is bounded two ways: a bucket idle long enough to be
 * full again is dropped (it would answer exactly like a missing one), and past `maxKeys` the
 * least recently used key is pushed out, which at worst hands the least active key a fresh
 * bucket early.
 */
export class TokenBuckets {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;
  private lastPrune: number;

  constructor(
    private readonly cfg: TokenBucketConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new LRUCache({ max: cfg.maxKeys ?? 10_000 });
    this.lastPrune = now();
  }

  /** Takes one token: 0 when the call may go ahead, else the milliseconds until a token is free. */
  take(key: string): number {
    if (this.cfg.perMinute <= 0) return 0;
    const now = this.now();
    this.prune(now);
    const b = this.buckets.get(key) ?? { tokens: this.cfg.burst, at: now };
    b.tokens = Math.min(this.cfg.burst, b.tokens + ((now - b.at) / 60_000) * this.cfg.perMinute);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60_000) / this.cfg.perMinute);
  }

  /** Keys remembered now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const refillMs = (this.cfg.burst / this.cfg.perMinute) * 60_000;
    const idle: string[] = [];
    for (const [key, b] of this.buckets.entries()) if (now - b.at >= refillMs) idle.push(key);
    for (const key of idle) this.buckets.delete(key);
  }
}

/** A wait in whole seconds, at least 1, for `Retry-After` and messages. */
export const waitSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));
