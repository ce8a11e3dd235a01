/**
 * One conformance suite for every Store implementation: embedded SQLite, a single etcd member and a
 * 3-member etcd cluster (real etcd processes on loopback, test/support/etcd.ts).
 * Tests use distinct key prefixes, so one backend instance serves the whole suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  CompactedError,
  ConflictError,
  Election,
  InvalidArgumentError,
  LeaseNotFoundError,
  MAX_COMMIT_OPERATIONS,
  MAX_COMMIT_VALUE_BYTES,
  MAX_VALUE_BYTES,
  NotFoundError,
  openStore,
  type CommitOperation,
  type KeyValue,
  type Leadership,
  type ListResult,
  type Store,
  type Watch,
  type WatchEvent,
} from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

interface Backend {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** A client of the backend's data. SQLite has one owner per file, so it is the same instance until closed. */
  client(): Promise<Store>;
  /** A second, independent client (SQLite: the same store, it is single-process by design). */
  otherClient(): Promise<Store>;
  /** Forget the current client (closing it) so the next client() is a fresh connection. */
  reconnect(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = '';
  let store: Store | undefined;
  return {
    name: 'sqlite',
    async setUp() {
      dir = mkdtempSync(join(tmpdir(), 'kvm-store-conf-'));
    },
    async tearDown() {
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async client() {
      store ??= await openStore(`sqlite:${join(dir, 'store.db')}`);
      return store;
    },
    async otherClient() {
      return this.client();
    },
    async reconnect() {
      await store?.close();
      store = undefined;
    },
  };
}

function etcdBackend(members: 1 | 3): Backend {
  let etcd: EtcdCluster | undefined;
  let store: Store | undefined;
  const others: Store[] = [];
  return {
    name: members === 1 ? 'etcd (1 member)' : 'etcd (3 members)',
    async setUp() {
      etcd = await startEtcd({ members });
    },
    async tearDown() {
      await store?.close();
      for (const other of others) await other.close();
      await etcd?.stop();
    },
    async client() {
      store ??= await openStore(etcd!.storeUrl);
      return store;
    },
    async otherClient() {
      const other = await openStore(etcd!.storeUrl);
      others.push(other);
      return other;
    },
    async reconnect() {
      await store?.close();
      store = undefined;
    },
  };
}

/** Takes `count` events from a watch, failing after `timeoutMs`. */
async function take(watch: Watch, count: number, timeoutMs = 10_000): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  if (count === 0) return events;
  const iterator = watch[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${events.length}/${count} events`)), timeoutMs);
  });
  try {
    while (events.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`watch ended after ${events.length}/${count} events`);
      events.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

/** Resolves `true` if the watch yields nothing within `ms` (it is then closed). */
async function staysQuiet(watch: Watch, ms: number): Promise<boolean> {
  const iterator = watch[Symbol.asyncIterator]();
  const result = await Promise.race([iterator.next().then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms))]);
  await watch.close();
  return result;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const text = (kv: KeyValue | undefined): string | undefined => kv?.value.toString('utf8');
const summary = (event: WatchEvent): string =>
  event.type === 'PUT' ? `PUT ${event.key}=${event.kv.value.toString()} prev=${text(event.prev) ?? '-'}` : `DELETE ${event.key} prev=${text(event.prev) ?? '-'}`;

let prefixCounter = 0;
const freshPrefix = (): string => `/conformance/${process.pid}-${Date.now()}-${++prefixCounter}/`;

function storeConformance(backend: Backend): void {
  describe(`Store conformance: ${backend.name}`, () => {
    beforeAll(() => backend.setUp());
    afterAll(() => backend.tearDown());

    it('creates, reads, updates, upserts and deletes with revision bookkeeping', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const before = await store.currentRevision();

      const created = await store.create(`${p}a`, '{"spec":1}');
      expect(created.modRevision).toBeGreaterThan(before);
      expect(created).toMatchObject({ key: `${p}a`, createRevision: created.modRevision, version: 1, lease: undefined });
      expect(await store.currentRevision()).toBe(created.modRevision);
      expect(await store.get(`${p}a`)).toEqual(created);

      const duplicate = await rejection(store.create(`${p}a`, 'other'));
      expect(duplicate).toBeInstanceOf(AlreadyExistsError);
      expect((duplicate as AlreadyExistsError).actualRevision).toBe(created.modRevision);
      expect(text(await store.get(`${p}a`))).toBe('{"spec":1}');

      const updated = await store.update(`${p}a`, '{"spec":2}');
      expect(updated.modRevision).toBeGreaterThan(created.modRevision);
      expect(updated).toMatchObject({ createRevision: created.modRevision, version: 2 });
      expect(await store.get(`${p}a`)).toEqual(updated);

      const binary = Uint8Array.from([0, 255, 128, 10, 0]);
      const upserted = await store.put(`${p}b`, binary);
      expect(upserted.version).toBe(1);
      expect([...(await store.get(`${p}b`))!.value]).toEqual([...binary]);
      const replaced = await store.put(`${p}b`, 'x');
      expect(replaced).toMatchObject({ version: 2, createRevision: upserted.modRevision });

      const removed = await store.delete(`${p}a`);
      expect(removed.revision).toBeGreaterThan(replaced.modRevision);
      expect(removed.prev).toEqual(updated);
      expect(await store.get(`${p}a`)).toBeUndefined();
      expect(await rejection(store.update(`${p}a`, 'y'))).toBeInstanceOf(NotFoundError);
      expect(await rejection(store.delete(`${p}a`))).toBeInstanceOf(NotFoundError);

      const recreated = await store.create(`${p}a`, 'again');
      expect(recreated).toMatchObject({ version: 1, createRevision: recreated.modRevision });

      const big = Buffer.alloc(256 * 1024, 7);
      await store.put(`${p}big`, big);
      expect((await store.get(`${p}big`))!.value.equals(big)).toBe(true);
    });

    it('rejects bad keys and arguments with one clear error and changes nothing', async () => {
      const store = await backend.client();
      const before = await store.currentRevision();
      for (const key of ['', 'no-leading-slash', '/has\0nul', `/${'x'.repeat(2000)}`]) {
        const error = await rejection(store.put(key, 'v'));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message.split('\n')).toHaveLength(1);
      }
      const tooBig = await rejection(store.put('/x/big', Buffer.alloc(MAX_VALUE_BYTES + 1)));
      expect(tooBig).toBeInstanceOf(InvalidArgumentError);
      expect((tooBig as Error).message).toBe(`value: ${MAX_VALUE_BYTES + 1} bytes, more than the ${MAX_VALUE_BYTES}-byte limit`);
      await store.put('/x/big', Buffer.alloc(MAX_VALUE_BYTES));
      expect((await store.get('/x/big'))!.value.length).toBe(MAX_VALUE_BYTES);
      await store.delete('/x/big');
      const afterBig = await store.currentRevision();
      expect(await rejection(store.list('/x/', { limit: -1 }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(store.list('/x/', { limit: 1.5 }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(store.list('/x/', { continue: 'not-a-token' }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(store.update('/x/a', 'v', { expectRevision: 0 }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(store.watch('/x/', { fromRevision: -3 }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(store.lease(0))).toBeInstanceOf(InvalidArgumentError);
      expect(await store.currentRevision()).toBe(afterBig);
      expect(afterBig).toBe(before + 2);
    });

    it('enforces expectRevision on update and delete; no update is lost under contention', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const first = await store.create(`${p}obj`, '0');
      const second = await store.update(`${p}obj`, '1', { expectRevision: first.modRevision });

      const stale = await rejection(store.update(`${p}obj`, 'stale', { expectRevision: first.modRevision }));
      expect(stale).toBeInstanceOf(ConflictError);
      expect(stale).toMatchObject({ key: `${p}obj`, expectedRevision: first.modRevision, actualRevision: second.modRevision });
      expect(await rejection(store.delete(`${p}obj`, { expectRevision: first.modRevision }))).toBeInstanceOf(ConflictError);
      expect(text(await store.get(`${p}obj`))).toBe('1');
      expect(await rejection(store.update(`${p}missing`, 'v', { expectRevision: 5 }))).toBeInstanceOf(NotFoundError);

      // Read-modify-write from concurrent writers: every increment lands exactly once.
      const writers = 8;
      const increments = 5;
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let done = 0; done < increments; ) {
            const current = (await store.get(`${p}obj`))!;
            try {
              await store.update(`${p}obj`, String(Number(text(current)) + 1), { expectRevision: current.modRevision });
              done++;
            } catch (error) {
              if (!(error instanceof ConflictError)) throw error;
              conflicts++;
            }
          }
        }),
      );
      expect(text(await store.get(`${p}obj`))).toBe(String(1 + writers * increments));
      expect(conflicts).toBeGreaterThan(0);

      const latest = (await store.get(`${p}obj`))!;
      const removed = await store.delete(`${p}obj`, { expectRevision: latest.modRevision });
      expect(removed.prev.modRevision).toBe(latest.modRevision);
    });

    it('lists a prefix in key order, page by page, as one snapshot', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const names = Array.from({ length: 25 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
      for (const name of [...names].reverse()) await store.create(`${p}${name}`, name);
      await store.put(`${p.slice(0, -1)}-sibling/x`, 'outside');
      await store.put(`${p.slice(0, -1)}x`, 'outside too');

      const all = await store.list(p);
      expect(all.items.map((kv) => kv.key)).toEqual(names.map((n) => `${p}${n}`));
      expect(all.continue).toBeUndefined();

      const page1 = await store.list(p, { limit: 10 });
      expect(page1.items.map(text)).toEqual(names.slice(0, 10));
      expect(page1.continue).toBeDefined();
      // Changes after the first page are not visible to the following pages.
      await store.delete(`${p}item-15`);
      await store.create(`${p}item-99`, 'late');
      await store.update(`${p}item-20`, 'changed');
      const page2 = await store.list(p, { limit: 10, continue: page1.continue });
      const page3 = await store.list(p, { limit: 10, continue: page2.continue });
      expect(page2.revision).toBe(page1.revision);
      expect(page3.revision).toBe(page1.revision);
      expect([...page2.items, ...page3.items].map(text)).toEqual(names.slice(10));
      expect(page3.continue).toBeUndefined();

      const fresh = await store.list(p);
      expect(fresh.revision).toBeGreaterThan(page1.revision);
      expect(fresh.items.map(text)).toContain('late');
      expect(fresh.items.map(text)).toContain('changed');
      expect(fresh.items.map(text)).not.toContain('item-15');

      const exact = await store.list(p, { limit: fresh.items.length });
      expect(exact.items).toHaveLength(fresh.items.length);
      expect(exact.continue).toBeUndefined();
      const short = await store.list(p, { limit: fresh.items.length - 1 });
      const rest = await store.list(p, { limit: fresh.items.length, continue: short.continue });
      expect(rest.items.map((kv) => kv.key)).toEqual([fresh.items[fresh.items.length - 1]!.key]);
      expect(rest.continue).toBeUndefined();

      expect(await rejection(store.list('/elsewhere/', { continue: page1.continue }))).toBeInstanceOf(InvalidArgumentError);
      expect((await store.list(`${p}nothing-here/`)).items).toEqual([]);
    });

    it('delivers watch events in revision order with previous values, only under the prefix', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const watch = await store.watch(p);
      const second = await store.watch(`${p}b`);
      const a1 = await store.create(`${p}a`, 'a1');
      await store.put(`${p.slice(0, -1)}-not-mine`, 'x');
      const b1 = await store.create(`${p}b`, 'b1');
      await store.update(`${p}a`, 'a2');
      await store.delete(`${p}b`);
      const lease = await store.lease(30);
      await store.put(`${p}c`, 'c1', { lease });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`${p}n${i}`, String(i))));

      const events = await take(watch, 25);
      expect(events.slice(0, 5).map(summary)).toEqual([
        `PUT ${p}a=a1 prev=-`,
        `PUT ${p}b=b1 prev=-`,
        `PUT ${p}a=a2 prev=a1`,
        `DELETE ${p}b prev=b1`,
        `PUT ${p}c=c1 prev=-`,
      ]);
      const revisions = events.map((event) => event.revision);
      expect([...revisions].sort((x, y) => x - y)).toEqual(revisions);
      expect(new Set(revisions).size).toBe(revisions.length);
      expect(events[0]!.revision).toBe(a1.modRevision);
      const put = events[0]!;
      expect(put.type === 'PUT' && put.kv).toEqual(a1);
      const leased = events[4]!;
      expect(leased.type === 'PUT' && leased.kv.lease).toBe(lease.id);
      expect(new Set(events.slice(5).map((event) => event.key)).size).toBe(20);

      const onlyB = await take(second, 2);
      expect(onlyB.map((event) => event.revision)).toEqual([b1.modRevision, events[3]!.revision]);
      expect(watch.stats().delivered).toBe(25);
      expect(await staysQuiet(watch, 300)).toBe(true);
      await second.close();
      await lease.revoke();
    });

    it('replays history from a revision and resumes after the client reconnects, without gaps or duplicates', async () => {
      let store = await backend.client();
      const p = freshPrefix();
      const first = await store.put(`${p}k`, 'v0');
      for (let i = 1; i < 5; i++) await store.put(`${p}k`, `v${i}`);

      const replay = await store.watch(p, { fromRevision: first.modRevision });
      const replayed = await take(replay, 5);
      expect(replayed.map((event) => (event.type === 'PUT' ? text(event.kv) : ''))).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
      const resumeFrom = replayed[2]!.revision + 1;
      await replay.close();

      // The consumer saw up to v2, then lost its connection; writes go on meanwhile.
      await backend.reconnect();
      store = await backend.client();
      await store.put(`${p}k`, 'v5');
      await store.delete(`${p}k`);
      await backend.reconnect();
      store = await backend.client();

      const resumed = await store.watch(p, { fromRevision: resumeFrom });
      const events = await take(resumed, 4);
      expect(events.map(summary)).toEqual([`PUT ${p}k=v3 prev=v2`, `PUT ${p}k=v4 prev=v3`, `PUT ${p}k=v5 prev=v4`, `DELETE ${p}k prev=v5`]);
      expect(events[0]!.revision).toBe(resumeFrom);
      await store.put(`${p}k`, 'v6');
      expect((await take(resumed, 1)).map(summary)).toEqual([`PUT ${p}k=v6 prev=-`]);
      await resumed.close();
    });

    it('holds a slow consumer back instead of dropping events', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const watch = await store.watch(p);
      const total = 3000;
      for (let i = 0; i < total; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => store.put(`${p}${(i + j) % 50}`, String(i + j))));
      }
      const events = await take(watch, total, 60_000);
      const values = events.map((event) => (event.type === 'PUT' ? Number(text(event.kv)) : -1));
      expect([...values].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
      const revisions = events.map((event) => event.revision);
      expect(revisions.every((revision, i) => i === 0 || revision > revisions[i - 1]!)).toBe(true);
      expect(watch.stats().buffered).toBe(0);
      await watch.close();
    });

    it('fails watches and list continuations older than the compaction point with CompactedError', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const revisions: number[] = [];
      let page: ListResult | undefined;
      for (let i = 0; i < 6; i++) {
        revisions.push((await store.put(`${p}${i % 2}`, `v${i}`)).modRevision);
        if (i === 1) page = await store.list(p, { limit: 1 });
      }
      const compactAt = revisions[3]!;
      await store.put(`${p}2`, 'after-list');

      const slow = await store.watch(p, { fromRevision: revisions[0]! });
      await store.compact(compactAt);
      await store.compact(compactAt); // idempotent
      expect(await rejection(store.compact((await store.currentRevision()) + 100))).toBeInstanceOf(InvalidArgumentError);

      const tooOld = await store.watch(p, { fromRevision: revisions[1]! });
      const error = await rejection(take(tooOld, 1));
      expect(error).toBeInstanceOf(CompactedError);
      expect((error as CompactedError).compactRevision).toBe(compactAt);
      expect(await rejection(store.list(p, { limit: 1, continue: page!.continue }))).toBeInstanceOf(CompactedError);

      // The compaction revision itself is still watchable.
      const atPoint = await store.watch(p, { fromRevision: compactAt });
      const replay = await take(atPoint, 3);
      expect(replay.map((event) => event.revision)).toEqual([revisions[3], revisions[4], revisions[5]]);
      await atPoint.close();

      // A watch created before the compaction either already holds its events or is told to relist.
      const seen: number[] = [];
      let relist: unknown;
      try {
        for (const event of await take(slow, 7, 5000)) seen.push(event.revision);
      } catch (caught) {
        relist = caught;
      }
      if (relist === undefined) expect(seen.slice(0, 6)).toEqual(revisions);
      else expect(relist).toBeInstanceOf(CompactedError);
      await slow.close();

      expect((await store.list(p)).items.map(text)).toEqual(['v4', 'v5', 'after-list']);
    });

    it('deletes keys when their lease expires or is revoked, and keeps them while kept alive', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const watch = await store.watch(p);

      const keptSince = Date.now();
      const kept = await store.lease(1);
      await store.put(`${p}kept`, 'alive', { lease: kept });
      const expiring = await store.lease(1, { keepAlive: false });
      expect(expiring.ttlSeconds).toBeGreaterThanOrEqual(1);
      await store.put(`${p}presence-1`, 'here', { lease: expiring });
      await store.create(`${p}presence-2`, 'here', { lease: expiring.id });
      expect((await store.get(`${p}presence-1`))!.lease).toBe(expiring.id);

      const events = await take(watch, 5, (expiring.ttlSeconds + 5) * 1000);
      const deletions = events.filter((event) => event.type === 'DELETE').map((event) => event.key);
      expect(deletions.sort()).toEqual([`${p}presence-1`, `${p}presence-2`]);
      expect(expiring.lost.aborted).toBe(true);
      expect(expiring.lost.reason).toBeInstanceOf(LeaseNotFoundError);
      expect(await store.get(`${p}presence-1`)).toBeUndefined();
      expect(await rejection(store.put(`${p}late`, 'x', { lease: expiring }))).toBeInstanceOf(LeaseNotFoundError);
      expect(await rejection(expiring.keepAliveOnce())).toBeInstanceOf(LeaseNotFoundError);

      // Renewed every TTL/3, the other lease outlives its TTL by far.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, keptSince + kept.ttlSeconds * 1500 - Date.now())));
      expect(kept.lost.aborted).toBe(false);
      expect(text(await store.get(`${p}kept`))).toBe('alive');
      await kept.revoke();
      expect(kept.lost.aborted).toBe(true);
      const revoked = await take(watch, 1);
      expect(revoked.map(summary)).toEqual([`DELETE ${p}kept prev=alive`]);
      expect(await store.get(`${p}kept`)).toBeUndefined();
      await watch.close();
    });

    it('commits several keys at one new revision and returns the result of each operation', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const kept = await store.create(`${p}update-me`, 'u0');
      const doomed = await store.create(`${p}delete-me`, 'd0');
      const replaced = await store.put(`${p}put-over`, 'p0');
      const before = await store.currentRevision();

      const { revision, results } = await store.commit([
        { type: 'create', key: `${p}new`, value: '{"n":1}' },
        { type: 'update', key: `${p}update-me`, value: 'u1', expectRevision: kept.modRevision },
        { type: 'put', key: `${p}put-over`, value: 'p1' },
        { type: 'put', key: `${p}put-fresh`, value: Uint8Array.from([0, 1, 2]) },
        { type: 'delete', key: `${p}delete-me`, expectRevision: doomed.modRevision },
      ]);
      expect(revision).toBe(before + 1);
      expect(await store.currentRevision()).toBe(revision);
      expect(results).toHaveLength(5);
      expect(results[0]).toEqual({ key: `${p}new`, value: Buffer.from('{"n":1}'), createRevision: revision, modRevision: revision, version: 1, lease: undefined });
      expect(results[1]).toMatchObject({ key: `${p}update-me`, createRevision: kept.modRevision, modRevision: revision, version: 2 });
      expect(results[2]).toMatchObject({ key: `${p}put-over`, createRevision: replaced.modRevision, modRevision: revision, version: 2 });
      expect(results[3]).toMatchObject({ key: `${p}put-fresh`, createRevision: revision, modRevision: revision, version: 1 });
      expect(results[4]).toEqual({ revision, prev: doomed });
      for (const result of results.slice(0, 4)) expect(await store.get((result as KeyValue).key)).toEqual(result);
      expect(await store.get(`${p}delete-me`)).toBeUndefined();
      expect((await store.list(p)).items.map((kv) => `${kv.key.slice(p.length)}@${kv.modRevision}`)).toEqual([
        `new@${revision}`,
        `put-fresh@${revision}`,
        `put-over@${revision}`,
        `update-me@${revision}`,
      ]);
      // A single-operation commit behaves like the single write.
      const single = await store.commit([{ type: 'update', key: `${p}new`, value: '{"n":2}', expectRevision: revision }]);
      expect(single.revision).toBe(revision + 1);
      expect(single.results[0]).toMatchObject({ key: `${p}new`, version: 2, createRevision: revision });
    });

    it('applies nothing when any precondition fails, and names the first failing operation', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const a = await store.create(`${p}a`, 'a0');
      const b = await store.create(`${p}b`, 'b0');
      await store.update(`${p}b`, 'b1');
      const snapshot = async (): Promise<string[]> => (await store.list(p)).items.map((kv) => `${kv.key}=${text(kv)}@${kv.modRevision}`);
      const state = await snapshot();
      const revision = await store.currentRevision();
      const good = [
        { type: 'put', key: `${p}x`, value: 'x' },
        { type: 'create', key: `${p}y`, value: 'y' },
        { type: 'update', key: `${p}a`, value: 'a1', expectRevision: a.modRevision },
      ] as const;
      const failing = [
        { op: { type: 'create', key: `${p}b`, value: 'dup' }, error: AlreadyExistsError },
        { op: { type: 'update', key: `${p}missing`, value: 'v' }, error: NotFoundError },
        { op: { type: 'update', key: `${p}b`, value: 'stale', expectRevision: b.modRevision }, error: ConflictError },
        { op: { type: 'delete', key: `${p}missing` }, error: NotFoundError },
        { op: { type: 'delete', key: `${p}b`, expectRevision: b.modRevision }, error: ConflictError },
      ] as const;
      for (const { op, error: type } of failing) {
        for (const at of [0, 1, 3]) {
          const operations: CommitOperation[] = [...good];
          operations.splice(at, 0, op);
          const error = await rejection(store.commit(operations));
          expect(error, `${op.type} ${op.key} at ${at}`).toBeInstanceOf(type);
          expect((error as { key: string }).key).toBe(op.key);
          expect(await snapshot()).toEqual(state);
          expect(await store.currentRevision()).toBe(revision);
        }
      }
      const stale = await rejection(store.commit([...good, failing[2].op]));
      expect(stale).toMatchObject({ expectedRevision: b.modRevision, actualRevision: b.modRevision + 1 });
      // The first failing operation in order decides the error.
      const first = await rejection(
        store.commit([good[0], { type: 'delete', key: `${p}gone` }, { type: 'create', key: `${p}a`, value: 'dup' }]),
      );
      expect(first).toBeInstanceOf(NotFoundError);
      expect((first as NotFoundError).key).toBe(`${p}gone`);
      // A dead lease on one operation fails the whole commit too.
      const lease = await store.lease(5, { keepAlive: false });
      await lease.revoke();
      expect(await rejection(store.commit([good[0], { type: 'put', key: `${p}leased`, value: 'v', lease }]))).toBeInstanceOf(LeaseNotFoundError);
      expect(await snapshot()).toEqual(state);
      expect(await store.currentRevision()).toBe(revision);

      // And the same commit without the failing operation applies.
      const applied = await store.commit([...good]);
      expect(applied.revision).toBe(revision + 1);
      expect(await snapshot()).toEqual([`${p}a=a1@${revision + 1}`, `${p}b=b1@${b.modRevision + 1}`, `${p}x=x@${revision + 1}`, `${p}y=y@${revision + 1}`]);
    });

    it('shows watchers the operations of a commit at its revision, in operation order', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      await store.create(`${p}a`, 'a0');
      await store.create(`${p}m`, 'm0');
      const watch = await store.watch(p);
      const commit = await store.commit([
        { type: 'put', key: `${p}z`, value: 'z1' },
        { type: 'delete', key: `${p}a` },
        { type: 'create', key: `${p}b`, value: 'b1' },
        { type: 'update', key: `${p}m`, value: 'm1' },
      ]);
      const after = await store.put(`${p}a`, 'a2');
      const events = await take(watch, 5);
      expect(events.map(summary)).toEqual([`PUT ${p}z=z1 prev=-`, `DELETE ${p}a prev=a0`, `PUT ${p}b=b1 prev=-`, `PUT ${p}m=m1 prev=m0`, `PUT ${p}a=a2 prev=-`]);
      expect(events.map((event) => event.revision)).toEqual([commit.revision, commit.revision, commit.revision, commit.revision, after.modRevision]);
      await watch.close();

      // Replay across many commits: every commit arrives whole and in order, also where a backend
      // pages its history (SQLite reads 512 rows at a time: the sixth commit straddles that).
      const q = freshPrefix();
      const commits: number[] = [];
      for (let c = 0; c < 6; c++) {
        const operations = Array.from({ length: 100 }, (_, i): CommitOperation => ({ type: 'put', key: `${q}${String(99 - i).padStart(2, '0')}`, value: `${c}:${i}` }));
        commits.push((await store.commit(operations)).revision);
      }
      const replay = await store.watch(q, { fromRevision: commits[0]! });
      const replayed = await take(replay, 600);
      for (let c = 0; c < 6; c++) {
        const slice = replayed.slice(c * 100, c * 100 + 100);
        expect(new Set(slice.map((event) => event.revision))).toEqual(new Set([commits[c]]));
        expect(slice.map((event) => (event.type === 'PUT' ? text(event.kv) : ''))).toEqual(Array.from({ length: 100 }, (_, i) => `${c}:${i}`));
      }
      expect(await staysQuiet(replay, 200)).toBe(true);
    });

    it('refuses duplicate keys, too many operations and too large values before writing anything', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const revision = await store.currentRevision();
      const refused = async (operations: readonly CommitOperation[], message: string | RegExp): Promise<void> => {
        const error = await rejection(store.commit(operations));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toMatch(message);
        expect((error as Error).message.split('\n')).toHaveLength(1);
      };
      await refused(
        [
          { type: 'create', key: `${p}a`, value: '1' },
          { type: 'put', key: `${p}b`, value: '2' },
          { type: 'delete', key: `${p}a` },
        ],
        `operations[2]: key ${p}a is already written by operations[0]; one operation per key`,
      );
      await refused([], 'operations: 0 operations; a commit takes 1 to 128 operations');
      const many = (n: number, size = 1): CommitOperation[] =>
        Array.from({ length: n }, (_, i) => ({ type: 'put', key: `${p}${String(i).padStart(3, '0')}`, value: Buffer.alloc(size, 97) }));
      expect(MAX_COMMIT_OPERATIONS).toBe(128);
      await refused(many(129), 'operations: 129 operations; a commit takes 1 to 128 operations');
      await refused([{ type: 'put', key: 'relative', value: 'v' }], /^operations\[0\]: key "relative": must be a string starting with "\/"$/);
      await refused([{ type: 'upsert', key: `${p}a`, value: 'v' } as unknown as CommitOperation], 'operations[0].type: must be one of create, update, put, delete');
      await refused([{ type: 'update', key: `${p}a`, value: 'v', expectRevision: 0 }], 'operations[0].expectRevision 0: must be a positive integer');
      const half = MAX_COMMIT_VALUE_BYTES / 2;
      await refused(
        [
          { type: 'put', key: `${p}a`, value: Buffer.alloc(half) },
          { type: 'put', key: `${p}b`, value: Buffer.alloc(half + 1) },
        ],
        `operations[1].value: the values of operations[0..1] add up to ${MAX_COMMIT_VALUE_BYTES + 1} bytes, more than the ${MAX_COMMIT_VALUE_BYTES}-byte limit of one commit`,
      );
      expect(await store.currentRevision()).toBe(revision);
      expect((await store.list(p)).items).toEqual([]);

      // The largest commit fits every backend at its defaults: 128 operations with the longest keys
      // and values adding up to the limit (etcd: under its 1.5 MiB request limit and 128-op limit).
      const longest = (i: number): string => `${p}${String(i).padStart(3, '0')}-`.padEnd(1536, 'k');
      const share = Math.floor(MAX_COMMIT_VALUE_BYTES / 128);
      const sizes = Array.from({ length: 128 }, (_, i) => (i === 0 ? MAX_COMMIT_VALUE_BYTES - 127 * share : share));
      const largest: CommitOperation[] = sizes.map((size, i) => ({ type: 'create', key: longest(i), value: Buffer.alloc(size, i) }));
      const done = await store.commit(largest);
      expect(done.revision).toBe(revision + 1);
      const stored = await store.list(p);
      expect(stored.items).toHaveLength(128);
      expect(stored.items.reduce((sum, kv) => sum + kv.value.length, 0)).toBe(MAX_COMMIT_VALUE_BYTES);
      // …and deleting them all again (etcd returns every previous value: a response over 1 MiB).
      const removed = await store.commit(largest.map((op) => ({ type: 'delete', key: op.key })));
      expect(removed.results.map((result) => (result as { prev: KeyValue }).prev.value.length)).toEqual(sizes);
      expect((await store.list(p)).items).toEqual([]);
    });

    it('attaches leases per operation or for the whole commit', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const session = await store.lease(30);
      const other = await store.lease(30);
      const { results } = await store.commit(
        [
          { type: 'create', key: `${p}presence`, value: 'up' },
          { type: 'put', key: `${p}claim`, value: 'mine', lease: other },
          { type: 'put', key: `${p}by-id`, value: 'id', lease: other.id },
        ],
        { lease: session },
      );
      expect(results.map((result) => (result as KeyValue).lease)).toEqual([session.id, other.id, other.id]);
      expect((await store.get(`${p}presence`))!.lease).toBe(session.id);
      const permanent = await store.commit([{ type: 'put', key: `${p}permanent`, value: 'stays' }]);
      expect((permanent.results[0] as KeyValue).lease).toBeUndefined();

      const watch = await store.watch(p);
      await session.revoke();
      expect((await take(watch, 1)).map(summary)).toEqual([`DELETE ${p}presence prev=up`]);
      await other.revoke();
      expect((await take(watch, 2)).map((event) => `${event.type} ${event.key}`).sort()).toEqual([`DELETE ${p}by-id`, `DELETE ${p}claim`]);
      await watch.close();
      expect((await store.list(p)).items.map((kv) => kv.key)).toEqual([`${p}permanent`]);
    });

    it('lists and replays more than 4 MiB at once (large gRPC messages on etcd)', async () => {
      const store = await backend.client();
      const p = freshPrefix();
      const big = (i: number): Buffer => Buffer.alloc(MAX_VALUE_BYTES - 64, i);
      const first = await store.put(`${p}0`, big(0));
      for (let i = 1; i < 6; i++) await store.put(`${p}${i}`, big(i));
      const listed = await store.list(p);
      expect(listed.items.map((kv) => kv.value[0])).toEqual([0, 1, 2, 3, 4, 5]);
      // A watch catching up receives these revisions in one batch from etcd.
      const watch = await store.watch(p, { fromRevision: first.modRevision });
      const events = await take(watch, 6);
      expect(events.map((event) => (event.type === 'PUT' ? event.kv.value[0] : -1))).toEqual([0, 1, 2, 3, 4, 5]);
      // One commit deleting them: its events (with previous values) arrive at one revision.
      const removed = await store.commit(Array.from({ length: 6 }, (_, i) => ({ type: 'delete' as const, key: `${p}${i}` })));
      const deletions = await take(watch, 6);
      expect(deletions.map((event) => `${event.type}@${event.revision}:${event.prev?.value[0]}`)).toEqual(
        Array.from({ length: 6 }, (_, i) => `DELETE@${removed.revision}:${i}`),
      );
      await watch.close();
    });

    it('elects one leader and hands over on resign and when the leader lease ends', async () => {
      const storeA = await backend.client();
      const storeB = await backend.otherClient();
      const storeC = await backend.otherClient();
      const key = `${freshPrefix()}leader`;
      const observer = new Election(storeC, key).observe();
      const observed = async (expected: string | undefined): Promise<void> => {
        for (;;) {
          const next = await observer.next();
          if (next.done) throw new Error('observer ended');
          if (text(next.value) === expected) return;
        }
      };
      await observed(undefined);

      const a = await new Election(storeA, key, { ttlSeconds: 2 }).campaign('replica-a');
      expect(text(await new Election(storeB, key).leader())).toBe('replica-a');
      await observed('replica-a');

      // B campaigns with its own session lease and waits while A leads.
      const bLease = await storeB.lease(1);
      let bLeader: Leadership | undefined;
      const bCampaign = new Election(storeB, key).campaign('replica-b', { lease: bLease }).then((won) => (bLeader = won));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(bLeader).toBeUndefined();
      expect(a.lost.aborted).toBe(false);

      // Hand-over on resign.
      await a.resign();
      expect(a.lost.aborted).toBe(true);
      const b = await bCampaign;
      expect(b.term).toBeGreaterThan(a.term);
      expect(text(await storeA.get(key))).toBe('replica-b');
      await observed('replica-b');

      // Hand-over when the leader's lease ends: B stops renewing (as a crashed replica would);
      // C wins only after the lease expired, and B knew it had lost leadership by then.
      let bLostFirst: boolean | undefined;
      const cCampaign = new Election(storeC, key, { ttlSeconds: 2 })
        .campaign('replica-c')
        .then((won) => ((bLostFirst = b.lost.aborted), won));
      await new Promise((resolve) => setTimeout(resolve, 200));
      bLease.stopKeepAlive();
      const c = await cCampaign;
      expect(bLostFirst).toBe(true);
      expect(b.lost.reason).toBeInstanceOf(LeaseNotFoundError);
      expect(c.term).toBeGreaterThan(b.term);
      expect(text(await storeA.get(key))).toBe('replica-c');
      await observed('replica-c');

      await c.resign();
      await observed(undefined);
      expect(await storeA.get(key)).toBeUndefined();
      await observer.return(undefined);

      // A campaign can be abandoned.
      const holder = await new Election(storeA, key, { ttlSeconds: 2 }).campaign('holder');
      const abort = new AbortController();
      const abandoned = new Election(storeB, key).campaign('never', { signal: abort.signal });
      setTimeout(() => abort.abort(new Error('shutting down')), 100);
      expect(await rejection(abandoned)).toMatchObject({ message: 'shutting down' });
      await holder.resign();
    });
  });
}

storeConformance(sqliteBackend());
storeConformance(etcdBackend(1));
storeConformance(etcdBackend(3));
