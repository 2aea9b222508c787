import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Key material derived once from APP_SECRET with HKDF, one sub-key per purpose, so a
 * leaked cursor-signing key can never decrypt a stored token.
 */
export interface Secrets {
  /** AES-256-GCM, output `v1.<iv>.<tag>.<ciphertext>` (base64url). */
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
  /** HMAC-SHA256 (base64url) for a purpose: cursors, file URLs, cookies. */
  sign(purpose: SignPurpose, data: string): string;
  verify(purpose: SignPurpose, data: string, signature: string): boolean;
}

export type SignPurpose = 'cursor' | 'file' | 'cookie' | 'state';

export function createSecrets(appSecret: string): Secrets {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', appSecret, 'pd-bridge', info, 32));
  const encKey = derive('encrypt:v1');
  // Key objects, not buffers: createHmac imports a buffer key on every call, a measurable
  // share of a page that signs a cursor per conversation and a URL per stored file.
  const signKeys = new Map<SignPurpose, KeyObject>((['cursor', 'file', 'cookie', 'state'] as const).map((p) => [p, createSecretKey(derive(`sign:${p}`))]));
  const sign = (purpose: SignPurpose, data: string) => createHmac('sha256', signKeys.get(purpose)!).update(data).digest('base64url');

  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(sealed) {
      const [v, iv, tag, ct] = sealed.split('.');
      if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('not an encrypted value');
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
    sign,
    verify(purpose, data, signature) {
      return safeEqual(sign(purpose, data), signature);
    },
  };
}

/** Constant-time string comparison that does not leak length through an early exit on content. */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ba.length !== bb.length) {
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}
