import { open, type FileHandle } from 'node:fs/promises';
import { closeSync, openSync, readSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, noop } from 'cockatiel';
import { CompareResult, CompareTarget, Etcd3, isRecoverableError } from 'etcd3';
import type { ICompare, IKeyValue, IOptions, IResponseOp, ITxnResponse } from 'etcd3';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  NotFoundError,
  StoreUnavailableError,
} from '../errors.js';
import { checkCommit } from '../commit.js';
import { keyBytes, prefixRangeEnd, valueBytes } from '../keys.js';
import { KeptLease, leaseIdOf } from '../lease-keeper.js';
import { encodeContinueToken, keyAfter, parseListOptions } from '../list-paging.js';
import { defaultRetryPolicy, retrying, type RetryPolicy } from '../retry.js';
import type {
  CommitOperation,
  CommitOptions,
  CommitResult,
  DeleteOptions,
  DeleteResult,
  KeyValue,
  Lease,
  LeaseOptions,
  ListOptions,
  ListResult,
  SnapshotOptions,
  SnapshotResult,
  Store,
  StoreValue,
  UpdateOptions,
  Watch,
  WatchOptions,
  WriteOptions,
} from '../store.js';
import {
  commitTxn,
  committedResult,
  firstFailedPrecondition,
  ownCommitRevision,
  rangedKeyValues,
  readAtTxn,
  writtenKeyValue,
  type EtcdOperation,
} from './etcd-commit.js';
import { isCompactedEtcdError, isTransientEtcdError, toStoreError } from './etcd-errors.js';
import { EtcdWatch, isRetryableWatchError, keyValueFromEtcd } from './etcd-watch.js';
import { cancelQuietly } from './grpc-streams.js';
import { readEtcdSnapshotRevision } from './bolt-revision.js';
import { receiveEtcdSnapshot, SnapshotDigestError, SnapshotStalledError, type SnapshotStream } from './etcd-snapshot.js';
import { checkSnapshotDestination, publishSnapshotFile, removeSnapshotLeftovers, temporaryPathFor } from '../snapshot-file.js';

/** PEM material for TLS to etcd (client certificate optional). */
export interface EtcdTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface EtcdStoreOptions {
  /** Use https and these certificates. */
  readonly tls?: EtcdTls;
  /** Deadline of each unary call (default 2000 ms): a call to a dead member fails fast and is retried. */
  readonly callTimeoutMs?: number;
  /** Total time an operation keeps retrying on transient errors before StoreUnavailableError (default 10 000 ms). */
  readonly retryTimeoutMs?: number;
}

function leaseNumber(lease: Lease | string | undefined): string {
  const id = leaseIdOf(lease);
  if (id === undefined) return '0';
  if (!/^-?[0-9]{1,20}$/.test(id)) throw new LeaseNotFoundError(id);
  return id;
}

function checkRevision(field: string, revision: number | undefined): void {
  if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) {
    throw new InvalidArgumentError(`${field} ${String(revision)}: must be a positive integer`);
  }
}

function firstRangeKv(response: ITxnResponse): IKeyValue | undefined {
  const op: IResponseOp | undefined = response.responses[0];
  return op?.response_range?.kvs[0];
}

const existsCompare = (key: Buffer): ICompare => ({ key, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 });
const revisionCompare = (key: Buffer, revision: number): ICompare => ({
  key,
  target: CompareTarget.Mod,
  result: CompareResult.Equal,
  mod_revision: revision,
});

/** The state a failed commit was judged against is gone: try the commit again. */
class StateMoved extends Error {}

/**
 * The scale-out store on an etcd 3.4+ cluster (several control-plane replicas share it).
 * Every unary call has a deadline and is retried with jittered exponential backoff on transient
 * failures (dead member, leader election) on another member. A write retried after an ambiguous
 * failure may find its own earlier attempt applied: a create/update that then sees exactly the
 * value and lease it wrote reports success with that key-value instead of AlreadyExists/Conflict.
 */
export class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly policy: RetryPolicy;
  private readonly callTimeoutMs: number;
  private readonly watches = new Set<EtcdWatch>();
  private readonly leases = new Set<KeptLease>();
  /** Running snapshots: close() cancels their streams. */
  private readonly snapshots = new Set<AbortController>();
  private isClosed = false;

  constructor(endpoints: readonly string[], options: EtcdStoreOptions = {}) {
    if (endpoints.length === 0) throw new InvalidArgumentError('etcd: at least one endpoint is required');
    this.callTimeoutMs = options.callTimeoutMs ?? 2000;
    this.policy = { ...defaultRetryPolicy, totalTimeoutMs: options.retryTimeoutMs ?? defaultRetryPolicy.totalTimeoutMs };
    const scheme = options.tls ? 'https' : 'http';
    const config: IOptions = {
      hosts: endpoints.map((endpoint) => `${scheme}://${endpoint}`),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs }),
      faultHandling: {
        // Retries are ours (with backoff and a time budget); a member that failed 3 times in a row is skipped for a second.
        global: noop,
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      },
      grpcOptions: {
        // Detect a member that stopped answering on long-lived streams (watch, keep-alive).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // gRPC's 4 MiB default would fail a list or a watch batch (etcd sends up to 1000 revisions, or
        // one multi-key commit with previous values, in one message) once it exceeds 4 MiB: the list as
        // "unavailable", the watch by reconnecting forever. etcd's own Go client accepts up to 2 GiB.
        'grpc.max_receive_message_length': 2 ** 31 - 1,
      },
    };
    if (options.tls) {
      config.credentials = { rootCertificate: options.tls.ca, privateKey: options.tls.key, certChain: options.tls.cert };
    }
    this.client = new Etcd3(config);
  }

  private call<T>(what: string, attempt: (n: number) => Promise<T>): Promise<T> {
    if (this.isClosed) return Promise.reject(new StoreUnavailableError('store closed'));
    return retrying(what, this.policy, isTransientEtcdError, attempt, () => this.isClosed);
  }

  // ---- reads -------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    const bytes = keyBytes(key);
    try {
      const response = await this.call(`get ${key}`, () => this.client.kv.range({ key: bytes }));
      const kv = response.kvs[0];
      return kv === undefined ? undefined : keyValueFromEtcd(kv);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    const start = keyBytes(prefix, 'prefix');
    const end = prefixRangeEnd(start);
    const request = parseListOptions(options, start, end);
    const pinned = request.position?.revision;
    try {
      const response = await this.call(`list ${prefix}`, () =>
        this.client.kv.range({
          key: request.position?.startKey ?? start,
          range_end: end,
          limit: request.limit,
          revision: pinned ?? 0,
        }),
      );
      const revision = pinned ?? Number(response.header.revision);
      const items = response.kvs.map(keyValueFromEtcd);
      const last = response.kvs[response.kvs.length - 1];
      return {
        items,
        revision,
        continue: response.more && last !== undefined ? encodeContinueToken({ revision, startKey: keyAfter(last.key) }) : undefined,
      };
    } catch (error) {
      throw toStoreError(error, { revision: pinned });
    }
  }

  async currentRevision(): Promise<number> {
    try {
      const response = await this.call('current revision', () => this.client.kv.range({ key: Buffer.from([0]), count_only: true }));
      return Number(response.header.revision);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  // ---- writes ------------------------------------------------------------------------------

  async create(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    const bytes = keyBytes(key);
    const data = valueBytes(value);
    const lease = leaseNumber(options?.lease);
    try {
      return await this.call(`create ${key}`, async (attempt) => {
        const response = await this.client.kv.txn({
          compare: [{ key: bytes, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
          success: [{ request_put: { key: bytes, value: data, lease } }],
          failure: [{ request_range: { key: bytes } }],
        });
        if (response.succeeded) {
          const revision = Number(response.header.revision);
          return { key, value: data, createRevision: revision, modRevision: revision, version: 1, lease: lease === '0' ? undefined : lease };
        }
        const existing = firstRangeKv(response);
        if (existing === undefined) throw new StoreUnavailableError(`create ${key}: etcd answered without the existing key`);
        if (attempt > 1 && this.isOwnWrite(existing, data, lease)) return keyValueFromEtcd(existing);
        throw new AlreadyExistsError(key, Number(existing.mod_revision));
      });
    } catch (error) {
      throw toStoreError(error, { leaseId: lease });
    }
  }

  async update(key: string, value: StoreValue, options?: UpdateOptions): Promise<KeyValue> {
    const bytes = keyBytes(key);
    const data = valueBytes(value);
    const lease = leaseNumber(options?.lease);
    const expected = options?.expectRevision;
    checkRevision('expectRevision', expected);
    try {
      return await this.call(`update ${key}`, async (attempt) => {
        const response = await this.client.kv.txn({
          compare: [expected === undefined ? existsCompare(bytes) : revisionCompare(bytes, expected)],
          success: [{ request_put: { key: bytes, value: data, lease, prev_kv: true } }],
          failure: [{ request_range: { key: bytes } }],
        });
        if (response.succeeded) {
          const prev = response.responses[0]?.response_put?.prev_kv;
          return this.written(key, data, lease, Number(response.header.revision), prev);
        }
        const existing = firstRangeKv(response);
        if (existing === undefined) throw new NotFoundError(key);
        if (attempt > 1 && this.isOwnWrite(existing, data, lease)) return keyValueFromEtcd(existing);
        throw new ConflictError(key, expected ?? 0, Number(existing.mod_revision));
      });
    } catch (error) {
      throw toStoreError(error, { leaseId: lease });
    }
  }

  async put(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    const bytes = keyBytes(key);
    const data = valueBytes(value);
    const lease = leaseNumber(options?.lease);
    try {
      return await this.call(`put ${key}`, async () => {
        const response = await this.client.kv.put({ key: bytes, value: data, lease, prev_kv: true });
        return this.written(key, data, lease, Number(response.header.revision), response.prev_kv);
      });
    } catch (error) {
      throw toStoreError(error, { leaseId: lease });
    }
  }

  async delete(key: string, options?: DeleteOptions): Promise<DeleteResult> {
    const bytes = keyBytes(key);
    const expected = options?.expectRevision;
    checkRevision('expectRevision', expected);
    try {
      return await this.call(`delete ${key}`, async () => {
        const response = await this.client.kv.txn({
          compare: [expected === undefined ? existsCompare(bytes) : revisionCompare(bytes, expected)],
          success: [{ request_delete_range: { key: bytes, prev_kv: true } }],
          failure: [{ request_range: { key: bytes } }],
        });
        if (response.succeeded) {
          const prev = response.responses[0]?.response_delete_range?.prev_kvs[0];
          if (prev === undefined) throw new NotFoundError(key);
          return { revision: Number(response.header.revision), prev: keyValueFromEtcd(prev) };
        }
        const existing = firstRangeKv(response);
        if (existing === undefined) throw new NotFoundError(key);
        throw new ConflictError(key, expected ?? 0, Number(existing.mod_revision));
      });
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private written(key: string, value: Buffer, lease: string, revision: number, prev: IKeyValue | null | undefined): KeyValue {
    return writtenKeyValue(key, value, lease, revision, prev);
  }

  /**
   * One transaction (etcd-commit.ts). When its compares fail, the keys are read at the revision it
   * was evaluated at, and the first failing precondition is reported. A retry after an ambiguous
   * failure may find the earlier attempt applied (ownCommitRevision): it then reports that result,
   * as a single create/update does; deleted keys' previous values are read at the revision before
   * (if that history was compacted, the outcome is reported unknown).
   */
  async commit(operations: readonly CommitOperation[], options?: CommitOptions): Promise<CommitResult> {
    const ops = checkCommit(operations, options).map(
      (op): EtcdOperation => (op.type === 'delete' ? op : { ...op, leaseId: leaseNumber(op.lease) }),
    );
    const what = `commit of ${ops.length} operation(s) starting with ${ops[0]!.type} ${ops[0]!.key}`;
    const request = commitTxn(ops);
    let mayHaveApplied = false;
    if (this.isClosed) throw new StoreUnavailableError('store closed');
    try {
      return await retrying(what, this.policy, (error) => error instanceof StateMoved || isTransientEtcdError(error), async () => {
        let response: ITxnResponse;
        try {
          response = await this.client.kv.txn(request);
        } catch (error) {
          mayHaveApplied ||= isTransientEtcdError(error);
          throw error;
        }
        if (response.succeeded) return committedResult(ops, response);
        const seen = Number(response.header.revision);
        const read = readAtTxn(ops, seen, (op) => op.type !== 'delete');
        const current = rangedKeyValues(
          ops,
          await this.client.kv.txn(read).catch((error: unknown) => {
            if (isCompactedEtcdError(error)) throw new StateMoved(`${what}: revision ${seen} was compacted before it could be read`);
            throw error;
          }),
        );
        const failed = firstFailedPrecondition(ops, current);
        if (failed === undefined) throw new StoreUnavailableError(`${what}: etcd refused it although every precondition held at revision ${seen}`);
        const own = mayHaveApplied ? ownCommitRevision(ops, current) : undefined;
        if (own === undefined) throw failed;
        return this.ownCommitResult(ops, current, own);
      }, () => this.isClosed);
    } catch (error) {
      if (toStoreError(error) instanceof LeaseNotFoundError) throw new LeaseNotFoundError(await this.missingLease(ops));
      throw toStoreError(error);
    }
  }

  private async ownCommitResult(ops: readonly EtcdOperation[], current: readonly (IKeyValue | undefined)[], revision: number): Promise<CommitResult> {
    const deletes = ops.filter((op) => op.type === 'delete');
    let before: (IKeyValue | undefined)[] = [];
    if (deletes.length > 0) {
      const unknown = `commit: the outcome of an interrupted attempt is unknown`;
      try {
        before = rangedKeyValues(ops, await this.client.kv.txn(readAtTxn(ops, revision - 1, (op) => op.type === 'delete')));
        const after = rangedKeyValues(deletes, await this.client.kv.txn(readAtTxn(deletes, revision, () => false)));
        if (firstFailedPrecondition(ops, before) !== undefined || after.some((kv) => kv !== undefined)) {
          throw new StoreUnavailableError(`${unknown} (revision ${revision} is not its own)`);
        }
      } catch (error) {
        if (isCompactedEtcdError(error)) throw new StoreUnavailableError(`${unknown} (revision ${revision - 1} was compacted)`, { cause: error });
        throw error;
      }
    }
    return {
      revision,
      results: ops.map((op, i): KeyValue | DeleteResult =>
        op.type === 'delete' ? { revision, prev: keyValueFromEtcd(before[i]!) } : keyValueFromEtcd(current[i]!),
      ),
    };
  }

  /** The first lease the operations name that etcd no longer knows (for LeaseNotFoundError). */
  private async missingLease(ops: readonly EtcdOperation[]): Promise<string> {
    const leases = [...new Set(ops.flatMap((op) => (op.type !== 'delete' && op.leaseId !== '0' ? [op.leaseId] : [])))];
    if (leases.length <= 1) return leases[0] ?? '?';
    for (const id of leases) {
      const answer = await this.client.leaseClient.leaseTimeToLive({ ID: id }).catch(() => undefined);
      if (answer !== undefined && Number(answer.TTL) <= 0) return id;
    }
    return leases.join(' or ');
  }

  /** After an ambiguous failure: does the key hold exactly what this write would have written? */
  private isOwnWrite(existing: IKeyValue, value: Buffer, lease: string): boolean {
    return existing.value.equals(value) && String(existing.lease) === lease;
  }

  // ---- watch -------------------------------------------------------------------------------

  async watch(prefix: string, options?: WatchOptions): Promise<Watch> {
    const start = keyBytes(prefix, 'prefix');
    checkRevision('fromRevision', options?.fromRevision);
    // "From now" is pinned to a revision read first, so a resume after a broken stream is exact.
    const fromRevision = options?.fromRevision ?? (await this.currentRevision()) + 1;
    const watch = new EtcdWatch({
      client: this.client,
      start,
      end: prefixRangeEnd(start),
      fromRevision,
      createTimeoutMs: this.callTimeoutMs,
      onClose: (closed) => this.watches.delete(closed),
    });
    this.watches.add(watch);
    try {
      await retrying(`watch ${prefix}`, this.policy, isRetryableWatchError, () => watch.connect(), () => this.isClosed);
    } catch (error) {
      await watch.close();
      throw toStoreError(error);
    }
    return watch;
  }

  // ---- leases ------------------------------------------------------------------------------

  async lease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new InvalidArgumentError(`ttlSeconds ${String(ttlSeconds)}: must be a positive integer`);
    }
    const grantSentAt = Date.now();
    let granted: { ID: string; TTL: string; error: string };
    try {
      granted = await this.call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }));
    } catch (error) {
      throw toStoreError(error);
    }
    if (granted.error) throw new StoreUnavailableError(`etcd lease grant: ${granted.error}`);
    const lease = new KeptLease({
      id: granted.ID,
      ttlSeconds: Number(granted.TTL),
      grantSentAt,
      keepAlive: options?.keepAlive ?? true,
      backend: {
        keepAliveOnce: (id) => this.keepAliveOnce(id),
        revoke: (id) => this.revokeLease(id),
      },
      onEnd: (ended) => this.leases.delete(ended),
    });
    this.leases.add(lease);
    return lease;
  }

  /** One keep-alive round trip on a short-lived stream, bounded by the call deadline. */
  private async keepAliveOnce(id: string): Promise<number> {
    if (this.isClosed) throw new StoreUnavailableError('store closed');
    const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + this.callTimeoutMs });
    try {
      const response = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.on('end', () => reject(new StoreUnavailableError('etcd ended the keep-alive stream')));
        stream.write({ ID: id });
      });
      return Number(response.TTL);
    } catch (error) {
      throw toStoreError(error, { leaseId: id });
    } finally {
      cancelQuietly(stream);
    }
  }

  private async revokeLease(id: string): Promise<void> {
    try {
      await this.call('lease revoke', () => this.client.leaseClient.leaseRevoke({ ID: id }));
    } catch (error) {
      const mapped = toStoreError(error, { leaseId: id });
      if (!(mapped instanceof LeaseNotFoundError)) throw mapped;
    }
  }

  // ---- snapshot ----------------------------------------------------------------------------

  /**
   * Maintenance.Snapshot from one member (the member's whole database, consistent: etcd reads it in
   * one bbolt transaction while writes go on). The stream must deliver a chunk at least every
   * `callTimeoutMs`; a failure before the end (a member stopping, a stall) starts it again from the
   * beginning on any member, within the retry budget. The revision is read from the received file.
   */
  async snapshot(destinationPath: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    if (this.isClosed) throw new StoreUnavailableError('store closed');
    options.signal?.throwIfAborted();
    const destination = await checkSnapshotDestination(destinationPath);
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.snapshots.add(stop);
    const temporary = temporaryPathFor(destination);
    try {
      await retrying(
        `snapshot to ${destination}`,
        this.policy,
        (error) => !stop.signal.aborted && (error instanceof SnapshotStalledError || isTransientEtcdError(error)),
        async () => {
          stop.signal.throwIfAborted();
          let file: FileHandle | undefined;
          try {
            file = await open(temporary, 'w', 0o600);
            const stream = (await this.client.maintenance.snapshot()) as unknown as SnapshotStream;
            await receiveEtcdSnapshot(stream, file, this.callTimeoutMs, stop.signal);
          } finally {
            await file?.close();
          }
        },
        () => this.isClosed || stop.signal.aborted,
      );
      const revision = this.snapshotRevision(temporary);
      const bytes = await publishSnapshotFile(temporary, destination);
      return { bytes, revision };
    } catch (error) {
      await removeSnapshotLeftovers(temporary);
      if (stop.signal.aborted) throw stop.signal.reason;
      if (error instanceof SnapshotStalledError || error instanceof SnapshotDigestError) {
        throw new StoreUnavailableError(`etcd snapshot: ${error.message}`, { cause: error });
      }
      if (typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
        throw new StoreUnavailableError(`etcd snapshot to ${destination}: ${(error as Error).message}`, { cause: error });
      }
      throw toStoreError(error);
    } finally {
      this.snapshots.delete(stop);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private snapshotRevision(file: string): number {
    const fd = openSync(file, 'r');
    try {
      const result = readEtcdSnapshotRevision((offset, length) => {
        const buffer = Buffer.alloc(length);
        return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
      });
      if (!result.ok) throw new StoreUnavailableError(`etcd snapshot: cannot read its revision: ${result.reason}`);
      return result.revision;
    } finally {
      closeSync(fd);
    }
  }

  // ---- compaction & lifecycle --------------------------------------------------------------

  async compact(revision: number): Promise<void> {
    checkRevision('revision', revision);
    try {
      await this.call('compact', () => this.client.kv.compact({ revision, physical: false }));
    } catch (error) {
      if (isCompactedEtcdError(error)) return;
      throw toStoreError(error, { revision });
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stop of this.snapshots) stop.abort(new StoreUnavailableError('store closed during the snapshot'));
    for (const lease of [...this.leases]) lease.abandon();
    await Promise.all([...this.watches].map((watch) => watch.close()));
    this.client.close();
  }
}

