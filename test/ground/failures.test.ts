import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZodError, z } from 'zod';
import { AppError, DeferError, duringStep, httpAnswer, jobOutcome, NeedsReinstallError, OutsideFailure, PermanentError, RetryableError } from '../../app/ground/failures.ts';
import { routeFamily } from '../../app/http/paths.ts';

const limits = { maxBytes: 1000, maxFiles: 2 };

describe('failure table: job outcomes', () => {
  test('defer-until waits without a failure; permanent is dead at once; retryable keeps its Retry-After', () => {
    assert.deepEqual(jobOutcome(new DeferError('budget parked', 1500)), { kind: 'defer', ms: 1500, reason: 'budget parked', shared: false });
    assert.deepEqual(jobOutcome(new DeferError('window full', 900, { shared: true })), { kind: 'defer', ms: 900, reason: 'window full', shared: true });
    assert.deepEqual(jobOutcome(new PermanentError('refused')), { kind: 'dead', reason: 'refused' });
    assert.deepEqual(jobOutcome(new NeedsReinstallError('inst-1')), { kind: 'dead', reason: 'installation inst-1 needs to be reinstalled (its Pipedrive authorization lapsed)' });
    assert.deepEqual(jobOutcome(new RetryableError('busy', 2000)), { kind: 'retry', reason: 'busy', retryAfterMs: 2000 });
    assert.deepEqual(jobOutcome(new RetryableError('over limit', 1000, { shared: true })), { kind: 'retry', reason: 'over limit', retryAfterMs: 1000, shared: true });
  });

  test('an outside failure counts as its classification, with its reason; anything else is retried', () => {
    const outside = new OutsideFailure('Pipedrive x failed (HTTP 400): bad', 400, new PermanentError('pipedrive x: HTTP 400 bad'));
    assert.deepEqual(jobOutcome(outside), { kind: 'dead', reason: 'pipedrive x: HTTP 400 bad' });
    assert.deepEqual(jobOutcome(new Error('boom')), { kind: 'retry', reason: 'boom' });
    assert.deepEqual(jobOutcome('odd'), { kind: 'retry', reason: 'odd' });
  });
});

describe('failure table: HTTP answers', () => {
  test('a refused request answers its code; unknown failures are a bare 500', () => {
    const a = httpAnswer(new AppError('CONFLICT', 'taken', { field: 'x' }), limits);
    assert.deepEqual(a, { status: 409, code: 'CONFLICT', message: 'taken', extra: { field: 'x' }, retryAfterSeconds: undefined });
    assert.deepEqual(httpAnswer(new Error('secret detail'), limits), { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error', extra: {} });
    // Outside a named step, a deferral says nothing to the caller; an outside 4xx gives its
    // status with a plain message (the outside service's words are not repeated), anything else 500.
    assert.equal(httpAnswer(new DeferError('wait', 10), limits).status, 500);
    assert.deepEqual(httpAnswer(new OutsideFailure('Pipedrive said no', 403), limits), { status: 403, code: 'FORBIDDEN', message: 'forbidden', extra: {} });
    assert.equal(httpAnswer(new OutsideFailure('Pipedrive failed', 503), limits).status, 500);
  });

  test('the busy database, a refused body, a full disk, an upload limit', () => {
    assert.deepEqual(httpAnswer({ code: 'SQLITE_BUSY' }, limits), { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'The service is busy; retry shortly', extra: {}, retryAfterSeconds: 5 });
    const zod = z.object({ a: z.string() }).safeParse({}).error as ZodError;
    assert.equal(httpAnswer(zod, limits).status, 400);
    assert.equal(httpAnswer(Object.assign(new Error('no space'), { code: 'ENOSPC' }), limits).status, 507);
    const multer = Object.assign(new Error('File too large'), { name: 'MulterError', code: 'LIMIT_FILE_SIZE' });
    assert.deepEqual(httpAnswer(multer, limits), { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'A file is larger than the 1000 byte limit', extra: {} });
  });

  test('during a named step, outside failures answer with the step name', () => {
    const step = 'Pipedrive refused the channel';
    const refusal = (err: unknown) => {
      const r = duringStep(step, err);
      assert.ok(r instanceof AppError);
      return { status: r.status, message: r.message, extra: r.extra };
    };
    assert.deepEqual(refusal(new DeferError('pacing', 2500)), { status: 429, message: `${step}: pacing; try again in 3 s`, extra: {} });
    assert.equal(refusal(new NeedsReinstallError('i')).status, 409);
    assert.deepEqual(refusal(new OutsideFailure('nope', 403, undefined, { pipedrive_code: 'x' })), { status: 403, message: `${step}: nope`, extra: { pipedrive_code: 'x' } });
    assert.equal(refusal(new OutsideFailure('bad', 400)).status, 400);
    assert.equal(refusal(new OutsideFailure('slow', 429)).status, 429);
    assert.equal(refusal(new OutsideFailure('down', 500)).status, 502);
    assert.equal(refusal(new OutsideFailure('no answer')).status, 502);
    const other = new Error('not an outside failure');
    assert.equal(duringStep(step, other), other);
  });
});

describe('route families', () => {
  test('each prefix belongs to one family, the longer prefix first', () => {
    const cases: Array<[string, string]> = [
      ['/admin/api/channels', 'admin-api'],
      ['/admin', 'admin'],
      ['/api/channels/x/messages', 'manifest'],
      ['/webhooks/airy/ch_1', 'webhook'],
      ['/auth/pipedrive/callback', 'oauth'],
      ['/files/att_1', 'files'],
      ['/ui/api/me', 'ui-api'],
      ['/ui/inbox', 'ui'],
      ['/healthz', 'other'],
      ['/apis', 'other'],
    ];
    for (const [path, family] of cases) assert.equal(routeFamily(path), family, path);
  });
});
