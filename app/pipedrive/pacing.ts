import { DeferError, parseRetryAfter } from '../ground/failures.ts';

export interface PacingConfig {
  /** Requests per installation token in Pipedrive's rolling burst window (learned from x-ratelimit-limit). */
  burstLimit: number;
  /** Pipedrive's burst window: a rolling 2 s (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting). */
  windowMs: number;
  /** Consecutive 5xx/network failures that open an installation's circuit. */
  breakerThreshold: number;
  /** First open period; doubles on every failed probe up to breakerMaxMs. */
  breakerBaseMs: number;
  breakerMaxMs: number;
  /** Longer waits than this give the worker slot back (DeferError) instead of sleeping in it. */
  maxInlineWaitMs: number;
}

export const DEFAULT_PACING: PacingConfig = {
  burstLimit: 80,
  windowMs: 2000,
  breakerThreshold: 5,
  breakerBaseMs: 5000,
  breakerMaxMs: 300_000,
  maxInlineWaitMs: 2500,
};

/** What Pipedrive answered, as far as pacing cares (status null = no answer). */
export interface CallOutcome {
  status: number | null;
  headers?: Record<string, unknown>;
}

/** A probe that never reported back (a crash between admit and observe) stops blocking after this. */
const PROBE_TIMEOUT_MS = 30_000;

type Breaker = { state: 'closed' | 'open' | 'half-open'; failures: number; openUntil: number; cooldownMs: number; probeAt: number };

interface Pace {
  limit: number;
  /** Send times inside the current window, oldest first. */
  sent: number[];
  /** Admitted calls whose answer has not been observed yet. */
  inflight: number;
  /** Pipedrive said the burst window is used up until then. */
  blockedUntil: number;
  /** The company's daily token budget is spent until then. */
  parkedUntil: number;
  breaker: Breaker;
}

export interface PaceSnapshot {
  installationId: string;
  limit: number;
  parkedUntil: number | null;
  breaker: Breaker['state'];
  breakerOpenUntil: number | null;
}

/**
 * Keeps each installation's calls inside Pipedrive's limits,
 * in this process:
 * - a rolling-window limiter matched to the 2 s burst window. A token bucket of the same
 *   rate would let a full bucket plus a window's refill through in one window (twice the
 *   limit), which is exactly the self-inflicted 429 we avoid; a log of send times cannot.
 *   `x-ratelimit-limit` adjusts the limit to the company's plan, `x-ratelimit-remaining: 0`
 *   blocks until `x-ratelimit-reset` (it also counts other processes using the token);
 * - the daily budget: a 429 while the burst window still has room (or a daily header at 0)
 *   parks the installation until Retry-After or the next midnight UTC;
 * - a circuit breaker: consecutive 5xx or network failures stop calls for a cooldown, then
 *   one probe decides.
 * Waits longer than `maxInlineWaitMs` throw DeferError, so the outbox reschedules the job
 * without spending an attempt (a parked day must not burn a message's retries).
 */
export class PipedrivePacer {
  private readonly paces = new Map<string, Pace>();
  readonly counts = { burst429: 0, daily429: 0, deferred: 0, breakerOpened: 0 };

  constructor(
    private readonly cfg: PacingConfig = DEFAULT_PACING,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Resolves when a call may go out now; throws DeferError when it must wait longer than
   * `maxInlineWaitMs` (0 from a worker slot: a wait there would hold the slot from other tenants).
   */
  async admit(installationId: string, opts: { maxInlineWaitMs?: number } = {}): Promise<void> {
    const maxInline = opts.maxInlineWaitMs ?? this.cfg.maxInlineWaitMs;
    const p = this.pace(installationId);
    for (;;) {
      const now = this.now();
      const hold = this.holdOf(installationId);
      if (hold) throw hold;
      const b = p.breaker;
      if (b.state === 'open') {
        b.state = 'half-open';
        b.probeAt = now;
      } else if (b.state === 'half-open' && now - b.probeAt < PROBE_TIMEOUT_MS) {
        throw this.defer(Math.min(b.cooldownMs, 1000), 'waiting for the probe call to Pipedrive (circuit half-open)');
      } else if (b.state === 'half-open') {
        b.probeAt = now;
      }
      const wait = this.slotWait(p, now);
      if (wait <= 0) {
        p.sent.push(now);
        p.inflight++;
        return;
      }
      if (b.state === 'half-open') b.state = 'open';
      if (wait > maxInline) throw this.defer(wait, 'pacing toward Pipedrive burst limit');
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Learns from every answer (success or failure). */
  observe(installationId: string, outcome: CallOutcome): void {
    const p = this.pace(installationId);
    const now = this.now();
    const h = outcome.headers ?? {};
    p.inflight = Math.max(0, p.inflight - 1);
    const limit = intHeader(h['x-ratelimit-limit']);
    if (limit && limit > 0) p.limit = limit;
    const remaining = intHeader(h['x-ratelimit-remaining']);
    const resetMs = (intHeader(h['x-ratelimit-reset']) ?? Math.ceil(this.cfg.windowMs / 1000)) * 1000;
    // Calls already on the wire spend what Pipedrive says is left (it also counts other processes).
    if (remaining !== undefined && remaining - p.inflight <= 0) p.blockedUntil = Math.max(p.blockedUntil, now + resetMs);

    if (outcome.status === 429) {
      const retryAfter = parseRetryAfter(h['retry-after'], now);
      if (isDailyLimit(h, remaining)) {
        this.counts.daily429++;
        p.parkedUntil = Math.max(p.parkedUntil, now + (retryAfter ?? msUntilUtcMidnight(now)));
      } else {
        this.counts.burst429++;
        p.blockedUntil = Math.max(p.blockedUntil, now + (retryAfter ?? resetMs));
      }
    }
    this.track(p.breaker, outcome.status, now);
  }

  /** Why calls for this installation are held back for long right now (parked budget, open circuit), if they are. */
  holdOf(installationId: string): DeferError | null {
    const p = this.paces.get(installationId);
    const now = this.now();
    if (!p) return null;
    if (p.parkedUntil > now) return this.defer(p.parkedUntil - now, `Pipedrive's daily API budget is spent until ${new Date(p.parkedUntil).toISOString()}`);
    if (p.breaker.state === 'open' && p.breaker.openUntil > now) return this.defer(p.breaker.openUntil - now, `Pipedrive calls paused after ${p.breaker.failures} failures in a row (circuit open)`);
    return null;
  }

  /** Totals for /metrics and the admin page. */
  figures() {
    const now = this.now();
    let parked = 0;
    let openCircuits = 0;
    for (const p of this.paces.values()) {
      if (p.parkedUntil > now) parked++;
      if (p.breaker.state !== 'closed') openCircuits++;
    }
    return { ...this.counts, parked, openCircuits };
  }

  /** How this process currently paces one installation (the admin page shows it). */
  stateOf(installationId: string): PaceSnapshot {
    const p = this.pace(installationId);
    const now = this.now();
    return {
      installationId,
      limit: p.limit,
      parkedUntil: p.parkedUntil > now ? p.parkedUntil : null,
      breaker: p.breaker.state,
      breakerOpenUntil: p.breaker.state === 'open' ? p.breaker.openUntil : null,
    };
  }

  private track(b: Breaker, status: number | null, now: number): void {
    const failed = status === null || status >= 500;
    if (!failed) {
      b.state = 'closed';
      b.failures = 0;
      b.cooldownMs = this.cfg.breakerBaseMs;
      return;
    }
    b.failures++;
    if (b.state === 'half-open') {
      b.cooldownMs = Math.min(this.cfg.breakerMaxMs, b.cooldownMs * 2);
    } else if (b.failures < this.cfg.breakerThreshold || b.state === 'open') {
      return;
    }
    b.state = 'open';
    b.openUntil = now + b.cooldownMs;
    this.counts.breakerOpened++;
  }

  private slotWait(p: Pace, now: number): number {
    // 10 % margin on the window: our clock starts at send, Pipedrive's at arrival.
    const windowMs = this.cfg.windowMs * 1.1;
    while (p.sent.length && p.sent[0]! <= now - windowMs) p.sent.shift();
    const byWindow = p.sent.length >= p.limit ? p.sent[p.sent.length - p.limit]! + windowMs - now : 0;
    return Math.max(byWindow, p.blockedUntil - now);
  }

  // Every wait here is the installation's, not one call's: shared, so the outbox holds back the
  // tenant's other jobs of the kind instead of claiming and deferring each in turn.
  private defer(ms: number, reason: string): DeferError {
    this.counts.deferred++;
    return new DeferError(reason, Math.max(1, Math.ceil(ms)), { shared: true });
  }

  private pace(id: string): Pace {
    let p = this.paces.get(id);
    if (!p) {
      p = {
        limit: this.cfg.burstLimit,
        sent: [],
        inflight: 0,
        blockedUntil: 0,
        parkedUntil: 0,
        breaker: { state: 'closed', failures: 0, openUntil: 0, cooldownMs: this.cfg.breakerBaseMs, probeAt: 0 },
      };
      this.paces.set(id, p);
    }
    return p;
  }
}

/**
 * A 429 is the daily budget when a daily counter says 0 (`x-daily-ratelimit-token-remaining`
 * seen on the live API, `x-daily-requests-left` documented for api_token traffic), or when the
 * burst window still had room: then the burst limit cannot be why.
 */
function isDailyLimit(h: Record<string, unknown>, burstRemaining: number | undefined): boolean {
  if (intHeader(h['x-daily-ratelimit-token-remaining']) === 0 || intHeader(h['x-daily-requests-left']) === 0) return true;
  return burstRemaining !== undefined && burstRemaining > 0;
}

function intHeader(v: unknown): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (typeof s !== 'string' && typeof s !== 'number') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

/** Pipedrive resets the budget at midnight in its server time zone, which it does not publish: UTC is the guess. */
export function msUntilUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now;
}
