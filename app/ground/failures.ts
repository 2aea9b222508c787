import { isAxiosError } from 'axios';
import { ZodError } from 'zod';
import { bodyForLog, NO_ANSWER, outboundFailure } from './security/outbound-policy.ts';

/*
 * The failure vocabulary. Whatever goes wrong means one of three things to whoever would try
 * again:
 *
 * - retryable    (RetryableError): try again later, with backoff, honouring a Retry-After;
 * - permanent    (PermanentError): no retry can help;
 * - defer-until  (DeferError): not a failure at all: the work must wait a given time (a
 *                parked rate budget, an open circuit, a session being opened) and spends no
 *                attempt. Thrown, never returned: there is one way to say "later".
 *
 * Anything else thrown counts as retryable (an unknown failure is more likely transient than
 * permanent; the attempt cap still ends it). Two error types carry facts on top of that:
 * AppError (a request refused, its code fixes the HTTP status) and OutsideFailure (an outside
 * service's answer, classified as retryable or permanent).
 *
 * The tables at the end map every failure to a job outcome (`jobOutcome`) and to an HTTP
 * answer (`httpAnswer`); how the answer is rendered is the route family's business
 * (app/http/paths.ts).
 */

/** The HTTP status of each refusal code. */
export const ERROR_STATUS = {
  INVALID_BODY: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  INSUFFICIENT_STORAGE: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * A request refused, with a code that fixes its HTTP status (Table 2). Domain code throws it; the
 * HTTP layer renders it in the caller's shape (Pipedrive's `{success:false, data:{message,
 * code}}`, a webhook's `{error}`…).
 */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Sent as `Retry-After` (429, 503): when the caller may try again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const badRequest = (message: string) => new AppError('INVALID_BODY', message);

/**
 * Try again later, with backoff; `retryAfterMs` is the outside service's own Retry-After.
 * `shared`: that wait is the tenant's, for every job of this kind (a rate limit of the account,
 * not of this call): the outbox holds them back as long, as for a shared DeferError.
 */
export class RetryableError extends Error {
  readonly shared: boolean;

  constructor(
    message: string,
    readonly retryAfterMs?: number,
    opts: { shared?: boolean } = {},
  ) {
    super(message);
    this.name = 'RetryableError';
    this.shared = opts.shared ?? false;
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
 * Not a failure: the call must wait (a parked rate budget, an open circuit, a session not yet
 * confirmed). A job is rescheduled after `delayMs` without spending an attempt.
 *
 * `shared`: the wait is not this job's own but its tenant's, for every job of its kind (a rate
 * window, a spent budget, an open circuit toward the service the kind calls); a session being
 * opened is one conversation's wait, not shared. The outbox then claims none of the tenant's
 * jobs of that kind until the wait ends, instead of claiming each and deferring it in turn.
 */
export class DeferError extends Error {
  readonly shared: boolean;

  constructor(
    message: string,
    readonly delayMs: number,
    opts: { shared?: boolean } = {},
  ) {
    super(message);
    this.name = 'DeferError';
    this.shared = opts.shared ?? false;
  }
}

/** The installation can no longer call Pipedrive until its user installs the app again: permanent. */
export class NeedsReinstallError extends PermanentError {
  constructor(readonly installationId: string) {
    super(`installation ${installationId} needs to be reinstalled (its Pipedrive authorization lapsed)`);
    this.name = 'NeedsReinstallError';
  }
}

/**
 * An outside service (Pipedrive, a platform) failed or refused a call. The message is safe to
 * store and show (no token, no tenant-chosen body); `failure` is what it means for a retry;
 * `extra` goes into an HTTP answer that quotes it (e.g. Pipedrive's own error code).
 */
export class OutsideFailure extends Error {
  constructor(
    message: string,
    /** The outside answer's HTTP status; null when it did not answer. */
    readonly status: number | null = null,
    readonly failure: RetryableError | PermanentError = new RetryableError(message),
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'OutsideFailure';
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
 * Classifies an outside HTTP failure (axios) the house way, for Pipedrive and the platforms
 * alike: network errors, timeouts, 408, 409, 429 and 5xx are retried honouring Retry-After;
 * any other 4xx is permanent. `what` names the call for the stored reason. The reason (a
 * dead letter's, a channel's last error: admins see it) holds the status and a fixed text
 * only: a platform's body is whatever a tenant-named host chose to answer, so it goes to the
 * log (`log`), cut short.
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

/**
 * A database failure that passes on its own: a write lock held elsewhere (sqlite BUSY/LOCKED
 * after busy_timeout), no free pool connection, PostgreSQL lock/statement timeouts,
 * serialization failures, a server starting or out of connections. Requests answer "retry
 * later" (503 + Retry-After) instead of an internal error.
 */
export function isDatabaseBusy(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'KnexTimeoutError') return true;
  const code = typeof e.code === 'string' ? e.code : '';
  return /^SQLITE_(BUSY|LOCKED)/.test(code) || PG_TRANSIENT.has(code);
}

// lock_not_available, query_canceled (statement/lock timeout), cannot_connect_now,
// too_many_connections, serialization_failure, deadlock_detected.
const PG_TRANSIENT = new Set(['55P03', '57014', '57P03', '53300', '40001', '40P01']);

// ---------------------------------------------------------------------------------------------
// Table 1: failure → job outcome (the outbox worker)
//
//   DeferError                 → run again after delayMs, the attempt refunded (shared: the
//                                tenant's other jobs of the kind are not claimed until then)
//   PermanentError (and NeedsReinstallError), an OutsideFailure classified permanent
//                              → dead letter at once
//   RetryableError, an OutsideFailure classified retryable
//                              → retry with backoff (Retry-After honoured), dead after the cap
//                                (shared, with a Retry-After: the tenant's other jobs of the
//                                kind are not claimed until then)
//   anything else              → retry with backoff, dead after the cap
// ---------------------------------------------------------------------------------------------

export type JobOutcome =
  { kind: 'defer'; ms: number; reason: string; shared: boolean } | { kind: 'retry'; reason: string; retryAfterMs?: number | undefined; shared?: boolean } | { kind: 'dead'; reason: string };

export function jobOutcome(err: unknown): JobOutcome {
  const f = err instanceof OutsideFailure ? err.failure : err;
  if (f instanceof DeferError) return { kind: 'defer', ms: f.delayMs, reason: f.message, shared: f.shared };
  if (f instanceof PermanentError) return { kind: 'dead', reason: f.message };
  if (f instanceof RetryableError) return { kind: 'retry', reason: f.message, retryAfterMs: f.retryAfterMs, ...(f.shared ? { shared: true } : {}) };
  return { kind: 'retry', reason: f instanceof Error ? f.message : String(f) };
}

// ---------------------------------------------------------------------------------------------
// Table 2: failure → HTTP answer (status, code, message). The same for every route family;
// each family renders it in its own shape (app/http/error-responses.ts).
//
//   AppError(code)                       → ERROR_STATUS[code], its message and extra
//   the database busy                    → 503, Retry-After 5 s
//   ZodError (a body or query refused)   → 400 INVALID_BODY, the first issue
//   the disk or its quota full           → 507 INSUFFICIENT_STORAGE
//   an upload over a limit (multer)      → 413/400 naming the limit
//   a malformed multipart body           → 400 INVALID_BODY
//   Koa's own 4xx (http-errors), and an OutsideFailure's 4xx met outside a named step
//                                        → that status, a plain message (outside words are not repeated)
//   anything else                        → 500, "Internal error" (never a stack trace)
//
// A failure met during a named step of a request that called out (`duringStep`: connect or
// delete a channel) answers with the step's name, so the admin sees what failed:
//
//   DeferError                           → 429 "<step>: <why>; try again in N s"
//   NeedsReinstallError                  → 409 "install the app again"
//   OutsideFailure 400 / 403 / 429       → 400 / 403 / 429 "<step>: <message>" (+ its extra)
//   any other OutsideFailure             → 502 "<step>: <message>" (+ its extra)
//   anything else                        → as the table above
// ---------------------------------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  extra: Record<string, unknown>;
  /** Sent as Retry-After. */
  retryAfterSeconds?: number | undefined;
}

/** Limits an upload failure names (multer's codes carry none). */
export interface UploadLimits {
  maxBytes: number;
  maxFiles: number;
}

/** How long a caller should wait after the database was busy: one busy_timeout's worth is plenty for a lock to pass. */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * The request's refusal for a failure met during a named step that called out (e.g. "Pipedrive
 * refused the channel"), from Table 2; a failure the step rows do not name goes on unchanged.
 */
export function duringStep(step: string, err: unknown): unknown {
  const a = stepAnswer(step, err);
  return a ? new AppError(a.code, a.message, a.extra) : err;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_BODY',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
};

const MULTER_MESSAGES: Record<string, (limits: UploadLimits) => [number, string]> = {
  LIMIT_FILE_SIZE: (l) => [413, `A file is larger than the ${l.maxBytes} byte limit`],
  LIMIT_FILE_COUNT: (l) => [413, `Too many files: at most ${l.maxFiles} per message`],
  LIMIT_FIELD_VALUE: () => [413, 'A form field is too long'],
  LIMIT_PART_COUNT: () => [413, 'Too many parts in the multipart body'],
  LIMIT_FIELD_COUNT: () => [413, 'Too many form fields'],
  LIMIT_FIELD_KEY: () => [400, 'A form field name is too long'],
  LIMIT_UNEXPECTED_FILE: () => [400, 'Unexpected file field'],
};

/** Turns anything thrown into a status and a safe message; never a stack trace on the wire. */
export function httpAnswer(err: unknown, limits: UploadLimits): HttpAnswer {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, extra: err.extra, retryAfterSeconds: err.retryAfterSeconds };
  if (isDatabaseBusy(err)) {
    return { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'The service is busy; retry shortly', extra: {}, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0]!;
    return { status: 400, code: 'INVALID_BODY', message: `${issue.path.join('.') || 'body'}: ${issue.message}`, extra: {} };
  }
  const e = err as { name?: string; code?: string; status?: number; statusCode?: number; expose?: boolean; message?: string };
  // The disk (or its quota) is full: the client can retry later; a bare 500 says nothing.
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return { status: 507, code: 'INSUFFICIENT_STORAGE', message: 'The server is out of storage space for uploads; try again later', extra: {} };
  }
  if (e?.name === 'MulterError' && e.code && MULTER_MESSAGES[e.code]) {
    const [status, message] = MULTER_MESSAGES[e.code]!(limits);
    return { status, code: CODE_BY_STATUS[status]!, message, extra: {} };
  }
  // busboy/multer parse failures ("Unexpected end of form", "Malformed part header", …)
  if (typeof e?.message === 'string' && /multipart|boundary|unexpected end of form|part header|malformed/i.test(e.message) && !e.status) {
    return { status: 400, code: 'INVALID_BODY', message: `Malformed multipart body: ${e.message}`, extra: {} };
  }
  // Read off any error: Koa's http-errors and an OutsideFailure both carry it.
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'BAD_REQUEST';
    return { status, code, message: e.expose && e.message ? e.message : defaultMessage(code), extra: {} };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error', extra: {} };
}

function stepAnswer(step: string, err: unknown): HttpAnswer | undefined {
  if (err instanceof DeferError) {
    return { status: 429, code: 'RATE_LIMIT_EXCEEDED', message: `${step}: ${err.message}; try again in ${Math.ceil(err.delayMs / 1000)} s`, extra: {} };
  }
  if (err instanceof NeedsReinstallError) {
    return { status: 409, code: 'CONFLICT', message: 'The Pipedrive authorization lapsed: install the app again from /auth/pipedrive', extra: {} };
  }
  if (err instanceof OutsideFailure) {
    const code: ErrorCode = err.status === 403 ? 'FORBIDDEN' : err.status === 400 ? 'INVALID_BODY' : err.status === 429 ? 'RATE_LIMIT_EXCEEDED' : 'BAD_GATEWAY';
    return { status: ERROR_STATUS[code], code, message: `${step}: ${err.message}`, extra: err.extra };
  }
  return undefined;
}

const defaultMessage = (code: ErrorCode) => code.toLowerCase().replaceAll('_', ' ');
