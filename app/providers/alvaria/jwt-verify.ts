import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';

/** Clock skew tolerated on `exp`/`nbf`/`iat` between Alvaria and us. */
export const CLOCK_SKEW_SECONDS = 60;

const keyCache = new Map<string, KeyObject>();
function publicKey(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    // createPublicKey takes SPKI PEM, PKCS#1 PEM and X.509 certificates alike.
    key = createPublicKey(pem);
    if (keyCache.size > 100) keyCache.clear();
    keyCache.set(pem, key);
  }
  return key;
}

export type JwtFailure = 'missing' | 'malformed' | 'expired' | 'invalid';

/**
 * Verifies the RS256 JWT Alvaria puts in a callback's Authorization header (with or
 * without `Bearer `) against the channel's configured public keys, tried in turn so a key
 * rotation needs no downtime. RS256 only (blocks `none` and HS256 key confusion); `exp` is
 * required and enforced with a small skew.
 */
export async function verifyCallbackJwt(
  header: string | string[] | undefined,
  pems: string[],
  now: () => number = Date.now,
): Promise<{ ok: true; claims: JWTPayload } | { ok: false; reason: JwtFailure }> {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value?.trim()) return { ok: false, reason: 'missing' };
  const token = value.trim().replace(/^bearer\s+/i, '');
  if (token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
  let reason: JwtFailure = 'invalid';
  for (const pem of pems) {
    let key: KeyObject;
    try {
      key = publicKey(pem);
    } catch {
      continue;
    }
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['RS256'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp'],
        currentDate: new Date(now()),
      });
      return { ok: true, claims: payload };
    } catch (err) {
      // Expired under one key means the signature matched it: report that over "invalid".
      if (err instanceof errors.JWTExpired) reason = 'expired';
    }
  }
  return { ok: false, reason };
}
