import type * as Crypto from 'node:crypto';
import { digestInvalid } from './errors.js';
import { requireBuiltin } from '../builtins.js';

/** Digest algorithms this registry computes and verifies (image-spec "Digests": registered algorithms). */
export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

// image-spec descriptor.md: digest grammar.
//   digest    ::= algorithm ":" encoded
//   algorithm ::= algorithm-component (algorithm-separator algorithm-component)*
//   algorithm-component ::= [a-z0-9]+ ; algorithm-separator ::= [+._-]
//   encoded   ::= [a-zA-Z0-9=_-]+
const DIGEST_GRAMMAR = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const LOWER_HEX = /^[0-9a-f]+$/;
/** Nearly every digest a registry sees: one test instead of the grammar's captures. */
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  encoded: string;
  /** The canonical `algorithm:encoded` string. */
  digest: string;
}

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/**
 * Parses and validates a digest. A malformed digest, and a well-formed one of
 * an algorithm other than sha256 / sha512, are both `DIGEST_INVALID` (400):
 * we cannot verify content we cannot hash, so we refuse it rather than store
 * it unverified.
 */
export function parseDigest(value: string): ParsedDigest {
  if (SHA256_DIGEST.test(value)) return { algorithm: 'sha256', encoded: value.slice(7), digest: value };
  const match = DIGEST_GRAMMAR.exec(value);
  if (!match) throw digestInvalid(`malformed digest ${JSON.stringify(value)}`, { digest: value });
  const [, algorithm, encoded] = match as unknown as [string, string, string];
  if (!isDigestAlgorithm(algorithm)) {
    throw digestInvalid(`unsupported digest algorithm ${JSON.stringify(algorithm)}: use sha256 or sha512`, { digest: value });
  }
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !LOWER_HEX.test(encoded)) {
    throw digestInvalid(`malformed ${algorithm} digest: expected ${ENCODED_LENGTH[algorithm]} lowercase hex characters`, { digest: value });
  }
  return { algorithm, encoded, digest: value };
}

let crypto: typeof Crypto | undefined;

/**
 * node:crypto, loaded when something is first hashed rather than at start-up:
 * a CLI's first answer (GET /v2/) hashes nothing, and loading it was ~4 ms of
 * the registry's start.
 */
export function nodeCrypto(): typeof Crypto {
  return (crypto ??= requireBuiltin('node:crypto') as typeof Crypto);
}

type HashOnce = (algorithm: string, data: Uint8Array | string, encoding: 'hex' | 'base64url') => string;

/**
 * A digest of a short input in one call: node:crypto's one-shot hash (Node
 * 20.12 and later) costs a third of a Hash object, which manifest PUTs and
 * every upload response would otherwise make.
 */
export function hashOnce(algorithm: string, data: Uint8Array | string, encoding: 'hex' | 'base64url'): string {
  const node = nodeCrypto() as typeof Crypto & { hash?: HashOnce };
  return node.hash ? node.hash(algorithm, data, encoding) : node.createHash(algorithm).update(data).digest(encoding);
}

/** Digest of bytes held in memory. */
export function computeDigest(bytes: Uint8Array | readonly Uint8Array[], algorithm: DigestAlgorithm = 'sha256'): string {
  if (bytes instanceof Uint8Array) return `${algorithm}:${hashOnce(algorithm, bytes, 'hex')}`;
  const hash = nodeCrypto().createHash(algorithm);
  for (const segment of bytes) hash.update(segment);
  return `${algorithm}:${hash.digest('hex')}`;
}
