/**
 * The registry's own certificate authority, made in memory at start: an
 * ECDSA P-256 CA and the server certificate it signs, so a test hands the CA
 * to its client and talks HTTPS without a file or openssl at run time.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { certificate, pem, tbsCertificate, type CertificateFields } from './der.js';

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** Validity of the certificates, and the slack allowed for a client clock behind ours. */
const LIFETIME_MS = 24 * 60 * 60 * 1000;
const CLOCK_SKEW_MS = 60 * 60 * 1000;

/** The names every generated server certificate carries: the loopback spellings. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** RFC 5280 §4.1.2.2: unique per CA, positive, at most 20 octets; random so two runs never collide. */
function serial(): Buffer {
  return randomBytes(16);
}

/** Validity window of a certificate issued now, unless the caller gives one (an expired client certificate in a test). */
export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
}

export class CertificateAuthority {
  /** The CA certificate, PEM: what clients trust. */
  readonly cert: string;
  readonly #key: KeyObject;
  readonly #publicKey: KeyObject;
  static readonly NAME = 'oci-test-registry CA';

  constructor() {
    const { publicKey, privateKey } = keyPair();
    this.#key = privateKey;
    this.#publicKey = publicKey;
    this.cert = this.#sign({ ...this.#window({}), serial: serial(), issuer: CertificateAuthority.NAME, subject: CertificateAuthority.NAME, publicKey, issuerKey: publicKey, role: 'ca' });
  }

  #window(validity: Validity): { notBefore: Date; notAfter: Date } {
    // The wall clock TLS peers check, not Date.now(): a test that fakes Date must not get a certificate from the wrong day.
    const now = Math.round(performance.timeOrigin + performance.now());
    return { notBefore: validity.notBefore ?? new Date(now - CLOCK_SKEW_MS), notAfter: validity.notAfter ?? new Date(now + LIFETIME_MS) };
  }

  #sign(fields: CertificateFields): string {
    const tbs = tbsCertificate(fields);
    // node:crypto's ECDSA signature is DER Ecdsa-Sig-Value, what X.509 carries (RFC 5758 §3.2).
    return pem('CERTIFICATE', certificate(tbs, sign('sha256', tbs, this.#key)));
  }

  #issue(subject: string, role: 'server' | 'client', hosts: readonly string[] | undefined, validity: Validity): CertificatePair {
    const { publicKey, privateKey } = keyPair();
    const cert = this.#sign({ ...this.#window(validity), serial: serial(), issuer: CertificateAuthority.NAME, subject, publicKey, issuerKey: this.#publicKey, role, hosts });
    return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }

  /** A server certificate for the loopback names and `hosts` (DNS names or IP addresses). */
  issueServer(hosts: readonly string[] = []): CertificatePair {
    const names = [...new Set([...LOOPBACK_HOSTS, ...hosts])];
    return this.#issue(names.find((h) => !h.includes(':') && !/^\d+\.\d+\.\d+\.\d+$/.test(h)) ?? 'localhost', 'server', names, {});
  }

  /** A client certificate (CN=`name`) for mutual TLS. */
  issueClient(name: string, validity: Validity = {}): CertificatePair {
    return this.#issue(name, 'client', undefined, validity);
  }
}
