import type { Context, Next } from 'koa';
import type { Metrics } from '../ground/metrics.ts';
import { metricFamilyOf } from './paths.ts';

/**
 * Counts every answer by route pattern (the router's, so ids never become labels) and
 * status, and times it by route family.
 */
export function requestMetrics(metrics: Metrics) {
  return async (ctx: Context, next: Next) => {
    const t0 = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute;
      metrics.requests.inc({ method: ctx.method, route: typeof route === 'string' ? route : 'unmatched', status: String(ctx.status) });
      metrics.requestSeconds.observe({ family: metricFamilyOf(ctx) }, (performance.now() - t0) / 1000);
    }
  };
}
