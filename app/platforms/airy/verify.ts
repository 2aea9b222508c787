import { createHmac } from 'node:crypto';
import { safeEqual } from '../../ground/security/crypto.ts';

export const SIGNATURE_HEADER = 'x-airy-content-signature';

/** Airy signs action calls with lowercase hex HMAC-SHA256 keyed with the source token. */
export function airySignature(sourceToken: string, body: Buffer | string): string {
  return createHmac('sha256', sourceToken).update(body).digest('hex');
}

export type SignatureCheck = { ok: true } | { ok: false; error: string };

/**
 * Verifies X-Airy-Content-Signature over the exact received bytes. The shape check comes
 * first (64 hex chars) so the timing-safe comparison always runs on equal lengths.
 */
export function verifyAirySignature(sourceToken: string, rawBody: Buffer, header: string | string[] | undefined): SignatureCheck {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return { ok: false, error: 'Missing X-Airy-Content-Signature header' };
  const given = value.trim();
  if (!/^[0-9a-f]{64}$/.test(given)) return { ok: false, error: 'Malformed X-Airy-Content-Signature header' };
  if (!safeEqual(airySignature(sourceToken, rawBody), given)) return { ok: false, error: 'Invalid X-Airy-Content-Signature' };
  return { ok: true };
}
