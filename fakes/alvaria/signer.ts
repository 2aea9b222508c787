import { generateKeyPair, exportSPKI, SignJWT, type CryptoKey } from 'jose';
import { randomUUID } from 'node:crypto';

/** How the fake signs a callback: correctly, or one of the negative modes a receiver must refuse. */
export type SignMode = 'valid' | 'expired' | 'wrong-key' | 'none' | 'hs256' | 'missing';

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicPem: string;
}

async function newKey(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid: randomUUID(), privateKey, publicPem: await exportSPKI(publicKey) };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * Alvaria's callback signer (Server Messaging v2 callbacks): an RS256 JWT in `Authorization`,
 * with a current and a next key (rotation), configurable claims and `Bearer` prefix, and
 * the negative modes expired, wrong key, `alg: none`, HS256 keyed with the public PEM, and
 * no header at all.
 */
export class CallbackSigner {
  mode: SignMode = 'valid';
  bearer = true;
  issuer = 'https://alvaria.fake/callbacks';
  audience: string | undefined;
  ttlSeconds = 300;

  private constructor(
    private current: KeyPair,
    private next: KeyPair,
    private readonly stranger: KeyPair,
    private readonly now: () => number,
  ) {}

  static async create(now: () => number): Promise<CallbackSigner> {
    return new CallbackSigner(await newKey(), await newKey(), await newKey(), now);
  }

  /** The key signing now. */
  get currentPublicPem(): string {
    return this.current.publicPem;
  }
  /** The key that signs after the next rotation (publish it ahead of time). */
  get nextPublicPem(): string {
    return this.next.publicPem;
  }

  /** The next key starts signing; a fresh key becomes the next one. */
  async rotate(): Promise<void> {
    this.current = this.next;
    this.next = await newKey();
  }

  /** The Authorization header value for one callback, or undefined in 'missing' mode. */
  async authorization(): Promise<string | undefined> {
    const token = await this.token();
    if (token === undefined) return undefined;
    return this.bearer ? `Bearer ${token}` : token;
  }

  private async token(): Promise<string | undefined> {
    const nowSec = Math.floor(this.now() / 1000);
    const claims: Record<string, unknown> = { jti: randomUUID() };
    let iat = nowSec;
    let exp = nowSec + this.ttlSeconds;
    switch (this.mode) {
      case 'missing':
        return undefined;
      case 'none':
        return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: this.issuer, iat, exp })}.`;
      case 'hs256':
        return this.build(claims, iat, exp).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(this.current.publicPem));
      case 'expired':
        iat = nowSec - 3600;
        exp = nowSec - 600;
        break;
      default:
        break;
    }
    const key = this.mode === 'wrong-key' ? this.stranger : this.current;
    return this.build(claims, iat, exp).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
  }

  private build(claims: Record<string, unknown>, iat: number, exp: number): SignJWT {
    const jwt = new SignJWT(claims).setIssuer(this.issuer).setIssuedAt(iat).setExpirationTime(exp);
    return this.audience ? jwt.setAudience(this.audience) : jwt;
  }
}
