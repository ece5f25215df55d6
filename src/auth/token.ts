import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Scope } from './scope.js';

/** The claims of a bearer token (the Docker token format's `access` claim, in a JWT signed with HS256). */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  access: Scope[];
  /** 'refresh' for refresh tokens (OAuth2 refresh_token grant); absent for access tokens. */
  typ?: 'refresh';
}

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
export const ISSUER = 'oci-test-registry';

/**
 * Signs and checks tokens with an HMAC key made when the registry starts,
 * so a token from one registry is refused by any other.
 */
export class TokenSigner {
  readonly #key = randomBytes(32);

  #mac(data: string): Buffer {
    return createHmac('sha256', this.#key).update(data).digest();
  }

  sign(claims: Omit<TokenClaims, 'iss' | 'iat' | 'jti' | 'exp'>, expiresInSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url(JSON.stringify({ iss: ISSUER, iat: now, exp: now + expiresInSeconds, jti: randomUUID(), ...claims }));
    return `${HEADER}.${payload}.${base64url(this.#mac(`${HEADER}.${payload}`))}`;
  }

  /** The claims of a token this signer made, or why it is refused. */
  verify(token: string): { claims: TokenClaims } | { error: 'invalid' | 'expired' } {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return { error: 'invalid' };
    // Compare the signature as text: base64url decoding is lenient (padding, stray characters).
    const given = Buffer.from(parts[2]!);
    const expected = Buffer.from(base64url(this.#mac(`${parts[0]}.${parts[1]}`)));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: 'invalid' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { error: 'invalid' };
    }
    if (!(claims.exp > Date.now() / 1000)) return { error: 'expired' };
    return { claims };
  }
}
