/**
 * Informer (libs/store/src/informer.ts) on the real backends: SQLite and a single etcd member, plus a
 * 3-member etcd cluster for a watch that comes back after compaction.
 *
 * Two situations cannot be produced on demand through a healthy store, so `ControlledStore` wraps
 * the real store (every answer still comes from it): it can hold the informer's next watch back
 * (compaction then overtakes the revision the informer asks for, and the real store answers
 * CompactedError), end its watches after N events (a connection lost in the middle of a commit),
 * and fail list/watch with StoreUnavailableError (an outage, as a remote client sees it). Real
 * outages are exercised too: etcd members are SIGKILLed and restarted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompactedError,
  Informer,
  InvalidArgumentError,
  openStore,
  StoreUnavailableError,
  type CommitOperation,
  type CommitOptions,
  type CommitResult,
  type DeleteOptions,
  type DeleteResult,
  type InformerChange,
  type KeyValue,
  type Lease,
  type LeaseOptions,
  type ListOptions,
  type ListResult,
  type SnapshotOptions,
  type SnapshotResult,
  type Store,
  type StoreValue,
  type UpdateOptions,
  type Watch,
  type WatchEvent,
  type WatchOptions,
  type WatchStats,
  type WriteOptions,
} from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A watch of the real store that ControlledStore can end (as a broken connection would). */
class EndableWatch implements Watch {
  private ended = false;
  private readonly iterator: AsyncIterator<WatchEvent>;

  constructor(
    private readonly inner: Watch,
    private readonly owner: ControlledStore,
  ) {
    const source = inner[Symbol.asyncIterator]();
    this.iterator = {
      next: async () => {
        if (this.ended) return { done: true, value: undefined };
        const result = await source.next();
        if (!result.done && this.owner.countDownEvent()) await this.end();
        return result;
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.iterator;
  }

  async end(): Promise<void> {
    this.ended = true;
    await this.inner.close();
  }

  close(): Promise<void> {
    this.owner.watches.delete(this);
    return this.end();
  }

  stats(): WatchStats {
    return this.inner.stats();
  }
}

/** The real store, with the informer's view of it under the test's control (see the file comment). */
class ControlledStore implements Store {
  readonly watches = new Set<EndableWatch>();
  /** Calls of list() and watch(), successful or not. */
  calls = 0;
  private down = false;
  private held: Promise<void> | undefined;
  private release: () => void = () => undefined;
  private eventsUntilEnd: number | undefined;

  constructor(private readonly real: Store) {}

  get backend(): Store['backend'] {
    return this.real.backend;
  }

  /** The next watch() waits until releaseWatches(). */
  holdWatches(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  releaseWatches(): void {
    this.held = undefined;
    this.release();
  }

  /** Open watches end after `count` more events (in total). */
  endWatchesAfter(count: number): void {
    this.eventsUntilEnd = count;
  }

  countDownEvent(): boolean {
    if (this.eventsUntilEnd === undefined) return false;
    this.eventsUntilEnd--;
    if (this.eventsUntilEnd > 0) return false;
    this.eventsUntilEnd = undefined;
    return true;
  }

  /** list() and watch() fail while down; open watches end at once. */
  async setDown(down: boolean): Promise<void> {
    this.down = down;
    if (down) for (const watch of [...this.watches]) await watch.end();
  }

  private checkUp(what: string): void {
    this.calls++;
    if (this.down) throw new StoreUnavailableError(`${what}: backend unavailable (outage injected by the test)`);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    this.checkUp(`list ${prefix}`);
    return this.real.list(prefix, options);
  }

  async watch(prefix: string, options?: WatchOptions): Promise<Watch> {
    this.checkUp(`watch ${prefix}`);
    await this.held;
    const watch = new EndableWatch(await this.real.watch(prefix, options), this);
    this.watches.add(watch);
    return watch;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.real.get(key);
  }
  create(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    return this.real.create(key, value, options);
  }
  update(key: string, value: StoreValue, options?: UpdateOptions): Promise<KeyValue> {
    return this.real.update(key, value, options);
  }
  put(key: string, value: StoreValue, options?: WriteOptions): Promise<KeyValue> {
    return this.real.put(key, value, options);
  }
  delete(key: string, options?: DeleteOptions): Promise<DeleteResult> {
    return this.real.delete(key, options);
  }
  commit(operations: readonly CommitOperation[], options?: CommitOptions): Promise<CommitResult> {
    return this.real.commit(operations, options);
  }
  lease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease> {
    return this.real.lease(ttlSeconds, options);
  }
  currentRevision(): Promise<number> {
    return this.real.currentRevision();
  }
  compact(revision: number): Promise<void> {
    return this.real.compact(revision);
  }
  snapshot(destinationPath: string, options?: SnapshotOptions): Promise<SnapshotResult> {
    return this.real.snapshot(destinationPath, options);
  }
  close(): Promise<void> {
    return this.real.close();
  }
}

const show = (kv: KeyValue | undefined): string => (kv === undefined ? '-' : kv.value.toString());
/** `revision key prev→next`, key relative to the prefix. */
const describeChange = (prefix: string, change: InformerChange): string =>
  `${change.revision} ${change.key.slice(prefix.length)} ${show(change.prev)}→${show(change.next)}`;

/** Records every change an informer reports, and checks the bookkeeping every handler relies on. */
function record(informer: Informer): string[] {
  const seen: string[] = [];
  let lastRevision = 0;
  informer.on((change) => {
    // Revision order, the copy already updated, and currentRevision at the change.
    expect(change.revision).toBeGreaterThanOrEqual(lastRevision);
    lastRevision = change.revision;
    expect(informer.get(change.key)).toBe(change.next);
    expect(informer.currentRevision).toBe(change.revision);
    seen.push(describeChange(informer.prefix, change));
  });
  return seen;
}

const snapshotOf = (informer: Informer): string[] => [...informer.values()].map((kv) => `${kv.key.slice(informer.prefix.length)}=${show(kv)}@${kv.modRevision}`).sort();
const listed = async (store: Store, prefix: string): Promise<string[]> =>
  (await store.list(prefix)).items.map((kv) => `${kv.key.slice(prefix.length)}=${show(kv)}@${kv.modRevision}`).sort();

interface Backend {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  readonly store: Store;
}

function sqliteBackend(): Backend {
  let dir = '';
  let store: Store | undefined;
  return {
    name: 'sqlite',
    async setUp() {
      dir = mkdtempSync(join(tmpdir(), 'kvm-informer-'));
      store = await openStore(`sqlite:${join(dir, 'store.db')}`);
    },
    async tearDown() {
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
    get store() {
      return store!;
    },
  };
}

function etcdBackend(): Backend {
  let etcd: EtcdCluster | undefined;
  let store: Store | undefined;
  return {
    name: 'etcd (1 member)',
    async setUp() {
      etcd = await startEtcd({ members: 1 });
      store = await openStore(etcd.storeUrl);
    },
    async tearDown() {
      await store?.close();
      await etcd?.stop();
    },
    get store() {
      return store!;
    },
  };
}

let prefixCounter = 0;
const freshPrefix = (): string => `/informer/${process.pid}-${Date.now()}-${++prefixCounter}/`;

function informerConformance(backend: Backend): void {
  describe(`Informer: ${backend.name}`, () => {
    beforeAll(() => backend.setUp());
    afterAll(() => backend.tearDown());

    it('loads every key under the prefix on start, page by page, reporting each as created in revision order', async () => {
      const store = backend.store;
      const p = freshPrefix();
      // Written in reverse key order, so revision order differs from key order.
      for (let i = 19; i >= 0; i--) await store.create(`${p}${String(i).padStart(2, '0')}`, `v${i}`);
      await store.commit([
        { type: 'update', key: `${p}05`, value: 'v5b' },
        { type: 'delete', key: `${p}06` },
      ]);
      await store.put(`${p.slice(0, -1)}-sibling`, 'outside');
      const informer = new Informer(store, p, (error) => expect.fail(String(error)), { pageSize: 7 });
      const seen = record(informer);
      await informer.start();
      const revision = await store.currentRevision();
      expect(informer.currentRevision).toBe(revision);
      expect(snapshotOf(informer)).toEqual(await listed(store, p));
      expect(seen).toHaveLength(19);
      const expected = (await store.list(p)).items
        .sort((a, b) => a.modRevision - b.modRevision)
        .map((kv) => `${kv.modRevision} ${kv.key.slice(p.length)} -→${show(kv)}`);
      expect(seen).toEqual(expected);
      expect(informer.get(`${p}06`)).toBeUndefined();
      expect(informer.stats()).toEqual({ lists: 1, retries: 0 });
      await informer.stop();
      await informer.stop();
    });

    it('follows live changes once each, commits at one revision in operation order; handlers can leave', async () => {
      const store = backend.store;
      const p = freshPrefix();
      const a = await store.create(`${p}a`, 'a0');
      const errors: unknown[] = [];
      const informer = new Informer(store, p, (error) => errors.push(error));
      await informer.start();
      const seen = record(informer);
      const late: string[] = [];
      const leave = informer.on((change) => late.push(change.key));
      informer.on(() => {
        throw new Error('a broken handler');
      });

      const b = await store.create(`${p}b`, 'b0');
      const a1 = await store.update(`${p}a`, 'a1', { expectRevision: a.modRevision });
      const commit = await store.commit([
        { type: 'put', key: `${p}z`, value: 'z0' },
        { type: 'delete', key: `${p}b` },
        { type: 'update', key: `${p}a`, value: 'a2' },
      ]);
      await until('the commit', () => informer.currentRevision === commit.revision && seen.length === 5);
      leave();
      const gone = await store.delete(`${p}z`);
      await until('the delete', () => seen.length === 6);
      expect(seen).toEqual([
        `${b.modRevision} b -→b0`,
        `${a1.modRevision} a a0→a1`,
        `${commit.revision} z -→z0`,
        `${commit.revision} b b0→-`,
        `${commit.revision} a a1→a2`,
        `${gone.revision} z z0→-`,
      ]);
      expect(late).toHaveLength(5);
      // The broken handler is reported, once per change, and stops nobody.
      expect(errors).toHaveLength(6);
      expect(snapshotOf(informer)).toEqual(await listed(store, p));
      await sleep(100);
      expect(seen).toHaveLength(6);
      await informer.stop();
      // Stopped: no more changes, the copy stays readable.
      await store.put(`${p}after-stop`, 'x');
      await sleep(100);
      expect(seen).toHaveLength(6);
      expect(informer.get(`${p}a`)?.value.toString()).toBe('a2');
    });

    it('relists when compaction overtakes its watch, reporting exactly what changed meanwhile', async () => {
      const real = backend.store;
      const store = new ControlledStore(real);
      const p = freshPrefix();
      await real.create(`${p}same`, 'kept');
      const updated = await real.create(`${p}updated`, 'u0');
      await real.create(`${p}deleted`, 'd0');
      await real.create(`${p}recreated`, 'r0');
      const informer = new Informer(store, p, (error) => expect.fail(String(error)));
      store.holdWatches();
      await informer.start();
      const seen = record(informer);

      // While the informer waits for its watch, the keys change and the history is compacted.
      await real.update(`${p}updated`, 'u1', { expectRevision: updated.modRevision });
      await real.update(`${p}updated`, 'u2');
      await real.delete(`${p}deleted`);
      await real.delete(`${p}recreated`);
      const recreated = await real.create(`${p}recreated`, 'r1');
      const created = await real.commit([
        { type: 'create', key: `${p}new-1`, value: 'n1' },
        { type: 'create', key: `${p}new-2`, value: 'n2' },
      ]);
      const transient = await real.create(`${p}transient`, 't');
      await real.delete(`${p}transient`, { expectRevision: transient.modRevision });
      const compactedAt = await real.currentRevision();
      await real.compact(compactedAt);
      store.releaseWatches();

      await until('the relist', () => informer.stats().lists === 2);
      const u2 = (await real.get(`${p}updated`))!;
      // Changed keys in revision order at their mod revision, then deletions at the list revision.
      expect(seen).toEqual([
        `${u2.modRevision} updated u0→u2`,
        `${recreated.modRevision} recreated r0→r1`,
        `${created.revision} new-1 -→n1`,
        `${created.revision} new-2 -→n2`,
        `${compactedAt} deleted d0→-`,
      ]);
      expect(informer.currentRevision).toBe(compactedAt);
      expect(snapshotOf(informer)).toEqual(await listed(real, p));

      // And it follows the store again from there.
      const after = await real.put(`${p}same`, 'changed');
      await until('the next change', () => seen.length === 6);
      expect(seen[5]).toBe(`${after.modRevision} same kept→changed`);
      await informer.stop();
    });

    it('resumes a watch that ended inside a multi-key commit without losing or repeating a change', async () => {
      const real = backend.store;
      const store = new ControlledStore(real);
      const p = freshPrefix();
      const informer = new Informer(store, p, (error) => expect.fail(String(error)), { initialBackoffMs: 5 });
      await informer.start();
      const seen = record(informer);
      store.endWatchesAfter(2);
      const commit = await real.commit(Array.from({ length: 5 }, (_, i): CommitOperation => ({ type: 'create', key: `${p}${i}`, value: `v${i}` })));
      await until('the whole commit', () => seen.length === 5);
      const next = await real.put(`${p}9`, 'later');
      await until('the next write', () => seen.length === 6);
      expect(seen).toEqual([...Array.from({ length: 5 }, (_, i) => `${commit.revision} ${i} -→v${i}`), `${next.modRevision} 9 -→later`]);
      expect(informer.stats().lists).toBe(1);
      await informer.stop();
    });

    it('waits out an unavailable store with growing backoff, reports each failure, and catches up', async () => {
      const real = backend.store;
      const store = new ControlledStore(real);
      const p = freshPrefix();
      await real.create(`${p}a`, 'a0');
      const errors: unknown[] = [];
      const informer = new Informer(store, p, (error) => errors.push(error), { initialBackoffMs: 20, maxBackoffMs: 200 });
      const seen = record(informer);

      // Down at start: start() waits for the first list.
      await store.setDown(true);
      let started = false;
      const starting = informer.start().then(() => (started = true));
      await sleep(1000);
      expect(started).toBe(false);
      // Backoff: 20 ms doubling to 200 ms (±50 %) allows at most 14 attempts in a second; retrying
      // every 20 ms would make 50.
      expect(store.calls).toBeGreaterThanOrEqual(3);
      expect(store.calls).toBeLessThanOrEqual(16);
      expect(errors.length).toBe(store.calls);
      expect(errors.every((error) => error instanceof StoreUnavailableError)).toBe(true);
      await store.setDown(false);
      await starting;
      expect(seen).toEqual([`${(await real.get(`${p}a`))!.modRevision} a -→a0`]);

      // Down while watching: the changes made meanwhile arrive once the store is back.
      await until('the watch', () => store.watches.size === 1);
      await store.setDown(true);
      const b = await real.create(`${p}b`, 'b0');
      const gone = await real.delete(`${p}a`);
      await sleep(300);
      expect(seen).toHaveLength(1);
      const failures = errors.length;
      expect(failures).toBeGreaterThan(0);
      await store.setDown(false);
      await until('the missed changes', () => seen.length === 3);
      expect(seen.slice(1)).toEqual([`${b.modRevision} b -→b0`, `${gone.revision} a a0→-`]);
      expect(informer.stats().lists).toBe(1);
      expect(informer.stats().retries).toBe(errors.length);
      await informer.stop();
    });

    it('rejects start() for an invalid prefix, and when stopped before its first list', async () => {
      const errors: unknown[] = [];
      const bad = new Informer(backend.store, 'no-slash/', (error) => errors.push(error));
      await expect(bad.start()).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(errors).toHaveLength(1);

      const store = new ControlledStore(backend.store);
      await store.setDown(true);
      const stopped = new Informer(store, freshPrefix());
      const starting = stopped.start();
      await sleep(50);
      await stopped.stop();
      await expect(starting).rejects.toThrow(/stopped before its first list/);
    });
  });
}

informerConformance(sqliteBackend());
informerConformance(etcdBackend());

describe('Informer on etcd: real outages', () => {
  it('starts once a dead member comes back, and relists when compaction happened while its member was down', async () => {
    const etcd = await startEtcd({ members: 3 });
    const [first, second, third] = etcd.members as [(typeof etcd.members)[0], (typeof etcd.members)[0], (typeof etcd.members)[0]];
    // The informer talks to the first member only (and gives up on a call soon, so its failures show
    // quickly); the writer talks to the other two, with the default retry budget, which outlasts
    // the leader election that follows when the killed member was the leader.
    const store = await openStore(`etcd://${first.endpoint}`, { etcd: { callTimeoutMs: 300, retryTimeoutMs: 1000 } });
    const writer = await openStore(`etcd://${second.endpoint},${third.endpoint}`);
    try {
      const p = freshPrefix();
      await writer.create(`${p}kept`, 'k0');
      const doomed = await writer.create(`${p}doomed`, 'd0');

      // Its member is down when the informer starts: start() waits, failures are reported.
      await etcd.kill(first);
      const errors: unknown[] = [];
      const informer = new Informer(store, p, (error) => errors.push(error), { initialBackoffMs: 50, maxBackoffMs: 500 });
      const seen = record(informer);
      const starting = informer.start();
      await until('a reported failure', () => errors.length > 0);
      expect(errors[0]).toBeInstanceOf(StoreUnavailableError);
      await etcd.restart(first);
      await starting;
      expect(snapshotOf(informer)).toEqual(await listed(writer, p));
      expect(seen).toHaveLength(2);
      const live = await writer.put(`${p}kept`, 'k1');
      await until('a live change', () => seen.length === 3);

      // Its member dies again; meanwhile the others change keys and compact past its position.
      await etcd.kill(first);
      await writer.delete(`${p}doomed`, { expectRevision: doomed.modRevision });
      const added = await writer.create(`${p}added`, 'a0');
      for (let i = 0; i < 5; i++) await writer.put(`${p}kept`, `k${i + 2}`);
      const compactedAt = await writer.currentRevision();
      await writer.compact(compactedAt);
      await etcd.restart(first);

      await until('the relist', () => informer.stats().lists === 2);
      const kept = (await writer.get(`${p}kept`))!;
      expect(seen.slice(2)).toEqual([
        `${live.modRevision} kept k0→k1`,
        `${added.modRevision} added -→a0`,
        `${kept.modRevision} kept k1→k6`,
        `${compactedAt} doomed d0→-`,
      ]);
      expect(snapshotOf(informer)).toEqual(await listed(writer, p));
      const after = await writer.put(`${p}added`, 'a1');
      await until('a change after the relist', () => seen.length === 7);
      expect(seen[6]).toBe(`${after.modRevision} added a0→a1`);
      await informer.stop();
      expect(informer.stats().lists).toBe(2);
      expect(errors.every((error) => error instanceof StoreUnavailableError || error instanceof CompactedError)).toBe(true);
    } finally {
      await store.close();
      await writer.close();
      await etcd.stop();
    }
  });
});
