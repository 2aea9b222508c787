import { createHash } from 'node:crypto';
import { isAxiosError, type AxiosInstance } from 'axios';
import { LRUCache } from 'lru-cache';
import { classifyHttpError } from '../../ground/failures.ts';
import { bodyForLog, NO_ANSWER, OutboundPolicy, outboundFailure, RefusedSettingError, refusedByPolicy } from '../../ground/security/outbound-policy.ts';
import { PlatformError, type AdapterFactory, type ChannelContext, type PlatformAdapter, type PlatformServices } from '../contract.ts';
import { handleCallback, knownSessions } from './inbound.ts';
import { AlvariaClient } from './client.ts';
import { AlvariaConfigSchema, type AlvariaConfig, type AlvariaState } from './schema.ts';
import { sendMessage } from './outbound.ts';
import { MAX_SESSION_AGE_MS, Sessions } from './sessions.ts';
import { TokenClient } from './token-client.ts';

export interface AlvariaOptions {
  /** The clock for session ages and callback `exp` checks (tests shrink 4 h to nothing). */
  now?: () => number;
  maxSessionAgeMs?: number;
  /** A session not confirmed by NEW_SESSION within this long counts as failed. */
  provisionalTimeoutMs?: number;
  /** How long a send waits for NEW_SESSION before looking again: from min, growing with the session's age, up to max. The callback wakes it sooner. */
  deferMs?: { min: number; max: number };
  http?: AxiosInstance;
  /** Total deadline of one request towards Alvaria (headers and body). */
  timeoutMs?: number;
  /** Most token caches kept (one per set of credentials, which are tenant input). */
  maxTokenClients?: number;
  /** Oldest callback JWT accepted, by `iat` (default: the config's ALVARIA_CALLBACK_MAX_AGE_SECONDS). */
  callbackMaxAgeSeconds?: number;
}

type Ctx = ChannelContext<AlvariaConfig, AlvariaState>;

// Alvaria Customer Care configures the callback URL by hand: the admin must hand it over.
const connected = (webhookUrl: string) => ({ state: { connectedAt: Date.now() }, notes: { callback_url: webhookUrl } });

/**
 * Alvaria Cloud Server Messaging as a platform: the Pipedrive user is the session's contact,
 * Alvaria agents answer. Sessions are opened on demand, messages wait durably (outbox defer)
 * until NEW_SESSION confirms one, and callbacks arrive signed with an RS256 JWT.
 */
export function alvariaAdapterFactory(opts: AlvariaOptions = {}): AdapterFactory {
  return (services) => createAlvariaAdapter(services, opts);
}

export function createAlvariaAdapter(services: PlatformServices, opts: AlvariaOptions = {}): PlatformAdapter<AlvariaConfig, AlvariaState> {
  const now = opts.now ?? Date.now;
  // Every call goes to admin-named hosts: through the outbound policy (checked and pinned
  // destination, total deadline, size cap).
  const http = opts.http ?? new OutboundPolicy(services.config.outbound).http({ timeoutMs: opts.timeoutMs ?? 15_000 });
  const repo = services.repositories.alvariaSessions;
  const sessions = new Sessions(repo, {
    now,
    maxAgeMs: opts.maxSessionAgeMs ?? MAX_SESSION_AGE_MS,
    provisionalTimeoutMs: opts.provisionalTimeoutMs ?? 10 * 60_000,
  });
  const deferMs = opts.deferMs ?? { min: 250, max: 30_000 };
  const callbackSessions = knownSessions();

  // One token cache per set of credentials, shared by every send of the channel. Credentials
  // are tenant input: the least recently used cache goes (its next send fetches a token).
  const tokenClients = new LRUCache<string, TokenClient>({ max: opts.maxTokenClients ?? 1000 });
  const tokensFor = (c: AlvariaConfig) => {
    const key = createHash('sha256')
      .update(JSON.stringify([c.token_url, c.org_id, c.client_id, c.client_secret]))
      .digest('hex');
    let t = tokenClients.get(key);
    if (!t) {
      t = new TokenClient(http, { tokenUrl: c.token_url, orgId: c.org_id, clientId: c.client_id, clientSecret: c.client_secret }, now);
      tokenClients.set(key, t);
    }
    return t;
  };
  const clientFor = (c: AlvariaConfig) => new AlvariaClient(http, tokensFor(c), { apiUrl: c.api_url, orgId: c.org_id, apiKey: c.api_key });

  return {
    kind: 'alvaria',
    displayName: 'Alvaria Cloud',
    configSchema: AlvariaConfigSchema,
    shortName: 'Alvaria',
    webhookHint: 'for Alvaria, hand the callback URL to Alvaria Customer Care',
    // Alvaria's documents call the webhook URL the callback URL.
    webhookUrlAliases: ['callback_url'],

    /**
     * Proves both URLs before the channel exists: a token from token_url, then an
     * authenticated call to api_url (deleting a session that cannot exist: Alvaria answers
     * 404 once the token, x-api-key and org are accepted, 401/403 otherwise). Messages to
     * the admin carry a status and a fixed text, never the host's body.
     */
    async connect(input) {
      try {
        await tokensFor(input.config).get();
      } catch (err) {
        if (refusedByPolicy(err)) throw new RefusedSettingError('token_url');
        const { status, message } = outboundFailure(err);
        if (status) services.log.warn({ status, body: bodyForLog(err) }, 'alvaria connect: the token endpoint refused');
        if (status === 400 || status === 401 || status === 403) throw new PlatformError(`the token endpoint refused the client credentials (HTTP ${status})`);
        throw new PlatformError(`could not get a token from token_url: ${status ? `HTTP ${status}` : isAxiosError(err) || message !== NO_ANSWER ? message : 'unexpected answer'}`);
      }
      try {
        await clientFor(input.config).deleteSession(`verify-${input.channelId}`);
      } catch (err) {
        if (refusedByPolicy(err)) throw new RefusedSettingError('api_url');
        const { status, message } = outboundFailure(err);
        if (status) services.log.warn({ status, body: bodyForLog(err) }, 'alvaria connect: api_url check');
        if (status === 404 || status === 410) return connected(input.webhookUrl);
        if (status === 401 || status === 403) throw new PlatformError(`api_url refused the token or api_key (HTTP ${status}); check api_url, org_id and api_key`);
        throw new PlatformError(`api_url did not answer like Alvaria Server Messaging (${status ? `HTTP ${status}` : message}); check api_url`);
      }
      // A 2xx for a session that cannot exist: not Alvaria as documented.
      throw new PlatformError('api_url did not answer like Alvaria Server Messaging (it accepted an unknown session); check api_url');
    },

    async disconnect({ channel, config }: Ctx) {
      const api = clientFor(config);
      for (const s of await repo.listOpenSessions(channel.id)) {
        if (now() - s.createdAt < MAX_SESSION_AGE_MS) {
          try {
            await api.deleteSession(s.sessionId);
          } catch (err) {
            // Already gone on Alvaria's side is what we wanted.
            if (!(isAxiosError(err) && (err.response?.status === 404 || err.response?.status === 410))) throw classifyHttpError(err, 'Alvaria Delete Session', services.log);
          }
        }
        await repo.endSession(s.pk, 'the channel was deleted', now());
      }
    },

    send(ctx: Ctx, outgoing) {
      return sendMessage({ services, sessions, api: clientFor(ctx.config), repo, deferMs, now }, ctx, outgoing);
    },

    webhook(ctx: Ctx, request) {
      return handleCallback({ services, repo, sessions: callbackSessions, now, maxAgeSeconds: opts.callbackMaxAgeSeconds ?? services.config.alvariaCallbackMaxAgeSeconds }, ctx, request);
    },
  };
}
