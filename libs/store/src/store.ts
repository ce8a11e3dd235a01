/**
 * The store contract shared by the SQLite and etcd implementations (ARCHITECTURE.md §4).
 *
 * A revisioned key-value map: every successful write gets a new, strictly increasing store-wide
 * revision; a key's `modRevision` is its Kubernetes `resourceVersion` (see resource-version.ts).
 * Keys are strings beginning with `/` (layout `/<root>/<group>/<plural>/<name>`, see keys.ts);
 * values are opaque bytes (strings are stored as UTF-8).
 */

/** What a write accepts: bytes, or a string stored as UTF-8. */
export type StoreValue = string | Uint8Array;

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  /** Revision of the write that created the key (since its last deletion). */
  readonly createRevision: number;
  /** Revision of the key's last write: the object's resourceVersion. */
  readonly modRevision: number;
  /** Number of writes since creation (1 after create). */
  readonly version: number;
  /** Id of the lease the key is attached to, if any. */
  readonly lease: string | undefined;
}

export interface WriteOptions {
  /** Attach the key to a lease: it is deleted when the lease expires or is revoked. */
  readonly lease?: Lease | string;
}

export interface UpdateOptions extends WriteOptions {
  /** Optimistic concurrency: fail with ConflictError unless the key's modRevision equals this. */
  readonly expectRevision?: number;
}

export interface DeleteOptions {
  /** Fail with ConflictError unless the key's modRevision equals this. */
  readonly expectRevision?: number;
}

export interface ListOptions {
  /** Maximum items per page (1..10000); absent = everything. */
  readonly limit?: number;
  /** Token from the previous page. Pages are read at the first page's revision (a snapshot). */
  readonly continue?: string;
}

export interface ListResult {
  /** Items in key order. */
  readonly items: KeyValue[];
  /** The revision the list was read at: watch from `revision + 1` to follow changes. */
  readonly revision: number;
  /** Present when more items remain; pass it back as `continue`. */
  readonly continue: string | undefined;
}

export interface DeleteResult {
  /** Revision of the deletion. */
  readonly revision: number;
  /** The key as it was before the deletion. */
  readonly prev: KeyValue;
}

/** One operation of an atomic multi-key write (`Store.commit`). */
export type CommitOperation =
  | { readonly type: 'create'; readonly key: string; readonly value: StoreValue; readonly lease?: Lease | string }
  | {
      readonly type: 'update';
      readonly key: string;
      readonly value: StoreValue;
      readonly expectRevision?: number;
      readonly lease?: Lease | string;
    }
  | { readonly type: 'put'; readonly key: string; readonly value: StoreValue; readonly lease?: Lease | string }
  | { readonly type: 'delete'; readonly key: string; readonly expectRevision?: number };

export interface CommitOptions {
  /** Lease for every create/update/put operation that names none. */
  readonly lease?: Lease | string;
}

export interface CommitResult {
  /** The one revision at which every operation took effect. */
  readonly revision: number;
  /** Per operation, in order: a DeleteResult for a delete, the written KeyValue otherwise. */
  readonly results: readonly (KeyValue | DeleteResult)[];
}

export type WatchEvent =
  | {
      readonly type: 'PUT';
      readonly key: string;
      readonly revision: number;
      readonly kv: KeyValue;
      /** The key before this write; absent when it was created (or its history was compacted). */
      readonly prev: KeyValue | undefined;
    }
  | {
      readonly type: 'DELETE';
      readonly key: string;
      readonly revision: number;
      /** The key before deletion; absent only when its history was compacted. */
      readonly prev: KeyValue | undefined;
    };

export interface WatchOptions {
  /**
   * First revision to deliver (inclusive, as in etcd): pass `list().revision + 1` to follow a list,
   * or `lastEvent.revision + 1` to resume. Absent = changes after the watch is established.
   * Older than the compaction point → the iterator throws CompactedError.
   */
  readonly fromRevision?: number;
}

export interface WatchStats {
  /** Events handed to the consumer. */
  readonly delivered: number;
  /** Events received but not yet consumed. */
  readonly buffered: number;
  /** Times the backend connection was re-established (etcd). */
  readonly reconnects: number;
}

/**
 * An ordered stream of changes under a prefix. Events arrive in revision order, each exactly once,
 * never dropped: a slow consumer gets backpressure (the backend stops sending while the buffer is
 * full). If the consumer falls so far behind that its next revision is compacted, the iterator
 * throws CompactedError and the caller relists. One consumer per watch; breaking out of
 * `for await` closes it.
 */
export interface Watch extends AsyncIterable<WatchEvent> {
  close(): Promise<void>;
  stats(): WatchStats;
}

export interface LeaseOptions {
  /** Renew automatically every TTL/3 (default true). */
  readonly keepAlive?: boolean;
}

/**
 * A TTL grant. Keys written with it are deleted when it expires or is revoked.
 * `lost` aborts as soon as the lease may be gone: the backend said so, it was revoked, or no
 * keep-alive has succeeded within TTL of being sent (so a holder never believes in a lease the
 * backend has already expired).
 */
export interface Lease {
  readonly id: string;
  /** TTL granted by the backend (etcd may raise small TTLs to its minimum). */
  readonly ttlSeconds: number;
  readonly lost: AbortSignal;
  /** Renew once now; throws LeaseNotFoundError if the lease is gone. */
  keepAliveOnce(): Promise<void>;
  /** Stop renewing without revoking: the backend expires the lease after its TTL. */
  stopKeepAlive(): void;
  /** Delete the lease and every key attached to it. */
  revoke(): Promise<void>;
}

export interface SnapshotOptions {
  /** Stops the snapshot: it rejects with the signal's reason and leaves no file behind. */
  readonly signal?: AbortSignal;
}

export interface SnapshotResult {
  /** Size of the written file. */
  readonly bytes: number;
  /**
   * The store revision the snapshot holds: every write up to it is in the file, none after it.
   * A store restored from the file continues from this revision.
   */
  readonly revision: number;
}

export interface Store {
  readonly backend: 'sqlite' | 'etcd';
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys beginning with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Fails with AlreadyExistsError if the key exists. */
  create(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue>;
  /** Fails with NotFoundError if the key is absent, ConflictError on a stale expectRevision. */
  update(key: string, value: StoreValue, options?: UpdateOptions): Promise<KeyValue>;
  /** Create or replace, unconditionally. */
  put(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue>;
  /** Fails with NotFoundError if the key is absent, ConflictError on a stale expectRevision. */
  delete(key: string, options?: DeleteOptions): Promise<DeleteResult>;
  /**
   * Atomic multi-key write: every operation takes effect at one new revision, or none does and the
   * error of the first failing precondition (in operation order) is thrown. At most
   * MAX_COMMIT_OPERATIONS operations, one per key, values together at most MAX_COMMIT_VALUE_BYTES.
   * Watchers see the events of the operations at that revision, in operation order.
   */
  commit(operations: readonly CommitOperation[], options?: CommitOptions): Promise<CommitResult>;
  /** Resolves once the watch is established: every later write under the prefix is delivered. */
  watch(prefix: string, options?: WatchOptions): Promise<Watch>;
  lease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease>;
  currentRevision(): Promise<number>;
  /**
   * Discard history before `revision` (that revision stays readable). Compacting at or below the
   * current compaction point is a no-op; beyond the current revision is an InvalidArgumentError.
   */
  compact(revision: number): Promise<void>;
  /**
   * A consistent copy of the whole store, taken while writes go on, written to `destinationPath`
   * atomically (a temporary file beside it, fsynced, then renamed; the directory must exist).
   * SQLite: a database file to put in place of the store's file. etcd: a member snapshot, the
   * format `etcdctl snapshot restore` reads (with its trailing sha256).
   */
  snapshot(destinationPath: string, options?: SnapshotOptions): Promise<SnapshotResult>;
  /** Ends every watch and stops lease keep-alives (leases are not revoked: they expire). */
  close(): Promise<void>;
}
