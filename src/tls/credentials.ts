/**
 * What the TLS server is given: the generated certificate or the caller's
 * (PEM text or a file path, checked to belong together), and the CA client
 * certificates must chain to when mutual TLS is on.
 */
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { TlsOptions } from '../options.js';
import { CertificateAuthority, type CertificatePair, type Validity } from './authority.js';

/** `registry.tls`: what a test hands its clients. */
export interface RegistryTls {
  /** The generated CA certificate (PEM) that signed `cert`; undefined when the caller gave their own `cert`. */
  ca: string | undefined;
  /** The server certificate (PEM). */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
  /** A client certificate and key (PEM) signed by the generated CA, for mutual TLS (`tls: { clientCa: true }`). */
  issueClientCertificate(name: string, validity?: Validity): CertificatePair;
}

/** The server side of TLS: secure context options, and whether client certificates are required. */
export interface ServerCredentials extends SecureContextOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** PEM text as is; anything else is a file path, read. The error names the option. */
async function pemOrFile(option: string, value: string): Promise<string> {
  if (value.includes('-----BEGIN ')) return value;
  try {
    return await readFile(value, 'utf8');
  } catch (error) {
    throw new TypeError(`option tls.${option}: cannot read ${JSON.stringify(value)}: ${(error as Error).message}`);
  }
}

export async function credentials(tls: true | TlsOptions): Promise<{ server: ServerCredentials; info: RegistryTls }> {
  const given = tls === true ? {} : tls;
  const authority = new CertificateAuthority();
  let pair: CertificatePair;
  if (given.cert !== undefined && given.key !== undefined) {
    // One after the other, so a message names the first problem the same way every time.
    const cert = await pemOrFile('cert', given.cert);
    const key = await pemOrFile('key', given.key);
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch (error) {
      throw new TypeError(`option tls.cert is not a PEM certificate: ${(error as Error).message}`);
    }
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (error) {
      throw new TypeError(`option tls.key is not a PEM private key: ${(error as Error).message}`);
    }
    if (!leaf.checkPrivateKey(privateKey)) throw new TypeError('option tls.key does not match tls.cert (a different key pair)');
    pair = { cert, key };
  } else {
    pair = authority.issueServer(given.hosts);
  }
  let clientCa: string[] | undefined;
  if (given.clientCa === true) clientCa = [authority.cert];
  else if (given.clientCa !== undefined) {
    const pem = await pemOrFile('clientCa', given.clientCa);
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new TypeError(`option tls.clientCa is not a PEM certificate: ${(error as Error).message}`);
    }
    // The generated CA stays trusted too, so issueClientCertificate works alongside the caller's CA.
    clientCa = [pem, authority.cert];
  }
  const mutual = clientCa !== undefined;
  const server: ServerCredentials = { cert: pair.cert, key: pair.key, requestCert: mutual, rejectUnauthorized: mutual, ...(clientCa ? { ca: clientCa } : {}) };
  const info: RegistryTls = {
    ca: given.cert === undefined ? authority.cert : undefined,
    cert: pair.cert,
    key: pair.key,
    issueClientCertificate: (name, validity) => authority.issueClient(name, validity),
  };
  return { server, info };
}
