/** Random secrets and their hashes. Secrets are high-entropy, so a plain SHA-256 is enough at rest. */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** kubeadm-style `[a-z0-9]{n}`, easy to type. */
export function randomToken(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretMatches(secret: string, hash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
