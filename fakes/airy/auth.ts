import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { jwtVerify, SignJWT } from 'jose';

/** Who called (as Airy's AuthenticationFilter decides): the system token, a JWT (source token or user), or nobody. */
export type Caller = { kind: 'system' } | { kind: 'jwt'; source: string | null } | { kind: 'none' };

/**
 * Airy's AuthenticationFilter: `Authorization` raw, or `Bearer <tok>` with the first 7
 * characters dropped; equal to the system token → system; otherwise a JWT signed with
 * base64decode(jwtSecret); anything else → anonymous (403 wherever auth is needed).
 */
export async function authenticate(req: IncomingMessage, systemToken: string, jwtKey: Uint8Array): Promise<Caller> {
  const header = req.headers.authorization;
  if (!header) return { kind: 'none' };
  const token = header.startsWith('Bearer') ? header.slice(7) : header;
  if (token === systemToken) return { kind: 'system' };
  try {
    const { payload } = await jwtVerify(token, jwtKey, { algorithms: ['HS256'] });
    const principal = typeof payload.principal === 'string' ? (JSON.parse(payload.principal) as { data?: { source?: string } }) : {};
    return { kind: 'jwt', source: principal.data?.source ?? null };
  } catch {
    return { kind: 'none' };
  }
}

/** SourceToken.java: HS256, header {"alg":"HS256"}, jti/sub/iat/principal, no exp (never expires). */
export async function mintSourceToken(sourceId: string, jwtKey: Uint8Array): Promise<string> {
  const name = `source_app:${sourceId}`;
  return new SignJWT({ principal: JSON.stringify({ name, data: { source: sourceId }, roles: null }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setJti(randomUUID())
    .setSubject(name)
    .setIssuedAt()
    .sign(jwtKey);
}

/** A JWT for an Airy *user* (no source claim), e.g. for an Airy user calling /messages.send. */
export async function mintUserToken(userId: string, jwtKey: Uint8Array): Promise<string> {
  return new SignJWT({ principal: JSON.stringify({ name: userId, data: {}, roles: null }) }).setProtectedHeader({ alg: 'HS256' }).setJti(randomUUID()).setSubject(userId).setIssuedAt().sign(jwtKey);
}
