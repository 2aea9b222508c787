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

export type RouteFamily = 'admin-api' | 'admin' | 'manifest' | 'webhook' | 'oauth' | 'files' | 'ui-api' | 'ui' | 'other';

const FAMILIES: Array<[RegExp, RouteFamily]> = [
  [/^\/admin\/api(\/|$)/i, 'admin-api'],
  [/^\/admin(\/|$)/i, 'admin'],
  [/^\/api(\/|$)/i, 'manifest'],
  [/^\/webhooks(\/|$)/i, 'webhook'],
  [/^\/auth(\/|$)/i, 'oauth'],
  [/^\/files(\/|$)/i, 'files'],
  [/^\/ui\/api(\/|$)/i, 'ui-api'],
  // The workspace pages Pipedrive frames (and their assets): HTML errors, workspace metrics.
  [/^\/ui(\/|$)/i, 'ui'],
];

/** The family of a canonical path: what every guard, error shape and metric label keys on. */
export function routeFamily(path: string): RouteFamily {
  for (const [re, family] of FAMILIES) if (re.test(path)) return family;
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
