import { isAxiosError } from 'axios';
import { bodyForLog, NO_ANSWER, outboundFailure } from './security/outbound-policy.ts';

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
 * `what` names the call for the stored reason. The reason (a dead letter's, a channel's
 * last error: admins see it) holds the status and a fixed text only: a platform's body is
 * whatever a tenant-named host chose to answer, so it goes to the log (`log`), cut short.
 */
export function classifyHttpError(
  err: unknown,
  what: string,
  log?: { warn(obj: object, msg: string): void },
  /** Pipedrive's own answers (not a tenant-named host) may be quoted, cut short. */
  opts: { quoteBody?: boolean } = {},
): RetryableError | PermanentError {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  const failure = outboundFailure(err);
  if (isAxiosError(err) && err.response) {
    const res = err.response;
    log?.warn({ call: what, status: res.status, body: bodyForLog(err) }, 'platform call failed');
    const reason = opts.quoteBody
      ? `${what}: HTTP ${res.status} ${bodyForLog(err, 300) ?? ''}`.trim()
      : `${what}: HTTP ${res.status} (${res.status >= 500 ? 'the platform failed' : 'the platform refused the request'})`;
    if (res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500) {
      return new RetryableError(reason, parseRetryAfter(res.headers?.['retry-after']));
    }
    return new PermanentError(reason);
  }
  if (isAxiosError(err) || failure.message !== NO_ANSWER) return new RetryableError(`${what}: ${failure.message}`);
  return new RetryableError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
}
