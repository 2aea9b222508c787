import { isAxiosError } from 'axios';

/**
 * How a job handler tells the worker what a failure means. Anything else thrown counts as
 * retryable (an unknown failure is more likely transient than permanent; the attempt cap
 * still ends it).
 */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** No retry can help (a 4xx other than 408/409/429): the job goes straight to the dead letters. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

/**
 * Not a failure: the call must wait (a parked rate budget, an open circuit). The job is
 * rescheduled after `delayMs` without spending an attempt.
 */
export class DeferError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'DeferError';
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Classifies an outside HTTP failure (axios) the house way: network errors, timeouts, 408,
 * 409, 429 and 5xx are retried honouring Retry-After; any other 4xx is permanent.
 * `what` names the call for the stored reason; response bodies are cut short and never
 * include request headers (no secrets).
 */
export function classifyHttpError(err: unknown, what: string): RetryableError | PermanentError {
  if (isAxiosError(err)) {
    const res = err.response;
    if (!res) return new RetryableError(`${what}: ${err.code ?? 'network error'}`);
    const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? '');
    const reason = `${what}: HTTP ${res.status} ${body.slice(0, 300)}`;
    if (res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500) {
      return new RetryableError(reason, parseRetryAfter(res.headers?.['retry-after']));
    }
    return new PermanentError(reason);
  }
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  return new RetryableError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
}
