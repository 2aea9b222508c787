import { createHash } from 'node:crypto';

/**
 * The fake's own copy of Airy's UUIDv5.fromNamespaceAndName (lib/java/uuid): SHA-1 over the
 * plain string `ns + name`, v5/variant bits set. Kept separate from the app's copy so a bug
 * in one cannot hide behind the other; both are tested against the same known vectors (fake-contract.test.ts).
 */
export function fakeAiryUuid(ns: string, name = ''): string {
  const b = createHash('sha1')
    .update(ns + name, 'utf8')
    .digest()
    .subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20, 32)].join('-');
}
