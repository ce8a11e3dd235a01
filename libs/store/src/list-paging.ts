import { InvalidArgumentError } from './errors.js';
import type { ListOptions } from './store.js';

export const MAX_LIST_LIMIT = 10_000;

/** Where the next page starts: the key after the last one returned, read at the first page's revision. */
export interface PagePosition {
  readonly revision: number;
  readonly startKey: Buffer;
}

export interface ListRequest {
  /** 0 = no limit. */
  readonly limit: number;
  readonly position: PagePosition | undefined;
}

/** Validates list options against the prefix's byte range [prefix, end). */
export function parseListOptions(options: ListOptions | undefined, prefix: Buffer, end: Buffer): ListRequest {
  const limit = options?.limit ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError(`limit ${String(limit)}: must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  const token = options?.continue;
  if (token === undefined || token === '') return { limit, position: undefined };
  const position = decodeContinueToken(token);
  if (position === undefined || Buffer.compare(position.startKey, prefix) < 0 || Buffer.compare(position.startKey, end) >= 0) {
    throw new InvalidArgumentError('continue: malformed token, or a token from a list of another prefix');
  }
  return { limit, position };
}

/** The smallest key greater than `key`. */
export function keyAfter(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}

export function encodeContinueToken(position: PagePosition): string {
  return Buffer.from(JSON.stringify({ v: 1, r: position.revision, k: position.startKey.toString('base64') })).toString('base64url');
}

function decodeContinueToken(token: string): PagePosition | undefined {
  if (typeof token !== 'string' || token.length > 8192) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, r, k } = parsed as Record<string, unknown>;
  if (v !== 1 || typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1 || typeof k !== 'string') return undefined;
  return { revision: r, startKey: Buffer.from(k, 'base64') };
}
