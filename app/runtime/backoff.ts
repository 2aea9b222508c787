/**
 * "Full jitter" exponential backoff (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): a uniform delay in [0, min(cap, base·2^attempt)], never shorter than the
 * server's Retry-After.
 */
export function backoffDelay(attempt: number, opts: { baseMs: number; capMs: number; retryAfterMs?: number | undefined }, random = Math.random): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, opts.retryAfterMs ?? 0);
}
