/**
 * A multi-key commit as one etcd transaction, and the reading of its answers. Pure: no I/O.
 *
 *   compare: create → CreateRevision == 0; update/delete → ModRevision == expectRevision, or
 *            CreateRevision > 0 (the key exists) without one; put → nothing.
 *   success: the writes, in operation order, each returning the previous key-value.
 *   failure: nothing. The keys are read afterwards at the revision the failed transaction reports,
 *            which is exactly the state its compares saw, to name the first failing precondition.
 *            (Reading them in the failure branch would send every key a third time: 128 keys of
 *            1.5 KiB with 1 MiB of values would then exceed etcd's 1.5 MiB request limit.)
 */
import { CompareResult, CompareTarget } from 'etcd3';
import type { ICompare, IKeyValue, IRequestOp, ITxnRequest, ITxnResponse } from 'etcd3';
import type { CheckedOperation } from '../commit.js';
import { AlreadyExistsError, ConflictError, NotFoundError, StoreUnavailableError, type StoreError } from '../errors.js';
import type { CommitResult, DeleteResult, KeyValue } from '../store.js';
import { keyValueFromEtcd } from './etcd-watch.js';

/** A checked operation with its lease resolved to etcd's decimal id ('0' = none). */
export type EtcdOperation =
  | (Extract<CheckedOperation, { type: 'create' | 'update' | 'put' }> & { readonly leaseId: string })
  | Extract<CheckedOperation, { type: 'delete' }>;

export function compareFor(op: EtcdOperation): ICompare | undefined {
  const key = op.keyBytes;
  if (op.type === 'put') return undefined;
  if (op.type === 'create') return { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 };
  if (op.expectRevision !== undefined) return { key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: op.expectRevision };
  return { key, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 };
}

export function commitTxn(ops: readonly EtcdOperation[]): ITxnRequest {
  return {
    compare: ops.map(compareFor).filter((compare): compare is ICompare => compare !== undefined),
    success: ops.map(
      (op): IRequestOp =>
        op.type === 'delete'
          ? { request_delete_range: { key: op.keyBytes, prev_kv: true } }
          : { request_put: { key: op.keyBytes, value: op.value, lease: op.leaseId, prev_kv: true } },
    ),
    failure: [],
  };
}

/**
 * Reads of every operation's key at `revision` (one transaction, no compares); values only for the
 * operations `withValue` selects.
 */
export function readAtTxn(ops: readonly EtcdOperation[], revision: number, withValue: (op: EtcdOperation) => boolean): ITxnRequest {
  return {
    compare: [],
    success: ops.map((op): IRequestOp => ({ request_range: { key: op.keyBytes, revision, keys_only: !withValue(op) } })),
    failure: [],
  };
}

/** The key-value per operation from a response whose i-th op was a range of operation i's key. */
export function rangedKeyValues(ops: readonly EtcdOperation[], response: ITxnResponse): (IKeyValue | undefined)[] {
  return ops.map((_, i) => response.responses[i]?.response_range?.kvs[0]);
}

export function writtenKeyValue(key: string, value: Buffer, leaseId: string, revision: number, prev: IKeyValue | null | undefined): KeyValue {
  return {
    key,
    value,
    createRevision: prev ? Number(prev.create_revision) : revision,
    modRevision: revision,
    version: prev ? Number(prev.version) + 1 : 1,
    lease: leaseId === '0' ? undefined : leaseId,
  };
}

/** Results of a transaction that succeeded. */
export function committedResult(ops: readonly EtcdOperation[], response: ITxnResponse): CommitResult {
  const revision = Number(response.header.revision);
  const results = ops.map((op, i): KeyValue | DeleteResult => {
    const answer = response.responses[i];
    if (op.type === 'delete') {
      const prev = answer?.response_delete_range?.prev_kvs[0];
      if (prev === undefined) throw new StoreUnavailableError(`commit: etcd deleted ${op.key} without returning it`);
      return { revision, prev: keyValueFromEtcd(prev) };
    }
    return writtenKeyValue(op.key, op.value, op.leaseId, revision, op.type === 'create' ? undefined : answer?.response_put?.prev_kv);
  });
  return { revision, results };
}

/** The error of the first operation whose precondition does not hold for `current` (one entry per operation). */
export function firstFailedPrecondition(ops: readonly EtcdOperation[], current: readonly (IKeyValue | undefined)[]): StoreError | undefined {
  for (const [i, op] of ops.entries()) {
    const kv = current[i];
    if (op.type === 'create' && kv !== undefined) return new AlreadyExistsError(op.key, Number(kv.mod_revision));
    if (op.type === 'update' || op.type === 'delete') {
      if (kv === undefined) return new NotFoundError(op.key);
      if (op.expectRevision !== undefined && Number(kv.mod_revision) !== op.expectRevision) {
        return new ConflictError(op.key, op.expectRevision, Number(kv.mod_revision));
      }
    }
  }
  return undefined;
}

/**
 * After an ambiguous failure and a retry whose compares failed: the revision at which an earlier
 * attempt of this very commit was applied, judged from the current state — every written key holds
 * exactly this commit's value and lease, all at one revision, and every deleted key is absent.
 * Undefined when the state says otherwise, or when the commit writes nothing (deletes only: a
 * deleted key looks the same whoever deleted it).
 */
export function ownCommitRevision(ops: readonly EtcdOperation[], current: readonly (IKeyValue | undefined)[]): number | undefined {
  let revision: number | undefined;
  for (const [i, op] of ops.entries()) {
    const kv = current[i];
    if (op.type === 'delete') {
      if (kv !== undefined) return undefined;
      continue;
    }
    if (kv === undefined || !kv.value.equals(op.value) || String(kv.lease) !== op.leaseId) return undefined;
    const modRevision = Number(kv.mod_revision);
    if (revision !== undefined && modRevision !== revision) return undefined;
    revision = modRevision;
  }
  return revision;
}
