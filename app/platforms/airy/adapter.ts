import { isAxiosError } from 'axios';
import { classifyHttpError, PermanentError } from '../../ground/failures.ts';
import { bodyForLog, OutboundPolicy, outboundFailure, RefusedSettingError, refusedByPolicy } from '../../ground/security/outbound-policy.ts';
import { PlatformError, type AdapterFactory, type PlatformAdapter, type PlatformServices } from '../contract.ts';
import { AiryClient } from './client.ts';
import { airyIds } from './ids.ts';
import { handleAction } from './inbound.ts';
import { buildIngest, sourceConversationId } from './outbound.ts';
import { AiryRealtime, type RealtimeOptions } from './realtime.ts';
import { AiryConfigSchema, type AiryConfig, type AiryState } from './schema.ts';

export interface AiryAdapterOptions {
  /** Total deadline of one request towards Airy (headers and body). */
  timeoutMs?: number;
  realtime?: RealtimeOptions;
}

export type AiryAdapter = PlatformAdapter<AiryConfig, AiryState> & { readonly realtime: AiryRealtime };

/** The Airy source id we create for a channel: one source per channel, since each source has one action endpoint. */
export const sourceIdFor = (channelId: string) => `pipedrive-${channelId}`;

/**
 * Turns an Airy failure during connect into a message the admin can act on: never a token,
 * never the host's body (it is logged), and one text for every way a host can fail to
 * answer, so connect cannot be used to tell closed, filtered and open ports apart.
 */
function connectError(services: PlatformServices, err: unknown, step: string): PlatformError | RefusedSettingError {
  if (err instanceof PlatformError) return err;
  if (refusedByPolicy(err)) return new RefusedSettingError('api_url');
  const { status, message } = outboundFailure(err);
  if (status) services.log.warn({ step, status, body: bodyForLog(err) }, 'airy connect: the host refused');
  if (!status) return new PlatformError(`${step}: ${message}; check api_url`);
  if (status === 403) return new PlatformError(`${step}: Airy refused the token (403); check system_token and that the Source API is enabled`);
  if (status === 404) return new PlatformError(`${step}: Airy answered 404; is integration.source-api enabled on this host?`);
  return new PlatformError(`${step}: Airy answered HTTP ${status}`);
}

/**
 * The bridge as an Airy *source* (the Pipedrive user is
 * the Airy contact, Airy users and bots answer).
 */
export function createAiryAdapter(services: PlatformServices, opts: AiryAdapterOptions = {}): AiryAdapter {
  // One transport for every Airy host: a client is a base URL over it, so nothing is cached per host.
  const policy = new OutboundPolicy(services.config.outbound);
  const http = policy.http({ timeoutMs: opts.timeoutMs ?? 10_000 });
  const client = (config: AiryConfig) => new AiryClient(config.api_url, http);
  const realtime = new AiryRealtime(services, { ...opts.realtime, policy });

  return {
    kind: 'airy',
    displayName: 'Airy Core',
    configSchema: AiryConfigSchema,
    shortName: 'Airy',
    webhookHint: 'Airy is told its URL when you connect',
    explainSendFailure(status, reason) {
      if (!/no Airy source/.test(reason) && status !== 403 && status !== 404) return undefined;
      const code = status ? ` (HTTP ${status})` : '';
      return {
        problem: `Airy says this channel's source is gone${code}, so it no longer takes messages from the bridge.`,
        action: 'Reconnect the channel: delete it and connect it again, then replay.',
      };
    },
    realtime,

    /**
     * /sources.create (system token) → the source token; then /sources.channels.create
     * (source token) → Airy's channel id.
     *
     * 409 "Source already exists": Airy returns a source's token only when creating it, so
     * an existing source cannot be adopted. Our source id contains the fresh channel id, so
     * a 409 means something else already claimed that id; we stop and tell the admin rather
     * than delete a source we did not create.
     */
    async connect(input) {
      const airy = client(input.config);
      const sourceId = sourceIdFor(input.channelId);
      let token: string;
      try {
        const source = await airy.createSource(input.config.system_token, {
          source_id: sourceId,
          action_endpoint: input.webhookUrl,
          name: `Pipedrive: ${input.name}`,
          ...(input.avatarUrl ? { image_url: input.avatarUrl } : {}),
        });
        if (!source.token) throw new PlatformError('Airy created the source but returned no token');
        token = source.token;
      } catch (err) {
        if (err instanceof PlatformError) throw err;
        if (isAxiosError(err) && err.response?.status === 409) {
          throw new PlatformError(`Airy already has a source "${sourceId}" and only reveals its token at creation; remove it (POST /sources.delete) and connect again`);
        }
        throw connectError(services, err, 'Creating the Airy source');
      }
      let channelId: string;
      try {
        const channel = await airy.createChannel(token, {
          name: input.name,
          source_channel_id: input.providerChannelId,
          metadata: { pipedrive_channel_id: input.providerChannelId, ...(input.avatarUrl ? { image_url: input.avatarUrl } : {}) },
        });
        channelId = channel.id;
      } catch (err) {
        throw connectError(services, err, 'Creating the Airy channel');
      }
      realtime.ensureHost(input.config);
      return {
        state: { source_id: sourceId, source_token: token, channel_id: channelId, source_channel_id: input.providerChannelId },
        notes: { airy_source_id: sourceId, airy_channel_id: channelId },
      };
    },

    /**
     * Same host: /sources.update with the (new) system token proves it and renames the source;
     * /sources.channels.create (an upsert) renames the channel with the kept source token.
     * Another host: the source must be created there, so this is a fresh connect.
     */
    async reconfigure(current, next) {
      if (current.config.api_url !== next.config.api_url || !current.state?.source_token) return this.connect(next);
      const airy = client(next.config);
      const state = current.state;
      try {
        await airy.updateSource(next.config.system_token, {
          source_id: state.source_id,
          action_endpoint: next.webhookUrl,
          name: `Pipedrive: ${next.name}`,
          ...(next.avatarUrl ? { image_url: next.avatarUrl } : {}),
        });
      } catch (err) {
        if (isAxiosError(err) && err.response?.status === 404) {
          throw new PlatformError(`Airy no longer has this channel's source "${state.source_id}"; delete the channel and connect it again`);
        }
        throw connectError(services, err, 'Updating the Airy source');
      }
      try {
        await airy.createChannel(state.source_token, {
          name: next.name,
          source_channel_id: state.source_channel_id,
          metadata: { pipedrive_channel_id: next.providerChannelId, ...(next.avatarUrl ? { image_url: next.avatarUrl } : {}) },
        });
      } catch (err) {
        throw connectError(services, err, 'Updating the Airy channel');
      }
      realtime.ensureHost(next.config);
      return { state, notes: { airy_source_id: state.source_id, airy_channel_id: state.channel_id } };
    },

    /**
     * /sources.channels.disconnect; "already gone" (403/404) is logged and accepted. The
     * host's WebSocket subscription ends with its last channel (a connect rolled back too).
     */
    async disconnect({ channel, config, state }) {
      await realtime.release(config.api_url, channel.id);
      if (!state) return;
      try {
        await client(config).disconnectChannel(state.source_token, state.channel_id);
      } catch (err) {
        const status = isAxiosError(err) ? err.response?.status : undefined;
        if (status === 403 || status === 404) {
          services.log.warn({ channel: channel.id, status }, 'Airy channel already gone or not ours; treating the disconnect as done');
          return;
        }
        throw classifyHttpError(err, 'Airy /sources.channels.disconnect', services.log);
      }
    },

    /** Airy's message id is derived from ours, so it is known (and recorded by the send job) before the call. */
    platformMessageId: ({ state }, out) => (state?.source_token ? airyIds.message(state.source_id, out.message.id) : null),

    /**
     * One /sources.webhook call. Ids are ours, so a retried call upserts the same Airy
     * message. Airy's conversation id is derived too and recorded first, so a WebSocket
     * receipt that overtakes the HTTP answer still finds the conversation (the message id is
     * recorded by the send job, from `platformMessageId`).
     */
    async send({ config, state }, out) {
      if (!state?.source_token) throw new PermanentError('the channel has no Airy source (connect it again)');
      const convSourceId = sourceConversationId(out.conversation);
      const airyConversationId = airyIds.conversation(state.source_id, convSourceId);
      if (out.conversation.platformRef !== airyConversationId) {
        await services.domain.updateConversation(out.conversation, { platformRef: airyConversationId });
      }
      try {
        await client(config).ingest(state.source_token, buildIngest(out, state.source_channel_id), out.signal);
      } catch (err) {
        // Timeouts, 5xx (503 = Kafka) and 408/409/429 retry; 400/403/404 are dead-lettered with the reason.
        throw classifyHttpError(err, 'Airy /sources.webhook', services.log);
      }
      return { platformMessageId: airyIds.message(state.source_id, out.message.id) };
    },

    webhook: (ctx, req) => handleAction(services, ctx, req),

    start: () => realtime.start(),
    stop: () => realtime.stop(),
  };
}

export const airyAdapterFactory =
  (opts: AiryAdapterOptions = {}): AdapterFactory =>
  (services: PlatformServices) =>
    createAiryAdapter(services, opts);
