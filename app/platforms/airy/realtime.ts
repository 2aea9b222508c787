import { LRUCache } from 'lru-cache';
import type { Channel } from '../../ground/records.ts';
import type { OutboundPolicy } from '../../ground/security/outbound-policy.ts';
import { channelContext } from '../context.ts';
import type { PlatformServices } from '../contract.ts';
import type { AiryConfig, AiryState, AiryWsEvent } from './schema.ts';
import { WsEventSchema } from './schema.ts';
import { StompSubscriber } from './websocket.ts';

export interface RealtimeOptions {
  backoff?: { baseMs: number; capMs: number };
  heartbeatMs?: number;
  /** How often the leader looks for Airy hosts it does not subscribe to yet (default 30 s). */
  rescanMs?: number;
  policy?: OutboundPolicy;
  /** Most Airy hosts subscribed at once (hosts are tenant input); the least recently used goes first. */
  maxHosts?: number;
}

const PRUNE_GRACE_MS = 60_000;

interface Served {
  channel: Channel;
  config: AiryConfig;
  state: AiryState;
}

/**
 * Read receipts from Airy's WebSocket: one STOMP subscription per
 * Airy host, shared by every channel on that host.
 *
 *   message.created  our contact message with delivery_state `delivered` → the message is `delivered`
 *   metadata.updated conversation `unread_count` 0 → our messages are `read`, the conversation `seen`;
 *                    > 0 → not seen
 *
 * start()/stop() are idempotent and may be called repeatedly, so a leadership hook can hand
 * the subscription between processes (only the leader should hold it). Everything else
 * (sending, the action endpoint) works while it is down; missed receipts are not replayed
 * (Airy has no event history), the next unread_count change catches `read` up.
 */
export class AiryRealtime {
  private readonly hosts: LRUCache<string, StompSubscriber>;
  private readonly since = new WeakMap<StompSubscriber, number>();
  /** Counts release() calls, so a rescan that read the channels before one does not undo it. */
  private releases = 0;
  /**
   * Channels released (deleted, or a connect rolled back before its row is purged): a rescan
   * that still finds the row must not subscribe for it again.
   */
  private readonly gone = new LRUCache<string, true>({ max: 10_000, ttl: 60 * 60_000 });
  private running = false;
  /**
   * Hosts of channels connected while this process did not subscribe (not the leader yet, or
   * starting): start() subscribes them. Without this, a channel connected while start() read the
   * channels (its row not committed yet) waited for the next rescan. Kept for the prune grace
   * only: an older connect has committed (or rolled back) by then, and the channels read at
   * start() give its host with the current settings, so a process elected hours later does not
   * dial hosts from settings it saw long ago.
   */
  private readonly announced: LRUCache<string, AiryConfig>;
  private served: Served[] | undefined;
  private rescan: NodeJS.Timeout | undefined;

  constructor(
    private readonly services: PlatformServices,
    private readonly opts: RealtimeOptions = {},
  ) {
    this.announced = new LRUCache<string, AiryConfig>({ max: opts.maxHosts ?? 1000, ttl: PRUNE_GRACE_MS });
    this.hosts = new LRUCache<string, StompSubscriber>({
      max: opts.maxHosts ?? 1000,
      dispose: (sub, apiUrl, reason) => {
        if (reason === 'evict') services.log.warn({ url: apiUrl }, 'airy realtime: too many hosts; the least recently used one is no longer subscribed');
        void sub.stop();
      },
    });
  }

  /**
   * Subscribes to every host with a connected channel, then keeps looking: a channel connected
   * on another process (only the leader subscribes), or committed just after this scan, names
   * a host nobody would otherwise subscribe to.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const config of [...this.announced.values()].reverse()) this.ensureHost(config);
    this.announced.clear();
    await this.subscribeAll();
    this.rescan = setInterval(() => {
      this.subscribeAll().catch((err) => this.services.log.warn({ err: String(err) }, 'airy realtime: rescan of channels failed'));
    }, this.opts.rescanMs ?? 30_000);
    this.rescan.unref();
  }

  /** Subscribes to new hosts and drops the ones no channel names any more (deleted elsewhere, uninstalled). */
  private async subscribeAll(): Promise<void> {
    const releases = this.releases;
    const served = await this.refresh();
    // A release while the list was read: the list may still name the channel that went.
    if (!this.running || releases !== this.releases) return;
    const wanted = new Set(served.map((s) => s.config.api_url));
    // A host subscribed by a connect that has not committed its channel yet is not a leftover.
    const settled = Date.now() - PRUNE_GRACE_MS;
    for (const [apiUrl, sub] of this.hosts.entries()) if (!wanted.has(apiUrl) && (this.since.get(sub) ?? 0) < settled) this.hosts.delete(apiUrl);
    for (const s of served) if (!this.hosts.has(s.config.api_url)) this.ensureHost(s.config);
  }

  /**
   * A channel on `apiUrl` is going (deleted, or its connect rolled back while it still
   * exists): the subscription ends unless another channel still uses that host.
   */
  async release(apiUrl: string, channelId: string): Promise<void> {
    this.served = undefined;
    this.releases++;
    this.gone.set(channelId, true);
    this.announced.delete(apiUrl);
    if (!this.hosts.has(apiUrl)) return;
    const others = (await this.refresh()).some((s) => s.config.api_url === apiUrl && s.channel.id !== channelId);
    if (!others) this.hosts.delete(apiUrl);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.rescan);
    this.rescan = undefined;
    const subs = [...this.hosts.values()];
    // clear() would dispose (stop) each without waiting; stop them here and wait.
    for (const k of [...this.hosts.keys()]) this.hosts.delete(k);
    await Promise.all(subs.map((s) => s.stop()));
  }

  /** Called when a channel connects: subscribe to its host if nobody does yet. */
  ensureHost(config: AiryConfig): void {
    this.served = undefined;
    if (!this.running) {
      this.announced.set(config.api_url, config);
      return;
    }
    if (this.hosts.has(config.api_url)) return;
    const sub = new StompSubscriber({
      apiUrl: config.api_url,
      token: config.system_token,
      log: this.services.log,
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      ...(this.opts.heartbeatMs !== undefined ? { heartbeatMs: this.opts.heartbeatMs } : {}),
      ...(this.opts.policy ? { policy: this.opts.policy, maxFrameBytes: this.opts.policy.maxResponseBytes } : {}),
      onEvent: (body) => this.handle(config.api_url, body),
    });
    this.hosts.set(config.api_url, sub);
    this.since.set(sub, Date.now());
    sub.start();
  }

  private async refresh(): Promise<Served[]> {
    const channels = (await this.services.domain.channelsOf('airy')).filter((c) => !this.gone.has(c.id));
    this.served = channels.flatMap((channel) => {
      try {
        const ctx = channelContext<AiryConfig, AiryState>(channel, this.services.secrets);
        return ctx.state ? [{ channel, config: ctx.config, state: ctx.state }] : [];
      } catch {
        return [];
      }
    });
    return this.served;
  }

  /** Channels on one host; the cache is rebuilt when an id is not found (a channel came or went). */
  private async onHost(apiUrl: string, match: (s: Served) => boolean): Promise<Served[]> {
    let list = (this.served ?? (await this.refresh())).filter((s) => s.config.api_url === apiUrl);
    if (!list.some(match)) list = (await this.refresh()).filter((s) => s.config.api_url === apiUrl);
    return list;
  }

  private async handle(apiUrl: string, body: string): Promise<void> {
    let event: AiryWsEvent;
    try {
      const parsed = WsEventSchema.safeParse(JSON.parse(body));
      if (!parsed.success) return; // other event types or shapes: not ours to act on
      event = parsed.data;
    } catch {
      return;
    }
    if (event.type === 'message.created') await this.onMessage(apiUrl, event.payload);
    else if (event.type === 'metadata.updated') await this.onMetadata(apiUrl, event.payload);
    else if (event.type === 'channel.updated' && event.payload.connected === false) {
      const mine = (await this.onHost(apiUrl, (s) => s.state.channel_id === event.payload.id)).find((s) => s.state.channel_id === event.payload.id);
      if (mine) this.services.log.warn({ channel: mine.channel.id }, 'the Airy channel was disconnected on the Airy side');
    }
  }

  private async onMessage(apiUrl: string, p: Extract<AiryWsEvent, { type: 'message.created' }>['payload']): Promise<void> {
    // Only contact messages are ours (the Pipedrive user is the Airy contact).
    if (!p.message.from_contact || p.message.delivery_state?.toLowerCase() !== 'delivered' || !p.channel_id) return;
    const match = (s: Served) => s.state.channel_id === p.channel_id && (!p.message.source || p.message.source === s.state.source_id);
    const served = (await this.onHost(apiUrl, match)).find(match);
    if (!served) return;
    const message = await this.services.domain.findMessageByPlatformId(served.channel, p.message.id);
    // Never downgrade: `read` stays read, `failed` is not revived by a late event.
    if (message && message.origin === 'pipedrive' && message.status === 'sent') {
      await this.services.domain.setMessageStatus(message.id, 'delivered');
    }
  }

  private async onMetadata(apiUrl: string, p: Extract<AiryWsEvent, { type: 'metadata.updated' }>['payload']): Promise<void> {
    if (p.subject !== 'conversation') return;
    const unread = p.metadata?.unread_count;
    if (typeof unread !== 'number') return;
    for (const s of await this.onHost(apiUrl, () => true)) {
      const conversation = await this.services.domain.findConversation(s.channel, { platformRef: p.identifier });
      if (!conversation) continue;
      if (unread === 0) {
        // Pipedrive learns `seen` only from getConversations/getConversationById: there is no
        // push for it in the Channels API, so it is stored (first, so
        // it is in place when the `read` statuses reach Pipedrive).
        if (!conversation.seen) await this.services.domain.updateConversation(conversation, { seen: true });
        await this.services.domain.markOutgoingRead(conversation);
      } else if (conversation.seen) {
        await this.services.domain.updateConversation(conversation, { seen: false });
      }
      return;
    }
  }
}
