/**
 * Multi-key commits on a real 3-member etcd cluster whose leader is SIGKILLed mid-load. Writers
 * commit pairs of keys (create a, create b, put the writer's "last" key) and delete earlier pairs
 * (delete a, delete b). Every acknowledged commit must be wholly readable at its revision, no pair
 * may ever be half-written (acknowledged or not), and the only acceptable failure is "unavailable,
 * outcome unknown". A commit retried after an ambiguous failure that finds its own earlier attempt
 * applied must report success rather than AlreadyExists; a delete-only commit cannot tell its own
 * deletion from another's and reports NotFound (README), which the test accepts and checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, openStore, StoreUnavailableError, type Store, type Watch, type WatchEvent } from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { sleep, waitFor } from '../support/fleet-processes.js';

interface Ack {
  readonly op: 'pair' | 'unpair';
  /** The pair's key prefix. */
  readonly key: string;
  readonly revision: number;
  readonly writer: number;
  readonly n: number;
  readonly at: number;
}


/** Collects events until one at `revision` or later has arrived and then nothing for `quietMs`. */
async function collectThrough(watch: Watch, revision: number, quietMs: number, timeoutMs: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const iterator = watch[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  let pending = iterator.next();
  for (;;) {
    const reached = events.length > 0 && events[events.length - 1]!.revision >= revision;
    const wait = reached ? quietMs : deadline - Date.now();
    if (wait <= 0) throw new Error(`watch: revision ${revision} not reached after ${events.length} events`);
    const next = await Promise.race([pending, sleep(wait).then(() => undefined)]);
    if (next === undefined) {
      if (reached) return events;
      continue;
    }
    if (next.done) throw new Error('watch ended');
    events.push(next.value);
    pending = iterator.next();
  }
}

describe('etcd store: multi-key commits under leader failure', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const track = <T extends Store | EtcdCluster>(resource: T): T => {
    cleanups.push(() => ('storeUrl' in resource ? resource.stop() : resource.close()));
    return resource;
  };

  it('keeps every acknowledged commit whole and readable when the leader is SIGKILLed', async () => {
    const etcd = track(await startEtcd({ members: 3 }));
    const store = track(await openStore(etcd.storeUrl, { etcd: { callTimeoutMs: 1000 } }));
    const prefix = '/commit-failover/';
    const watch = await store.watch(prefix);

    const acks: Ack[] = [];
    const unavailable: string[] = [];
    const deleteRetriedNotFound: string[] = [];
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      const pairs: Ack[] = [];
      for (let n = 0; !stop; n++) {
        const key = `${prefix}pairs/${w}-${String(n).padStart(5, '0')}/`;
        try {
          const { revision } = await store.commit([
            { type: 'create', key: `${key}a`, value: `${w}:${n}` },
            { type: 'create', key: `${key}b`, value: `${w}:${n}` },
            { type: 'put', key: `${prefix}last/${w}`, value: String(n) },
          ]);
          const ack: Ack = { op: 'pair', key, revision, writer: w, n, at: Date.now() };
          acks.push(ack);
          pairs.push(ack);
        } catch (error) {
          if (!(error instanceof StoreUnavailableError)) throw error;
          unavailable.push(error.message);
        }
        if (n % 4 === 3 && pairs.length > 0) {
          const pair = pairs.shift()!;
          try {
            const { revision } = await store.commit([
              { type: 'delete', key: `${pair.key}a`, expectRevision: pair.revision },
              { type: 'delete', key: `${pair.key}b`, expectRevision: pair.revision },
            ]);
            acks.push({ op: 'unpair', key: pair.key, revision, writer: w, n, at: Date.now() });
          } catch (error) {
            if (error instanceof NotFoundError) deleteRetriedNotFound.push(pair.key);
            else if (error instanceof StoreUnavailableError) unavailable.push(error.message);
            else throw error;
          }
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));

    // Counted, not timed: a loaded machine commits slower, and the test waits for enough commits.
    await waitFor('30 acknowledged commits before the kill', () => acks.length > 30, 20_000, 50);
    const leader = await etcd.leader();
    const ackedBeforeKill = acks.length;
    await etcd.kill(leader);
    const killedAt = Date.now();
    await waitFor('30 acknowledged commits after the kill', () => acks.filter((ack) => ack.at > killedAt).length > 30, 30_000, 50);
    stop = true;
    await Promise.all(writers);

    const afterKill = acks.filter((ack) => ack.at > killedAt).length;
    console.log(
      `leader ${leader.name} killed: ${ackedBeforeKill} commits before, ${afterKill} after; ` +
        `${unavailable.length} unavailable, ${deleteRetriedNotFound.length} retried deletes found their keys gone: ` +
        [...new Set(unavailable.map((message) => message.replace(/[0-9]+/g, 'N')))].join(' | '),
    );
    expect(ackedBeforeKill).toBeGreaterThan(20);
    expect(afterKill).toBeGreaterThan(20);

    // The final state: no pair is half-written; acknowledged pairs are there at their revision
    // unless deleted afterwards; acknowledged deletions removed both keys.
    const live = (await store.list(`${prefix}pairs/`)).items;
    const halves = new Map<string, number[]>();
    for (const kv of live) halves.set(kv.key.slice(0, -1), [...(halves.get(kv.key.slice(0, -1)) ?? []), kv.modRevision]);
    expect([...halves].filter(([, revisions]) => revisions.length !== 2 || revisions[0] !== revisions[1])).toEqual([]);
    const deleted = new Set([...acks.filter((ack) => ack.op === 'unpair').map((ack) => ack.key), ...deleteRetriedNotFound]);
    for (const ack of acks) {
      if (ack.op === 'unpair') expect(halves.has(ack.key), `${ack.key} deleted at ${ack.revision}`).toBe(false);
      else if (!deleted.has(ack.key)) expect(halves.get(ack.key), `${ack.key} committed at ${ack.revision}`).toEqual([ack.revision, ack.revision]);
    }
    for (const key of deleteRetriedNotFound) expect(halves.has(key), `${key} (retried delete)`).toBe(false);
    const lasts = (await store.list(`${prefix}last/`)).items;
    for (const kv of lasts) {
      // Every writer's last acknowledged pair commit wrote its "last" key (a later unacknowledged one may have too).
      const writerAcks = acks.filter((ack) => ack.op === 'pair' && kv.key.endsWith(`/${ack.writer}`));
      expect(Number(kv.value.toString())).toBeGreaterThanOrEqual(Math.max(...writerAcks.map((ack) => ack.n)));
    }

    // The watch saw every acknowledged commit whole, at its revision, in operation order.
    const wanted = new Set(acks.map((ack) => ack.revision));
    // Through the newest acknowledged commit, whose remaining events follow at once.
    const events = await collectThrough(watch, Math.max(...wanted), 500, 20_000);
    const byRevision = new Map<number, WatchEvent[]>();
    for (const event of events) byRevision.set(event.revision, [...(byRevision.get(event.revision) ?? []), event]);
    const revisions = events.map((event) => event.revision);
    expect(revisions.every((revision, i) => i === 0 || revision >= revisions[i - 1]!)).toBe(true);
    for (const ack of acks) {
      const seen = (byRevision.get(ack.revision) ?? []).map((event) => `${event.type} ${event.key}`);
      expect(seen).toEqual(
        ack.op === 'pair'
          ? [`PUT ${ack.key}a`, `PUT ${ack.key}b`, `PUT ${prefix}last/${ack.writer}`]
          : [`DELETE ${ack.key}a`, `DELETE ${ack.key}b`],
      );
    }
    console.log(`watch: ${events.length} events in ${byRevision.size} revisions, ${watch.stats().reconnects} reconnect(s)`);
    await watch.close();
  });
});
