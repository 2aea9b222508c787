// Placeholder with the declared signature of the iframe-token verifier; replaced at merge by
// the real module (claims, secret fallback, clock tolerance and installation lookup live there).
import { jwtVerify } from 'jose';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

export async function verifyIframeToken(config: Config, token: string | undefined, query?: Record<string, unknown>): Promise<{ userId: number; companyId: number }> {
  const bad = () => new AppError('UNAUTHORIZED', 'Invalid or expired Pipedrive token');
  if (!token || !config.pipedrive.clientSecret) throw bad();
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(config.pipedrive.clientSecret), { algorithms: ['HS256'], clockTolerance: 30, requiredClaims: ['exp'] });
    const userId = payload.userId;
    const companyId = payload.companyId;
    if (!Number.isInteger(userId) || !Number.isInteger(companyId) || (userId as number) <= 0 || (companyId as number) <= 0) throw bad();
    if (query?.userId !== undefined && String(query.userId) !== String(userId)) throw bad();
    if (query?.companyId !== undefined && String(query.companyId) !== String(companyId)) throw bad();
    return { userId: userId as number, companyId: companyId as number };
  } catch {
    throw bad();
  }
}
