import type { Channel } from '../ground/records.ts';
import type { Secrets } from '../ground/security/crypto.ts';
import type { ChannelContext } from './contract.ts';

/** Decrypts a channel's stored config and adapter state for its adapter. */
export function channelContext<C, S>(channel: Channel, secrets: Secrets): ChannelContext<C, S> {
  return {
    channel,
    config: JSON.parse(secrets.decrypt(channel.configEnc)) as C,
    state: (channel.stateEnc ? JSON.parse(secrets.decrypt(channel.stateEnc)) : null) as S,
  };
}

export function sealJson(secrets: Secrets, value: unknown): string {
  return secrets.encrypt(JSON.stringify(value ?? null));
}
