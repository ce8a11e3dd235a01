import { InvalidArgumentError } from './errors.js';
import { keyBytes, MAX_VALUE_BYTES, valueBytes } from './keys.js';
import type { CommitOperation, CommitOptions, Lease } from './store.js';

/**
 * Operations per commit. etcd refuses transactions with more than `--max-txn-ops` (default 128)
 * compares or operations per branch; a commit uses at most one of each per operation, so every
 * commit fits an etcd left at its defaults (Debian's etcd 3.4 included).
 */
export const MAX_COMMIT_OPERATIONS = 128;

/**
 * The values of one commit together, like one value: 1 MiB. With 128 keys of at most 1.5 KiB, each
 * sent up to three times (compare, write, read-back on failure), an etcd transaction stays below
 * etcd's default `--max-request-bytes` of 1.5 MiB.
 */
export const MAX_COMMIT_VALUE_BYTES = MAX_VALUE_BYTES;

export type CheckedOperation =
  | {
      readonly type: 'create' | 'update' | 'put';
      readonly key: string;
      readonly keyBytes: Buffer;
      readonly value: Buffer;
      readonly lease: Lease | string | undefined;
      readonly expectRevision: number | undefined;
    }
  | { readonly type: 'delete'; readonly key: string; readonly keyBytes: Buffer; readonly expectRevision: number | undefined };

const TYPES = new Set(['create', 'update', 'put', 'delete']);

function checkRevision(field: string, revision: unknown): number | undefined {
  if (revision === undefined) return undefined;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 1) {
    throw new InvalidArgumentError(`${field} ${String(revision)}: must be a positive integer`);
  }
  return revision;
}

/**
 * Validates a commit before anything is sent or written (the same rules on both backends): 1 to
 * MAX_COMMIT_OPERATIONS operations, valid keys and values, one operation per key (etcd refuses a
 * transaction that writes a key twice, and "create then update" in one revision has no meaning),
 * values within MAX_COMMIT_VALUE_BYTES. Errors name the operation by index.
 */
export function checkCommit(operations: readonly CommitOperation[], options: CommitOptions | undefined): CheckedOperation[] {
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > MAX_COMMIT_OPERATIONS) {
    const count = Array.isArray(operations) ? `${operations.length} operations` : 'not an array';
    throw new InvalidArgumentError(`operations: ${count}; a commit takes 1 to ${MAX_COMMIT_OPERATIONS} operations`);
  }
  const seen = new Map<string, number>();
  let valueTotal = 0;
  return operations.map((operation: CommitOperation, index): CheckedOperation => {
    const at = `operations[${index}]`;
    if (typeof operation !== 'object' || operation === null || !TYPES.has(operation.type)) {
      throw new InvalidArgumentError(`${at}.type: must be one of create, update, put, delete`);
    }
    let bytes: Buffer;
    try {
      bytes = keyBytes(operation.key);
    } catch (error) {
      throw new InvalidArgumentError(`${at}: ${(error as Error).message}`);
    }
    const earlier = seen.get(operation.key);
    if (earlier !== undefined) {
      throw new InvalidArgumentError(`${at}: key ${operation.key} is already written by operations[${earlier}]; one operation per key`);
    }
    seen.set(operation.key, index);
    if (operation.type === 'delete') {
      return { type: 'delete', key: operation.key, keyBytes: bytes, expectRevision: checkRevision(`${at}.expectRevision`, operation.expectRevision) };
    }
    let value: Buffer;
    try {
      value = valueBytes(operation.value);
    } catch (error) {
      throw new InvalidArgumentError(`${at}.${(error as Error).message}`);
    }
    valueTotal += value.length;
    if (valueTotal > MAX_COMMIT_VALUE_BYTES) {
      throw new InvalidArgumentError(
        `${at}.value: the values of operations[0..${index}] add up to ${valueTotal} bytes, more than the ${MAX_COMMIT_VALUE_BYTES}-byte limit of one commit`,
      );
    }
    const expectRevision = operation.type === 'update' ? checkRevision(`${at}.expectRevision`, operation.expectRevision) : undefined;
    return { type: operation.type, key: operation.key, keyBytes: bytes, value, lease: operation.lease ?? options?.lease, expectRevision };
  });
}
