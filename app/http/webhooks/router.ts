import Router from '@koa/router';
import getRawBody from 'raw-body';
import { AppError, BUSY_RETRY_AFTER_SECONDS } from '../../ground/failures.ts';
import { channelContext } from '../../platforms/context.ts';
import type { PlatformRegistry } from '../../platforms/registry.ts';
import type { Secrets } from '../../ground/security/crypto.ts';
import type { Directory } from '../../domain/directory.ts';
import type { Metrics } from '../../ground/metrics.ts';
import { TokenBuckets, waitSeconds } from '../../ground/security/token-buckets.ts';

const MAX_WEBHOOK_BYTES = 1024 * 1024;

/**
 * POST /webhooks/:platform/:channelId: reads the exact bytes (signatures are over them),
 * finds the channel, and hands the request to that platform's adapter, which verifies,
 * persists and answers. Errors render as `{error}`, the shape platforms log.
 */
export function webhooksRouter(deps: { directory: Pick<Directory, 'channel'>; secrets: Secrets; registry: PlatformRegistry; metrics: Metrics; rate: { perMinute: number; burst: number } }): Router {
  const router = new Router({ prefix: '/webhooks' });
  // One channel's flood (a runaway or hostile platform, a replay) costs that channel 429 +
  // Retry-After (Alvaria and Standard Webhooks senders retry a 429 later; Airy marks its
  // message failed with our `error`), not everyone's database and workers.
  const limiter = new TokenBuckets(deps.rate);
  router.post('/:platform/:channelId', async (ctx) => {
    const adapter = deps.registry.get(String(ctx.params.platform));
    if (!adapter?.webhook) throw new AppError('NOT_FOUND', 'Unknown webhook');
    const channelId = String(ctx.params.channelId);
    // Our channel ids are short and printable; PostgreSQL refuses a NUL in a query outright (a 500).
    if (channelId.length > 64 || /[\u0000-\u001f]/.test(channelId)) throw new AppError('NOT_FOUND', 'Unknown channel');
    const channel = await deps.directory.channel(channelId);
    if (!channel || channel.platform !== adapter.kind || channel.status === 'deleted') throw new AppError('NOT_FOUND', 'Unknown channel');
    const wait = limiter.take(channel.id);
    if (wait > 0) {
      throw new AppError('RATE_LIMIT_EXCEEDED', 'Too many webhook requests for this channel; retry later', {}, waitSeconds(wait));
    }
    let rawBody: Buffer;
    try {
      rawBody = await getRawBody(ctx.req, { limit: MAX_WEBHOOK_BYTES, length: ctx.get('content-length') || undefined });
    } catch (err) {
      const e = err as { status?: number; type?: string };
      throw new AppError(e.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', e.status === 413 ? 'Body too large' : 'Could not read the request body');
    }
    const reply = await adapter.webhook(channelContext(channel, deps.secrets), { headers: ctx.headers, rawBody });
    if (reply.status === 401) deps.metrics.webhookRejected.inc({ provider: adapter.kind });
    ctx.status = reply.status;
    // An adapter's 503 means "could not persist now" (e.g. the database was busy): say when to come back.
    if (reply.status === 503) ctx.set('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
    ctx.body = reply.body ?? {};
  });
  return router;
}
