/**
 * The control plane's TLS material: a CA created on first start (or given by the operator) and a
 * server certificate it signs. Files in the TLS directory: ca.crt, ca.key (0600), server.crt,
 * server.key (0600). Replicas that share the directory share the CA; creation is exclusive, so
 * two replicas starting together agree on one CA.
 */
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface TlsMaterial {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  caPath: string;
}

function keyToPem(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/** Writes a file only if it does not exist yet; returns false when another writer won. */
function writeExclusive(path: string, content: string, mode: number): boolean {
  try {
    writeFileSync(path, content, { flag: 'wx', mode });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), ALGORITHM, false, ['sign']) as Promise<CryptoKey>;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function createCa(dir: string, now: Date): Promise<void> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=kvmservice CA',
    notBefore: new Date(now.getTime() - 5 * 60 * 1000),
    notAfter: new Date(now.getTime() + 10 * 365 * DAY),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = keyToPem((await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer);
  // The key first: a reader that sees ca.crt can rely on ca.key being there.
  if (writeExclusive(join(dir, 'ca.key'), keyPem, 0o600)) writeFileSync(join(dir, 'ca.crt'), cert.toString('pem'), { mode: 0o644 });
}

function serverCertificateUsable(certPem: string, caPem: string, sans: string[], now: Date): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (!cert.verify(new NodeX509(caPem).publicKey)) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < 30 * DAY) return false;
    const names = cert.subjectAltName ?? '';
    return sans.every((san) => names.includes(isIP(san) ? `IP Address:${san}` : `DNS:${san}`));
  } catch {
    return false;
  }
}

async function createServerCertificate(dir: string, caPem: string, caKeyPem: string, sans: string[], now: Date): Promise<void> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = new x509.X509Certificate(caPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=kvmservice',
    issuer: ca.subject,
    notBefore: new Date(now.getTime() - 5 * 60 * 1000),
    notAfter: new Date(now.getTime() + 365 * DAY),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(caKeyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans.map((value) => ({ type: isIP(value) ? ('ip' as const) : ('dns' as const), value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const keyPem = keyToPem((await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) as ArrayBuffer);
  writeFileSync(join(dir, 'server.key'), keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'server.crt'), cert.toString('pem'), { mode: 0o644 });
}

/**
 * Loads or creates the TLS material. Without ca.key (an operator-managed CA), server.crt and
 * server.key must be provided and are used as they are.
 */
export async function ensureTlsMaterial(dir: string, extraSans: readonly string[], now = new Date()): Promise<TlsMaterial> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.crt');
  if (!existsSync(caPath)) await createCa(dir, now);
  // A concurrent creator may have written the key but not yet the certificate.
  for (let i = 0; i < 50 && !existsSync(caPath); i++) await new Promise((r) => setTimeout(r, 100));
  const caCertPem = readFileSync(caPath, 'utf8');
  const sans = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...extraSans])];
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  if (existsSync(join(dir, 'ca.key'))) {
    const current = existsSync(certPath) && existsSync(keyPath) ? readFileSync(certPath, 'utf8') : undefined;
    if (current === undefined || !serverCertificateUsable(current, caCertPem, sans, now)) {
      await createServerCertificate(dir, caCertPem, readFileSync(join(dir, 'ca.key'), 'utf8'), sans, now);
    }
  } else if (!existsSync(certPath) || !existsSync(keyPath)) {
    throw new Error(`${dir}: ca.crt without ca.key needs server.crt and server.key (issued by that CA)`);
  }
  return { caCertPem, serverCertPem: readFileSync(certPath, 'utf8'), serverKeyPem: readFileSync(keyPath, 'utf8'), caPath };
}
