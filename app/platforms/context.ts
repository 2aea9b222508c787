import { LRUCache } from 'lru-cache';
import type { Channel } from '../ground/records.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { ChannelContext } from './contract.ts';
import { deepFreeze } from '../ground/freeze.ts';

interface Opened {
  config: unknown;
  state: unknown;
}

/**
 * Decrypted settings by their sealed text, per key set. Sealing uses a fresh nonce, so a sealed
 * text names one version of one channel's settings: a channel decrypts once per change instead
 * of on every webhook (the authenticated decryption and JSON parse were ~3 % of a webhook's CPU).
 * Bounded like every tenant-fed cache; entries are frozen because concurrent requests share them.
 */
const opened = new WeakMap<Secrets, LRUCache<string, Opened>>();

/** The last context built for a channel object (the channel cache shares one frozen object per version). */
const built = new WeakMap<Channel, { secrets: Secrets; configEnc: string; stateEnc: string | null; context: ChannelContext<unknown, unknown> }>();

/** Decrypts a channel's stored config and adapter state for its adapter (frozen: do not modify them). */
export function channelContext<C, S>(channel: Channel, secrets: Secrets): ChannelContext<C, S> {
  const last = built.get(channel);
  if (last && last.secrets === secrets && last.configEnc === channel.configEnc && last.stateEnc === channel.stateEnc) return last.context as ChannelContext<C, S>;
  const { config, state } = open(channel, secrets);
  const context = Object.freeze({ channel, config, state }) as ChannelContext<C, S>;
  built.set(channel, { secrets, configEnc: channel.configEnc, stateEnc: channel.stateEnc, context });
  return context;
}

function open(channel: Channel, secrets: Secrets): Opened {
  let cache = opened.get(secrets);
  if (!cache) opened.set(secrets, (cache = new LRUCache<string, Opened>({ max: 10_000 })));
  const key = `${channel.configEnc}\u0000${channel.stateEnc ?? ''}`;
  let o = cache.get(key);
  if (!o) {
    o = {
      config: deepFreeze(JSON.parse(secrets.decrypt(channel.configEnc))),
      state: channel.stateEnc ? deepFreeze(JSON.parse(secrets.decrypt(channel.stateEnc))) : null,
    };
    cache.set(key, o);
  }
  return o;
}

export function sealJson(secrets: Secrets, value: unknown): string {
  return secrets.encrypt(JSON.stringify(value ?? null));
}
