/**
 * The few DER encodings (ITU-T X.690) an X.509 v3 certificate (RFC 5280)
 * needs, and the TBSCertificate built from them. node:crypto signs and
 * parses certificates but cannot build one, so this is ours.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/** Tag, length (short or long form, X.690 §8.1.3), contents. */
function tlv(tag: number, contents: Buffer): Buffer {
  const n = contents.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, contents]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
/** [n] EXPLICIT: a constructed context-specific wrapper. */
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT primitive (GeneralName dNSName [2], iPAddress [7]; keyIdentifier [0]). */
const implicit = (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes);

/** INTEGER from unsigned big-endian bytes: leading zeros dropped, a 0x00 added when the top bit is set (X.690 §8.3). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** BIT STRING with `unused` trailing bits in the last byte. */
export function bitString(bytes: Buffer, unused = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** OBJECT IDENTIFIER from dotted text (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in Zulu seconds. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** AlgorithmIdentifier for ecdsa-with-SHA256: no parameters (RFC 5758 §3.2). */
export const ECDSA_SHA256 = sequence(oid(OID.ecdsaWithSha256));

/** A Name of O=oci-test-registry, CN=`commonName` (RFC 5280 §4.1.2.4). */
function name(commonName: string): Buffer {
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return sequence(rdn(OID.organization, 'oci-test-registry'), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  // An EC SubjectPublicKeyInfo ends with the BIT STRING of the 65-byte uncompressed point (plus its unused-bits byte).
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

/** GeneralName for a subjectAltName entry: an IP address (4 or 16 bytes) or a DNS name. */
function generalName(host: string): Buffer {
  const bare = host.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return implicit(7, Buffer.from(bare.split('.').map(Number)));
  if (family === 6) return implicit(7, ipv6Bytes(bare));
  return implicit(2, Buffer.from(host, 'ascii'));
}

function ipv6Bytes(address: string): Buffer {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** What a certificate says; the issuer signs it. */
export interface CertificateFields {
  serial: Buffer;
  issuer: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** The subject's public key. */
  publicKey: KeyObject;
  /** The issuer's public key (equal to publicKey for a self-signed CA). */
  issuerKey: KeyObject;
  /** A CA (keyCertSign), a server (serverAuth, with SANs) or a client (clientAuth). */
  role: 'ca' | 'server' | 'client';
  /** subjectAltName entries: DNS names and IP addresses (server certificates). */
  hosts?: readonly string[];
}

/** The TBSCertificate (RFC 5280 §4.1), DER: the bytes the issuer signs. */
export function tbsCertificate(fields: CertificateFields): Buffer {
  const spki = fields.publicKey.export({ type: 'spki', format: 'der' });
  const issuerSpki = fields.issuerKey.export({ type: 'spki', format: 'der' });
  const extensions: Buffer[] = [];
  if (fields.role === 'ca') {
    extensions.push(extension(OID.basicConstraints, true, sequence(boolean(true))));
    // keyCertSign (bit 5) and cRLSign (bit 6): 0b00000110, one unused trailing bit.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, sequence()));
    // digitalSignature (bit 0), all an ECDHE-ECDSA handshake needs: seven unused bits.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)));
    extensions.push(extension(OID.extKeyUsage, false, sequence(oid(fields.role === 'server' ? OID.serverAuth : OID.clientAuth))));
  }
  if (fields.hosts && fields.hosts.length > 0) extensions.push(extension(OID.subjectAltName, false, sequence(...fields.hosts.map(generalName))));
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))));
  extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, keyIdentifier(issuerSpki)))));
  return sequence(
    explicit(0, tlv(0x02, Buffer.from([2]))), // v3
    unsignedInteger(fields.serial),
    ECDSA_SHA256,
    name(fields.issuer),
    sequence(time(fields.notBefore), time(fields.notAfter)),
    name(fields.subject),
    spki,
    explicit(3, sequence(...extensions)),
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1.1). */
export function certificate(tbs: Buffer, signature: Buffer): Buffer {
  return sequence(tbs, ECDSA_SHA256, bitString(signature));
}

/** PEM armour (RFC 7468): base64 in 64-column lines. */
export function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
