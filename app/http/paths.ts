import type { Context, Next } from 'koa';

/**
 * One spelling per path, decided before any guard or router looks at it, so the two can never
 * disagree about which route family a request belongs to. Equivalent spellings (RFC 3986
 * §6.2.2, https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2) become the same path:
 * percent-encoded unreserved characters are decoded, dot segments removed, runs of slashes
 * collapsed and a trailing slash dropped. Encoded reserved characters (`%2F`, `%3F`…) stay
 * encoded: they are data, not structure. Letter case is left alone (ids are case-sensitive);
 * families are matched case-insensitively, exactly like @koa/router's default matching.
 */
export function canonicalPath(raw: string): string {
  // Most requests are spelled canonically already: nothing encoded, doubled, dotted or trailing.
  if (!SPECIAL.test(raw) && raw.startsWith('/')) return raw;
  let p = raw.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  p = p.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (const seg of p.split('/').slice(1)) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  p = `/${out.join('/')}`;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** What canonicalPath may change: a percent sign, a run of slashes, a segment starting with a dot, a trailing slash. */
const SPECIAL = /%|\/\/|\/\.|.\/$/;

export type RouteFamily = 'admin-api' | 'admin' | 'manifest' | 'webhook' | 'oauth' | 'files' | 'ui-api' | 'ui' | 'other';

/**
 * How a family renders an error (the status comes from the failure table in
 * app/ground/failures.ts): Pipedrive's envelope `{success:false, data:{message, code}}`,
 * `{error}` for webhooks (the shape platforms log), `{error:{code,message}}` for the JSON APIs
 * of the admin page and the workspace, an HTML page for routes a browser opens.
 */
export type ErrorShape = 'pipedrive' | 'webhook' | 'admin' | 'html';

/** The label of a family in the request-duration metric (pages and their JSON APIs share one). */
export type MetricFamily = 'manifest' | 'webhook' | 'admin' | 'oauth' | 'files' | 'workspace' | 'other';

interface FamilyTraits {
  /** The path prefix; the first match wins, so a longer prefix comes before its parent. */
  prefix: RegExp | null;
  errors: ErrorShape;
  metric: MetricFamily;
  /** Sent as WWW-Authenticate with a 401 in the family's own shape. */
  challenge?: string;
}

/**
 * The route families, declared once: how a path is recognised, how its errors answer, and how
 * its timing is labelled. Every guard, error shape and metric label keys on these.
 */
const FAMILIES: ReadonlyArray<[RouteFamily, FamilyTraits]> = [
  ['admin-api', { prefix: /^\/admin\/api(\/|$)/i, errors: 'admin', metric: 'admin' }],
  ['admin', { prefix: /^\/admin(\/|$)/i, errors: 'html', metric: 'admin' }],
  // The seven manifest endpoints Pipedrive's Channels API calls.
  ['manifest', { prefix: /^\/api(\/|$)/i, errors: 'pipedrive', metric: 'manifest', challenge: 'Basic realm="pipedrive"' }],
  ['webhook', { prefix: /^\/webhooks(\/|$)/i, errors: 'webhook', metric: 'webhook' }],
  ['oauth', { prefix: /^\/auth(\/|$)/i, errors: 'html', metric: 'oauth' }],
  ['files', { prefix: /^\/files(\/|$)/i, errors: 'pipedrive', metric: 'files' }],
  ['ui-api', { prefix: /^\/ui\/api(\/|$)/i, errors: 'admin', metric: 'workspace' }],
  // The workspace pages Pipedrive frames (and their assets): HTML errors, workspace metrics.
  ['ui', { prefix: /^\/ui(\/|$)/i, errors: 'html', metric: 'workspace' }],
  // Health, metrics, the landing page, the manifest file, anything unknown.
  ['other', { prefix: null, errors: 'pipedrive', metric: 'other' }],
];

const TRAITS = new Map(FAMILIES);

/** The family of a canonical path: what every guard, error shape and metric label keys on. */
export function routeFamily(path: string): RouteFamily {
  for (const [family, { prefix }] of FAMILIES) if (prefix?.test(path)) return family;
  return 'other';
}

/** First middleware: rewrites the request's path to its canonical spelling (the query is kept). */
export function canonicalPaths() {
  return async (ctx: Context, next: Next) => {
    const c = canonicalPath(ctx.path);
    if (c !== ctx.path) ctx.path = c;
    ctx.state.family = routeFamily(c);
    await next();
  };
}

export const familyOf = (ctx: Context): RouteFamily => (ctx.state.family as RouteFamily | undefined) ?? routeFamily(ctx.path);

/**
 * How this request's errors answer: its family's shape, unless a route answers for someone
 * else (Pipedrive's uninstall callback under /auth is a webhook: `answerErrorsAs`).
 */
export const errorShapeOf = (ctx: Context): ErrorShape => (ctx.state.errorShape as ErrorShape | undefined) ?? TRAITS.get(familyOf(ctx))!.errors;

/** For the one route whose callers are not its family's (see errorShapeOf). */
export function answerErrorsAs(ctx: Context, shape: ErrorShape): void {
  ctx.state.errorShape = shape;
}

/** The family's WWW-Authenticate challenge for a 401 answered in `shape`, if it has one. */
export function challengeOf(ctx: Context, shape: ErrorShape): string | undefined {
  const traits = TRAITS.get(familyOf(ctx))!;
  return shape === traits.errors ? traits.challenge : undefined;
}

export const metricFamilyOf = (ctx: Context): MetricFamily => TRAITS.get(familyOf(ctx))!.metric;
