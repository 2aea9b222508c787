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

export interface CallbackJwtChecks {
  /** Oldest token accepted, by its `iat`: a captured token stops working after this. */
  maxAgeSeconds: number;
  /** Required `iss` / `aud`, when the channel names them. */
  issuer?: string;
  audience?: string;
}

/**
 * Verifies the RS256 JWT Alvaria puts in a callback's Authorization header (with or
 * without `Bearer `) against the channel's configured public keys, tried in turn so a key
 * rotation needs no downtime. RS256 only (blocks `none` and HS256 key confusion); `exp` and
 * `iat` are required and enforced with a small skew, and a token older than `maxAgeSeconds`
 * is refused however far away its `exp` is (the body is not signed, so a long-lived token
 * would carry any body: OWASP JWT cheat sheet,
 * https://cheatsheetseries.owasp.org/cheatsheets/JSON_Web_Token_for_Java_Cheat_Sheet.html).
 */
export async function verifyCallbackJwt(
  header: string | string[] | undefined,
  pems: string[],
  now: () => number = Date.now,
  checks: CallbackJwtChecks = { maxAgeSeconds: 600 },
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
        requiredClaims: ['exp', 'iat'],
        maxTokenAge: checks.maxAgeSeconds,
        ...(checks.issuer ? { issuer: checks.issuer } : {}),
        ...(checks.audience ? { audience: checks.audience } : {}),
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
