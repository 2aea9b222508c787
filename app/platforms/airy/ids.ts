import { createHash } from 'node:crypto';

/**
 * Airy's id derivation (lib/java/uuid UUIDv5.fromNamespaceAndName): SHA-1 of the plain
 * concatenation `namespace + name` with the version/variant bits of a v5 UUID. It is NOT
 * RFC-4122 v5 (no namespace UUID), so npm `uuid.v5` gives other ids.
 * Airy derives every id a source writes this way, so we can predict them without asking.
 */
export function airyUuid(namespace: string, name = ''): string {
  const b = createHash('sha1')
    .update(namespace + name, 'utf8')
    .digest()
    .subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The Airy ids of what this source writes (sourceId = the source we created for a channel). */
export const airyIds = {
  channel: (sourceId: string, sourceChannelId: string) => airyUuid(sourceId, sourceChannelId),
  conversation: (sourceId: string, sourceConversationId: string) => airyUuid(sourceId, sourceConversationId),
  message: (sourceId: string, sourceMessageId: string) => airyUuid(sourceId, sourceMessageId),
};
