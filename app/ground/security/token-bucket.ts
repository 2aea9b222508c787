/**
 * Token buckets by key, in this process (`burst` tokens, refilled at `perMinute`): the
 * per-channel webhook budget and the per-tenant message quota. Callers key only by things
 * that exist (a found channel, a tenant), and idle full buckets are dropped, so the map stays
 * as small as the set of busy keys.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastPrune = 0;

  constructor(
    private readonly cfg: { perMinute: number; burst: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when the request may go ahead, else the seconds until a token is free (for Retry-After). */
  take(channelId: string): number {
    if (this.cfg.perMinute <= 0) return 0;
    const now = this.now();
    this.prune(now);
    const b = this.buckets.get(channelId) ?? { tokens: this.cfg.burst, at: now };
    b.tokens = Math.min(this.cfg.burst, b.tokens + ((now - b.at) / 60_000) * this.cfg.perMinute);
    b.at = now;
    this.buckets.set(channelId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.cfg.perMinute));
  }

  private prune(now: number): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const refillMs = (this.cfg.burst / this.cfg.perMinute) * 60_000;
    for (const [id, b] of this.buckets) if (now - b.at >= refillMs) this.buckets.delete(id);
  }
}
