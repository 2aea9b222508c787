import { createHash } from 'node:crypto';
import axios, { isAxiosError, type AxiosInstance } from 'axios';
import { classifyHttpError } from '../../outbox/errors.ts';
import { listOpenSessions, endSession } from '../../store/alvaria-sessions.ts';
import { ProviderError, type AdapterFactory, type ChannelContext, type ProviderAdapter, type ProviderServices } from '../provider.ts';
import { handleCallback } from './callbacks.ts';
import { AlvariaClient } from './client.ts';
import { AlvariaConfigSchema, type AlvariaConfig, type AlvariaState } from './schema.ts';
import { sendMessage } from './send.ts';
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
}

type Ctx = ChannelContext<AlvariaConfig, AlvariaState>;

/**
 * Alvaria Cloud Server Messaging as a platform: the Pipedrive user is the session's contact,
 * Alvaria agents answer. Sessions are opened on demand, messages wait durably (outbox defer)
 * until NEW_SESSION confirms one, and callbacks arrive signed with an RS256 JWT.
 */
export function alvariaAdapterFactory(opts: AlvariaOptions = {}): AdapterFactory {
  return (services) => createAlvariaAdapter(services, opts);
}

export function createAlvariaAdapter(services: ProviderServices, opts: AlvariaOptions = {}): ProviderAdapter<AlvariaConfig, AlvariaState> {
  const now = opts.now ?? Date.now;
  const http = opts.http ?? axios.create({ timeout: 15_000, maxRedirects: 0 });
  const db = services.inbox.db;
  const sessions = new Sessions(db, {
    now,
    maxAgeMs: opts.maxSessionAgeMs ?? MAX_SESSION_AGE_MS,
    provisionalTimeoutMs: opts.provisionalTimeoutMs ?? 10 * 60_000,
  });
  const deferMs = opts.deferMs ?? { min: 250, max: 30_000 };

  // One token cache per set of credentials, shared by every send of the channel.
  const tokenClients = new Map<string, TokenClient>();
  const tokensFor = (c: AlvariaConfig) => {
    const key = createHash('sha256').update(JSON.stringify([c.token_url, c.org_id, c.client_id, c.client_secret])).digest('hex');
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

    async connect(input) {
      try {
        await tokensFor(input.config).get();
      } catch (err) {
        const status = isAxiosError(err) ? err.response?.status : undefined;
        if (status === 400 || status === 401 || status === 403) throw new ProviderError(`the token endpoint refused the client credentials (HTTP ${status})`);
        throw new ProviderError(`could not get a token from ${input.config.token_url}${status ? ` (HTTP ${status})` : ''}`);
      }
      // Alvaria Customer Care configures the callback URL by hand: the admin must hand it over.
      return { state: { connectedAt: Date.now() }, notes: { callback_url: input.webhookUrl } };
    },

    async disconnect({ channel, config }: Ctx) {
      const api = clientFor(config);
      for (const s of await listOpenSessions(db, channel.id)) {
        if (now() - s.createdAt < MAX_SESSION_AGE_MS) {
          try {
            await api.deleteSession(s.sessionId);
          } catch (err) {
            // Already gone on Alvaria's side is what we wanted.
            if (!(isAxiosError(err) && (err.response?.status === 404 || err.response?.status === 410))) throw classifyHttpError(err, 'Alvaria Delete Session');
          }
        }
        await endSession(db, s.pk, 'the channel was deleted', now());
      }
    },

    send(ctx: Ctx, outgoing) {
      return sendMessage({ services, sessions, api: clientFor(ctx.config), db, deferMs, now }, ctx, outgoing);
    },

    webhook(ctx: Ctx, request) {
      return handleCallback({ services, db, now }, ctx, request);
    },
  };
}
