import type { Channel } from '../ground/records.ts';
import { findChannel, findChannelByProviderChannelId } from '../store/channels.ts';
import type { Db } from '../store/db.ts';
import { LookupCache, LOOKUP_TTL_MS } from './lookup-cache.ts';

/**
 * Channels by our id (webhooks, the settings page) and by Pipedrive's id (every Channels API
 * call), read through one bounded cache. Both keys of a channel are filed under its id, so
 * `changed(id)` forgets both. Entries are frozen: one object is shared by concurrent requests,
 * and its settings are decrypted once per object (app/platforms/context.ts).
 */
export class ChannelCache {
  private readonly cache: LookupCache<Channel>;

  constructor(
    private readonly db: Db,
    opts: { max?: number; ttlMs?: number } = {},
  ) {
    this.cache = new LookupCache<Channel>({ max: opts.max ?? 10_000, ttlMs: opts.ttlMs ?? LOOKUP_TTL_MS });
  }

  byId(id: string): Promise<Channel | undefined> {
    return this.cache.get(`id\u0000${id}`, async () => frozen(await findChannel(this.db, id)), tagsOf);
  }

  byProviderChannelId(providerChannelId: string): Promise<Channel | undefined> {
    return this.cache.get(`pc\u0000${providerChannelId}`, async () => frozen(await findChannelByProviderChannelId(this.db, providerChannelId)), tagsOf);
  }

  /** The channel's row changed or went (after the commit): the next lookup reads it again. */
  changed(channelId: string): void {
    this.cache.forget(channelId);
  }
}

const tagsOf = (c: Channel) => [c.id];
const frozen = (c: Channel | undefined) => (c ? Object.freeze(c) : undefined);
