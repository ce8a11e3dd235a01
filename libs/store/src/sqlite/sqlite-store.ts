import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import {
  AlreadyExistsError,
  CompactedError,
  ConflictError,
  InvalidArgumentError,
  LeaseNotFoundError,
  NotFoundError,
  StoreError,
  StoreUnavailableError,
} from '../errors.js';
import { checkCommit, type CheckedOperation } from '../commit.js';
import { keyBytes, prefixRangeEnd, valueBytes } from '../keys.js';
import { KeptLease, leaseIdOf } from '../lease-keeper.js';
import { encodeContinueToken, keyAfter, parseListOptions } from '../list-paging.js';
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
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from '../store.js';
import { checkSnapshotDestination, publishSnapshotFile, removeSnapshotLeftovers, temporaryPathFor } from '../snapshot-file.js';
import { migrateSchema, positionOf, revisionOf } from './sqlite-schema.js';
import { BACKUP_PAGES_PER_STEP, finishSqliteSnapshot, SQLITE_COMPANION_SUFFIXES } from './sqlite-snapshot.js';
import { SqliteWatch, type SqliteEventPage, type SqliteEventSource } from './sqlite-watch.js';

export interface SqliteStoreOptions {
  /**
   * `full` (default): every acknowledged write is fsynced (survives power loss).
   * `normal`: acknowledged writes survive a process crash but the last ones may be lost on power loss.
   */
  readonly durability?: 'full' | 'normal';
  /** How often expired leases are swept (default 250 ms). */
  readonly leaseSweepIntervalMs?: number;
  /** Log rows examined per compaction transaction (default 10 000), so compaction never stalls writes long. */
  readonly compactionBatchRevisions?: number;
  /** Wait this long for a lock held by another process before failing (default 2000 ms). */
  readonly lockTimeoutMs?: number;
}

interface LogRow {
  pos: number;
  key: Buffer;
  deleted: number;
  value: Buffer | null;
  create_rev: number;
  version: number;
  lease: number;
}

interface EventRow extends LogRow {
  prev_pos: number | null;
  prev_value: Buffer | null;
  prev_create_rev: number | null;
  prev_version: number | null;
  prev_lease: number | null;
}

type KeyOp =
  | {
      readonly kind: 'create' | 'update' | 'put';
      readonly key: string;
      readonly keyBytes: Buffer;
      readonly value: Buffer;
      readonly lease: number;
      readonly expectRevision: number | undefined;
    }
  | { readonly kind: 'delete'; readonly key: string; readonly keyBytes: Buffer; readonly expectRevision: number | undefined };

/** One queued write: a single-key operation, or a multi-key commit applied at one revision. */
type WriteOp = KeyOp | { readonly kind: 'commit'; readonly ops: readonly KeyOp[] };

interface PendingWrite {
  readonly op: WriteOp;
  readonly resolve: (result: KeyValue | DeleteResult | CommitResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Writes committed in one transaction at most (group commit). */
const MAX_BATCH = 1000;

function toKeyValue(row: LogRow): KeyValue {
  return {
    key: row.key.toString('utf8'),
    value: row.value ?? Buffer.alloc(0),
    createRevision: row.create_rev,
    modRevision: revisionOf(row.pos),
    version: row.version,
    lease: row.lease === 0 ? undefined : String(row.lease),
  };
}

function parseLeaseId(lease: Lease | string | undefined): number {
  const id = leaseIdOf(lease);
  if (id === undefined) return 0;
  if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new LeaseNotFoundError(id);
  return Number(id);
}

function checkRevision(field: string, revision: number | undefined): void {
  if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) {
    throw new InvalidArgumentError(`${field} ${String(revision)}: must be a positive integer`);
  }
}

/**
 * The embedded store: one SQLite file in WAL mode, owned by one process (exclusive lock).
 * Writes are queued and committed together in one transaction per event-loop turn (group commit),
 * each getting its own revision; a write's promise resolves only after its transaction committed.
 */
export class SqliteStore implements Store, SqliteEventSource {
  readonly backend = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly file: string;
  private rev: number;
  private compacted: number;
  private isClosed = false;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private changed!: Promise<void>;
  private signalChanged!: () => void;
  private readonly watches = new Set<SqliteWatch>();
  private readonly leases = new Set<KeptLease>();
  private readonly sweepTimer: NodeJS.Timeout;
  private compaction: Promise<void> = Promise.resolve();
  /** Running snapshots: close() stops them and waits for their clean-up. */
  private readonly snapshots = new Map<AbortController, Promise<unknown>>();
  private readonly compactionBatch: number;
  private readonly sql: ReturnType<SqliteStore['prepareStatements']>;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    const memory = file === ':memory:';
    try {
      if (!memory) mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file, { timeout: options.lockTimeoutMs ?? 2000 });
    } catch (error) {
      throw new StoreUnavailableError(`sqlite:${file}: cannot open: ${(error as Error).message}`, { cause: error });
    }
    try {
      // Exclusive locking before WAL is entered: no shared-memory index, and no second process can
      // open the file while we hold it (lease expiry and watch fan-out assume a single owner).
      this.db.pragma('locking_mode = EXCLUSIVE');
      if (!memory) {
        const mode = this.db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') throw new Error(`cannot enable WAL (journal_mode is ${String(mode)})`);
      }
      this.db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
      const meta = migrateSchema(this.db, file);
      this.rev = meta.revision;
      this.compacted = meta.compacted;
      this.sql = this.prepareStatements();
    } catch (error) {
      this.db.close();
      const message = (error as Error).message;
      if (/database is locked|SQLITE_BUSY/i.test(message)) {
        throw new StoreUnavailableError(`sqlite:${file}: in use by another process (the file is locked)`, { cause: error });
      }
      throw new StoreUnavailableError(`sqlite:${file}: ${message}`, { cause: error });
    }
    this.compactionBatch = options.compactionBatchRevisions ?? 10_000;
    this.resetChanged();
    this.sweepTimer = setInterval(() => this.sweepExpiredLeases(), options.leaseSweepIntervalMs ?? 250);
    this.sweepTimer.unref();
    this.sweepExpiredLeases();
  }

  private prepareStatements() {
    const db = this.db;
    const columns = 'l.pos, l.key, l.deleted, l.value, l.create_rev, l.version, l.lease';
    const current = `SELECT ${columns} FROM kv JOIN log l ON l.pos = kv.pos`;
    return {
      get: db.prepare<[Buffer], LogRow>(`${current} WHERE kv.key = ?`),
      listCurrent: db.prepare<[Buffer, Buffer, number], LogRow>(`${current} WHERE kv.key >= ? AND kv.key < ? ORDER BY kv.key LIMIT ?`),
      // The newest row of each key before position ? (the first position of the next revision).
      listAt: db.prepare<[Buffer, Buffer, number, number], LogRow>(
        `SELECT ${columns}
           FROM (SELECT key, max(pos) AS pos FROM log WHERE key >= ? AND key < ? AND pos < ? GROUP BY key) m
           JOIN log l ON l.pos = m.pos
          WHERE l.deleted = 0 ORDER BY m.key LIMIT ?`,
      ),
      events: db.prepare<[number, Buffer, Buffer, number], EventRow>(
        `SELECT ${columns},
                p.pos AS prev_pos, p.value AS prev_value, p.create_rev AS prev_create_rev, p.version AS prev_version, p.lease AS prev_lease
           FROM log l LEFT JOIN log p ON p.pos = l.prev_pos
          WHERE l.pos >= ? AND l.key >= ? AND l.key < ? ORDER BY l.pos LIMIT ?`,
      ),
      insertLog: db.prepare<[number, Buffer, number, Buffer | null, number, number, number, number]>(
        'INSERT INTO log (pos, key, deleted, value, create_rev, version, lease, prev_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      upsertKv: db.prepare<[Buffer, number, number]>(
        'INSERT INTO kv (key, pos, lease) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET pos = excluded.pos, lease = excluded.lease',
      ),
      deleteKv: db.prepare<[Buffer]>('DELETE FROM kv WHERE key = ?'),
      setMeta: db.prepare<[number, string]>('UPDATE meta SET value = ? WHERE name = ?'),
      leaseGrant: db.prepare<[number, number]>('INSERT INTO lease (ttl, expires_at) VALUES (?, ?)'),
      leaseAlive: db.prepare<[number, number], { ttl: number }>('SELECT ttl FROM lease WHERE id = ? AND expires_at > ?'),
      leaseRenew: db.prepare<[number, number, number]>('UPDATE lease SET expires_at = ? + ttl * 1000 WHERE id = ? AND expires_at > ?'),
      leaseDelete: db.prepare<[number]>('DELETE FROM lease WHERE id = ?'),
      leaseExpired: db.prepare<[number], { id: number }>('SELECT id FROM lease WHERE expires_at <= ?'),
      leaseKeys: db.prepare<[number], { key: Buffer }>('SELECT key FROM kv WHERE lease = ?'),
      minPos: db.prepare<[], { pos: number | null }>('SELECT min(pos) AS pos FROM log'),
      // Rows in [?, ?) below the compaction revision's first position ? that are tombstones, or
      // superseded by a row up to the compaction revision (positions below ?).
      compactRange: db.prepare<[number, number, number, number]>(
        `DELETE FROM log WHERE pos >= ? AND pos < ? AND pos < ?
            AND (deleted = 1 OR EXISTS (SELECT 1 FROM log n WHERE n.key = log.key AND n.pos > log.pos AND n.pos < ?))`,
      ),
    };
  }

  // ---- SqliteEventSource -------------------------------------------------------------------

  get revision(): number {
    return this.rev;
  }

  get compactedRevision(): number {
    return this.compacted;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  readEvents(fromPosition: number, start: Buffer, end: Buffer, limit: number): SqliteEventPage {
    const rows = this.guard(() => this.sql.events.all(fromPosition, start, end, limit));
    const events = rows.map((row): WatchEvent => {
      const prev: KeyValue | undefined =
        row.prev_pos === null
          ? undefined
          : toKeyValue({
              pos: row.prev_pos,
              key: row.key,
              deleted: 0,
              value: row.prev_value,
              create_rev: row.prev_create_rev ?? 0,
              version: row.prev_version ?? 0,
              lease: row.prev_lease ?? 0,
            });
      const key = row.key.toString('utf8');
      const revision = revisionOf(row.pos);
      return row.deleted === 1 ? { type: 'DELETE', key, revision, prev } : { type: 'PUT', key, revision, kv: toKeyValue(row), prev };
    });
    const last = rows[rows.length - 1];
    return { events, nextPosition: last === undefined ? undefined : last.pos + 1 };
  }

  nextChange(): Promise<void> {
    return this.changed;
  }

  forget(watch: SqliteWatch): void {
    this.watches.delete(watch);
  }

  // ---- reads -------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    const bytes = keyBytes(key);
    const row = this.guard(() => this.sql.get.get(bytes));
    return row === undefined ? undefined : toKeyValue(row);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    this.checkOpen();
    const start = keyBytes(prefix, 'prefix');
    const end = prefixRangeEnd(start);
    const request = parseListOptions(options, start, end);
    const revision = request.position?.revision ?? this.rev;
    if (revision > this.rev) throw new InvalidArgumentError(`continue: revision ${revision} is in the future`);
    if (revision < this.compacted) throw new CompactedError(revision, this.compacted);
    const from = request.position?.startKey ?? start;
    // Fetch one extra row to learn whether another page follows.
    const fetch = request.limit === 0 ? -1 : request.limit + 1;
    const rows = this.guard(() =>
      revision === this.rev ? this.sql.listCurrent.all(from, end, fetch) : this.sql.listAt.all(from, end, positionOf(revision + 1), fetch),
    );
    const more = request.limit > 0 && rows.length > request.limit;
    const items = (more ? rows.slice(0, request.limit) : rows).map(toKeyValue);
    const last = rows[items.length - 1];
    return {
      items,
      revision,
      continue: more && last !== undefined ? encodeContinueToken({ revision, startKey: keyAfter(last.key) }) : undefined,
    };
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.rev;
  }

  // ---- writes ------------------------------------------------------------------------------

  async create(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    return this.putLike('create', key, value, options?.lease, undefined);
  }

  async update(key: string, value: StoreValue, options?: UpdateOptions): Promise<KeyValue> {
    checkRevision('expectRevision', options?.expectRevision);
    return this.putLike('update', key, value, options?.lease, options?.expectRevision);
  }

  async put(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    return this.putLike('put', key, value, options?.lease, undefined);
  }

  async delete(key: string, options?: DeleteOptions): Promise<DeleteResult> {
    this.checkOpen();
    checkRevision('expectRevision', options?.expectRevision);
    const result = await this.enqueue({ kind: 'delete', key, keyBytes: keyBytes(key), expectRevision: options?.expectRevision });
    return result as DeleteResult;
  }

  private async putLike(
    kind: 'create' | 'update' | 'put',
    key: string,
    value: StoreValue,
    lease: Lease | string | undefined,
    expectRevision: number | undefined,
  ): Promise<KeyValue> {
    this.checkOpen();
    const op: WriteOp = { kind, key, keyBytes: keyBytes(key), value: valueBytes(value), lease: parseLeaseId(lease), expectRevision };
    return (await this.enqueue(op)) as KeyValue;
  }

  async commit(operations: readonly CommitOperation[], options?: CommitOptions): Promise<CommitResult> {
    this.checkOpen();
    const ops = checkCommit(operations, options).map((op: CheckedOperation): KeyOp =>
      op.type === 'delete'
        ? { kind: 'delete', key: op.key, keyBytes: op.keyBytes, expectRevision: op.expectRevision }
        : { kind: op.type, key: op.key, keyBytes: op.keyBytes, value: op.value, lease: parseLeaseId(op.lease), expectRevision: op.expectRevision },
    );
    return (await this.enqueue({ kind: 'commit', ops })) as CommitResult;
  }

  private enqueue(op: WriteOp): Promise<KeyValue | DeleteResult | CommitResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: writers resumed by the previous flush enqueue first.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending.splice(0, MAX_BATCH);
    if (this.pending.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    if (this.isClosed) {
      for (const write of batch) write.reject(new StoreUnavailableError('store closed'));
      return;
    }
    const outcomes: Array<{ ok: true; value: KeyValue | DeleteResult | CommitResult } | { ok: false; error: StoreError }> = [];
    const startRevision = this.rev;
    try {
      this.db
        .transaction(() => {
          for (const write of batch) {
            try {
              outcomes.push({ ok: true, value: write.op.kind === 'commit' ? this.applyCommit(write.op.ops) : this.apply(write.op) });
            } catch (error) {
              if (!(error instanceof StoreError)) throw error;
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      this.rev = startRevision;
      const failure = new StoreUnavailableError(`sqlite:${this.file}: write failed: ${(error as Error).message}`, { cause: error });
      for (const write of batch) write.reject(failure);
      return;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
    if (this.rev !== startRevision) this.notify();
  }

  /** Runs inside the batch transaction; throws a StoreError before changing anything. */
  private apply(op: KeyOp): KeyValue | DeleteResult {
    const current = this.check(op);
    this.checkLease(op);
    return this.write(op, current, ++this.rev, 0);
  }

  /**
   * All preconditions first, then every write at one new revision: a failing operation leaves the
   * store untouched, and the rows of one commit are adjacent positions of that revision.
   */
  private applyCommit(ops: readonly KeyOp[]): CommitResult {
    const current = ops.map((op) => this.check(op));
    ops.forEach((op) => this.checkLease(op));
    const revision = ++this.rev;
    return { revision, results: ops.map((op, i) => this.write(op, current[i], revision, i)) };
  }

  /** The key's current row, if the operation's precondition holds; throws its typed error otherwise. */
  private check(op: KeyOp): LogRow | undefined {
    const current = this.sql.get.get(op.keyBytes);
    if (op.kind === 'create' && current !== undefined) throw new AlreadyExistsError(op.key, revisionOf(current.pos));
    if (op.kind === 'update' || op.kind === 'delete') {
      if (current === undefined) throw new NotFoundError(op.key);
      if (op.expectRevision !== undefined && revisionOf(current.pos) !== op.expectRevision) {
        throw new ConflictError(op.key, op.expectRevision, revisionOf(current.pos));
      }
    }
    return current;
  }

  private checkLease(op: KeyOp): void {
    if (op.kind !== 'delete' && op.lease !== 0 && this.sql.leaseAlive.get(op.lease, Date.now()) === undefined) {
      throw new LeaseNotFoundError(String(op.lease));
    }
  }

  private write(op: KeyOp, current: LogRow | undefined, revision: number, index: number): KeyValue | DeleteResult {
    const pos = positionOf(revision, index);
    if (op.kind === 'delete') {
      this.writeTombstone(op.keyBytes, current!.pos, pos);
      return { revision, prev: toKeyValue(current!) };
    }
    const createRev = current?.create_rev ?? revision;
    const version = (current?.version ?? 0) + 1;
    this.sql.insertLog.run(pos, op.keyBytes, 0, op.value, createRev, version, op.lease, current?.pos ?? 0);
    this.sql.upsertKv.run(op.keyBytes, pos, op.lease);
    return { key: op.key, value: op.value, createRevision: createRev, modRevision: revision, version, lease: op.lease === 0 ? undefined : String(op.lease) };
  }

  private writeTombstone(key: Buffer, prevPosition: number, position: number): void {
    this.sql.insertLog.run(position, key, 1, null, 0, 0, 0, prevPosition);
    this.sql.deleteKv.run(key);
  }

  // ---- watch -------------------------------------------------------------------------------

  async watch(prefix: string, options?: WatchOptions): Promise<Watch> {
    this.checkOpen();
    checkRevision('fromRevision', options?.fromRevision);
    const start = keyBytes(prefix, 'prefix');
    const watch = new SqliteWatch(this, start, prefixRangeEnd(start), options?.fromRevision ?? this.rev + 1);
    this.watches.add(watch);
    return watch;
  }

  private resetChanged(): void {
    this.changed = new Promise((resolve) => (this.signalChanged = resolve));
  }

  private notify(): void {
    const signal = this.signalChanged;
    this.resetChanged();
    signal();
  }

  // ---- leases ------------------------------------------------------------------------------

  async lease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease> {
    this.checkOpen();
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new InvalidArgumentError(`ttlSeconds ${String(ttlSeconds)}: must be a positive integer`);
    }
    const grantSentAt = Date.now();
    const id = Number(this.guard(() => this.sql.leaseGrant.run(ttlSeconds, grantSentAt + ttlSeconds * 1000).lastInsertRowid));
    const lease = new KeptLease({
      id: String(id),
      ttlSeconds,
      grantSentAt,
      keepAlive: options?.keepAlive ?? true,
      backend: {
        keepAliveOnce: async () => {
          this.checkOpen();
          const now = Date.now();
          const changed = this.guard(() => this.sql.leaseRenew.run(now, id, now).changes);
          return changed === 0 ? 0 : ttlSeconds;
        },
        revoke: async () => {
          this.checkOpen();
          this.revokeLeases([id]);
        },
      },
      onEnd: (ended) => this.leases.delete(ended),
    });
    this.leases.add(lease);
    return lease;
  }

  /** Deletes the leases and their keys in one transaction: one DELETE event per key. */
  private revokeLeases(ids: number[]): void {
    if (ids.length === 0) return;
    const startRevision = this.rev;
    try {
      this.db
        .transaction(() => {
          for (const id of ids) {
            for (const { key } of this.sql.leaseKeys.all(id)) {
              const current = this.sql.get.get(key);
              if (current !== undefined) this.writeTombstone(key, current.pos, positionOf(++this.rev));
            }
            this.sql.leaseDelete.run(id);
          }
        })
        .immediate();
    } catch (error) {
      this.rev = startRevision;
      throw new StoreUnavailableError(`sqlite:${this.file}: lease revoke failed: ${(error as Error).message}`, { cause: error });
    }
    if (this.rev !== startRevision) this.notify();
  }

  private sweepExpiredLeases(): void {
    if (this.isClosed) return;
    try {
      const expired = this.sql.leaseExpired.all(Date.now()).map((row) => row.id);
      this.revokeLeases(expired);
    } catch {
      // A failing disk shows up on the next write; the sweep retries on its next tick.
    }
  }

  // ---- compaction --------------------------------------------------------------------------

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    checkRevision('revision', revision);
    if (revision > this.rev) throw new InvalidArgumentError(`revision ${revision}: beyond the current revision ${this.rev}`);
    if (revision <= this.compacted) return;
    // Logical compaction is immediate and durable; rows are removed in batches afterwards.
    this.guard(() => this.sql.setMeta.run(revision, 'compacted'));
    this.compacted = revision;
    const run = this.compaction.then(() => this.removeCompactedRows(revision));
    this.compaction = run.catch(() => undefined);
    await run;
  }

  private async removeCompactedRows(revision: number): Promise<void> {
    // Positions of revision `revision` and later stay; batches span compactionBatch revisions.
    const keep = positionOf(revision);
    const step = positionOf(this.compactionBatch);
    let low = this.guard(() => this.sql.minPos.get()?.pos) ?? keep;
    while (low < keep && !this.isClosed) {
      const high = Math.min(keep, low + step);
      const from = low;
      this.guard(() => this.db.transaction(() => this.sql.compactRange.run(from, high, keep, positionOf(revision + 1))).immediate());
      low = high;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // ---- snapshot ----------------------------------------------------------------------------

  /**
   * SQLite's online backup on this connection, in steps between which writes go on. Writes made
   * through the same connection during the backup are applied to the copy as well, so the copy is
   * the store as of the last step: whole transactions only, every write acknowledged before the
   * snapshot began included.
   */
  async snapshot(destinationPath: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    this.checkOpen();
    options.signal?.throwIfAborted();
    const destination = await checkSnapshotDestination(destinationPath);
    options.signal?.throwIfAborted();
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const temporary = temporaryPathFor(destination);
    const run = (async (): Promise<SnapshotResult> => {
      try {
        this.checkOpen();
        await this.db.backup(temporary, {
          // Throwing here ends the backup (better-sqlite3 closes it and rejects).
          progress: () => {
            stop.signal.throwIfAborted();
            return BACKUP_PAGES_PER_STEP;
          },
        });
        stop.signal.throwIfAborted();
        const revision = await finishSqliteSnapshot(temporary);
        stop.signal.throwIfAborted();
        const bytes = await publishSnapshotFile(temporary, destination);
        return { bytes, revision };
      } catch (error) {
        await removeSnapshotLeftovers(temporary, SQLITE_COMPANION_SUFFIXES);
        if (stop.signal.aborted) throw stop.signal.reason;
        if (error instanceof StoreError) throw error;
        throw new StoreUnavailableError(`sqlite:${this.file}: snapshot to ${destination} failed: ${(error as Error).message}`, { cause: error });
      }
    })();
    this.snapshots.set(stop, run.catch(() => undefined));
    try {
      return await run;
    } finally {
      this.snapshots.delete(stop);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.isClosed) return;
    // Commit what was already accepted before closing.
    while (this.pending.length > 0) this.flush();
    this.isClosed = true;
    clearInterval(this.sweepTimer);
    for (const lease of [...this.leases]) lease.abandon();
    for (const watch of [...this.watches]) await watch.close();
    for (const stop of this.snapshots.keys()) stop.abort(new StoreUnavailableError('store closed during the snapshot'));
    await Promise.all(this.snapshots.values());
    this.notify();
    await this.compaction;
    this.db.close();
  }

  private checkOpen(): void {
    if (this.isClosed) throw new StoreUnavailableError('store closed');
  }

  /** SQLite failures (I/O, disk full) surface as StoreUnavailableError naming the file. */
  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreUnavailableError(`sqlite:${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}
