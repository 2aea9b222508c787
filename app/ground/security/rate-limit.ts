import { LRUCache } from 'lru-cache';

/**
 * A token bucket per key (e.g. per installation): `perMinute` calls, refilled evenly. Keys are
 * tenant input, so the table is an LRU: a key pushed out starts again with a full bucket,
 * which only ever happens to the least active of `maxKeys` keys.
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    maxKeys = 10_000,
  ) {
    this.buckets = new LRUCache({ max: maxKeys });
  }

  /** Takes one call; when none is left, how long until one is (ms). */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const now = this.now();
    const ratePerMs = this.perMinute / 60_000;
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * ratePerMs);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / ratePerMs) };
  }
}
