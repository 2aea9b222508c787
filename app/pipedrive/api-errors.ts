import { isAxiosError } from 'axios';
import { classifyHttpError, NeedsReinstallError, OutsideFailure, RetryableError } from '../ground/failures.ts';

/**
 * A failed call to Pipedrive, stripped of the axios request (which carries the bearer token):
 * this is the only error shape that leaves app/pipedrive/, so nothing upstream can log a token.
 * `failure` is the house classification (429/5xx retried honouring Retry-After, other 4xx permanent).
 */
export class PipedriveApiError extends OutsideFailure {
  constructor(
    message: string,
    status: number | null,
    /** Pipedrive's `additional_data.code` or OAuth `error`, when it sent one: quoted to the admin. */
    pdCode: string | null,
    failure: OutsideFailure['failure'],
  ) {
    super(message, status, failure, pdCode ? { pipedrive_code: pdCode } : {});
    this.name = 'PipedriveApiError';
  }
}

/** Converts whatever the SDK or axios threw into a PipedriveApiError (never rethrows an AxiosError). */
export function toPipedriveError(err: unknown, what: string): PipedriveApiError | NeedsReinstallError {
  if (err instanceof PipedriveApiError || err instanceof NeedsReinstallError) return err;
  if (isAxiosError(err)) {
    const res = err.response;
    const body = (res?.data ?? {}) as { error?: unknown; error_info?: unknown; message?: unknown; error_description?: unknown; additional_data?: { code?: unknown } };
    const text = [body.error_description, body.message, body.error].find((v) => typeof v === 'string' && v.length > 0) as string | undefined;
    const code = typeof body.additional_data?.code === 'string' ? body.additional_data.code : typeof body.error === 'string' && /^[a-z_]+$/.test(body.error) ? body.error : null;
    const message = res ? `Pipedrive ${what} failed (HTTP ${res.status}): ${text ?? 'no message'}` : `Pipedrive ${what} failed: ${err.code ?? 'network error'}`;
    const failure = classifyHttpError(err, `pipedrive ${what}`, undefined, { quoteBody: true });
    return new PipedriveApiError(message, res?.status ?? null, code, res?.status === 429 && failure instanceof RetryableError ? accountWait(failure, res.headers) : failure);
  }
  const message = `Pipedrive ${what} failed: ${err instanceof Error ? err.message : String(err)}`;
  return new PipedriveApiError(message, null, null, new RetryableError(message));
}

/**
 * Pipedrive's 429 is never one call's: its limits are the token's 2 s burst window and the
 * company's daily budget (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting). So
 * the wait is shared (the worker holds back the company's other jobs of the kind), and when
 * there is no Retry-After it is `x-ratelimit-reset`, the seconds until the burst window resets.
 */
function accountWait(failure: RetryableError, headers: Record<string, unknown> | undefined): RetryableError {
  const reset = Number(headers?.['x-ratelimit-reset']);
  const resetMs = Number.isFinite(reset) && reset > 0 ? Math.ceil(reset * 1000) : undefined;
  return new RetryableError(failure.message, failure.retryAfterMs ?? resetMs, { shared: true });
}

/**
 * Pipedrive removed the Channels API on 2026-02-01
 * (https://developers.pipedrive.com/changelog/post/breaking-change-deprecation-of-channels-api);
 * how it answers now is not documented. 410, or an error that says deprecated/removed, means
 * gone; so does a 404 on an endpoint that cannot otherwise be missing (`notFoundMeansGone`,
 * e.g. POST /channels; a 404 on DELETE /channels/:id only means that channel is gone).
 */
export function isChannelsApiRemoved(err: unknown, notFoundMeansGone = false): boolean {
  if (!(err instanceof PipedriveApiError)) return false;
  if (err.status === 410) return true;
  if (err.status === 404 && notFoundMeansGone) return true;
  return err.status !== null && err.status >= 400 && err.status < 500 && /deprecat|removed|sunset|no longer (available|supported)|discontinued/i.test(err.message);
}
