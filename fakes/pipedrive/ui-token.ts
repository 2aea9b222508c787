import { SignJWT } from 'jose';

/**
 * An iframe token as Pipedrive signs it for custom UI extensions (HS256 with the extension's
 * JWT secret or the app's client secret; claims userId, companyId, iat, exp; the SDK's
 * GET_SIGNED_TOKEN lasts 5 minutes): https://pipedrive.readme.io/docs/custom-ui-extensions
 */
export async function mintUiToken(o: { userId: number; companyId: number; secret: string; ttl?: number; claims?: Record<string, unknown> }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ userId: o.userId, companyId: o.companyId, ...o.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + (o.ttl ?? 300))
    .sign(new TextEncoder().encode(o.secret));
}
