/**
 * The host credential on disk (mode 0600): the secret the control plane issued at join, with its
 * sha256 so that a truncated or edited file is recognised as such rather than sent and refused,
 * and the sha256 of the bootstrap token it came from, so that a spent token is not tried again.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { isRecord, readJsonFile, writeJsonAtomic, type JsonRead } from './state-dir.js';

export interface StoredCredential {
  apiVersion: 'kvmagent.kvmservice.io/v1';
  kind: 'Credential';
  hostname: string;
  credential: string;
  /** sha256 of `credential`. */
  sha256: string;
  /** sha256 of the bootstrap token used to join. */
  tokenSha256: string;
  joinedAt: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function credentialProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (value.kind !== 'Credential') return 'kind: must be Credential';
  for (const field of ['hostname', 'credential', 'sha256', 'tokenSha256', 'joinedAt'] as const) {
    if (typeof value[field] !== 'string') return `${field}: missing or not a string`;
  }
  if (value.credential === '') return 'credential: is empty';
  if (sha256Hex(value.credential as string) !== value.sha256) return 'credential: does not match its sha256 (truncated or edited)';
  return undefined;
}

export function readCredential(file: string): JsonRead<StoredCredential> {
  return readJsonFile<StoredCredential>(file, credentialProblem);
}

export function saveCredential(file: string, hostname: string, credential: string, token: string, now = new Date()): StoredCredential {
  const stored: StoredCredential = {
    apiVersion: 'kvmagent.kvmservice.io/v1',
    kind: 'Credential',
    hostname,
    credential,
    sha256: sha256Hex(credential),
    tokenSha256: sha256Hex(token),
    joinedAt: now.toISOString(),
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeJsonAtomic(file, stored, 0o600);
  return stored;
}
