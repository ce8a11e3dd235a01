/**
 * Real etcd failures under load: SIGKILL the raft leader of a 3-member cluster while clients write,
 * and lose every member of a single-member cluster. Acknowledged writes must survive, the client must
 * carry on with the survivors, watches must resume without gaps or duplicates, and nothing may hang.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, StoreUnavailableError, type Store, type Watch, type WatchEvent } from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { sleep, waitFor } from '../support/fleet-processes.js';

interface Ack {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
  readonly at: number;
  readonly latencyMs: number;
}


/** Collects events until `done(events)` holds, failing after `timeoutMs`. */
async function collectUntil(watch: Watch, done: (events: WatchEvent[]) => boolean, timeoutMs: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const iterator = watch[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (!done(events)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`watch: condition not met after ${events.length} events`);
    const next = await Promise.race([iterator.next(), sleep(remaining).then(() => undefined)]);
    if (next === undefined) continue;
    if (next.done) throw new Error('watch ended');
    events.push(next.value);
  }
  return events;
}

describe('etcd store under member failures', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const track = <T extends Store | EtcdCluster>(resource: T): T => {
    cleanups.push(() => ('storeUrl' in resource ? resource.stop() : resource.close()));
    return resource;
  };

  it('keeps every acknowledged write when the leader is SIGKILLed mid-load; the member rejoins', { timeout: 120_000 }, async () => {
    const etcd = track(await startEtcd({ members: 3 }));
    const store = track(await openStore(etcd.storeUrl, { etcd: { callTimeoutMs: 1000 } }));
    const prefix = '/failover/';
    const watch = await store.watch(prefix);

    const acks: Ack[] = [];
    const failures: string[] = [];
    let next = 0;
    let stop = false;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const i = next++;
        const key = `${prefix}${String(i).padStart(6, '0')}`;
        const started = Date.now();
        try {
          const kv = await store.put(key, String(i));
          acks.push({ key, value: String(i), revision: kv.modRevision, at: Date.now(), latencyMs: Date.now() - started });
        } catch (error) {
          // Only "unavailable, outcome unknown" is acceptable while a member dies.
          if (!(error instanceof StoreUnavailableError)) throw error;
          failures.push(error.message);
        }
      }
    };
    const writers = Array.from({ length: 4 }, () => writer());

    // Counted, not timed: a loaded machine writes slower, and the test waits for enough writes.
    await waitFor('30 acknowledged writes before the kill', () => acks.length > 30, 20_000, 50);
    const leader = await etcd.leader();
    const ackedBeforeKill = acks.length;
    await etcd.kill(leader);
    const killedAt = Date.now();
    await waitFor('30 acknowledged writes after the kill', () => acks.filter((ack) => ack.at > killedAt).length > 30, 30_000, 50);
    stop = true;
    await Promise.all(writers);

    const afterKill = acks.filter((ack) => ack.at > killedAt).length;
    console.log(
      `leader ${leader.name} killed: ${ackedBeforeKill} writes before, ${afterKill} after on the survivors, ` +
        `slowest acknowledged write ${Math.max(...acks.map((ack) => ack.latencyMs))} ms, ` +
        `${failures.length} unavailable: ${[...new Set(failures.map((f) => f.replace(/[0-9]+/g, 'N')))].join(' | ')}`,
    );
    expect(ackedBeforeKill).toBeGreaterThan(20);
    expect(afterKill).toBeGreaterThan(20);

    // Every acknowledged write is readable, with the value and revision it was acknowledged with.
    const listed = new Map((await store.list(prefix)).items.map((kv) => [kv.key, kv]));
    const lost = acks.filter((ack) => listed.get(ack.key)?.value.toString() !== ack.value || listed.get(ack.key)?.modRevision !== ack.revision);
    expect(lost).toEqual([]);

    // The watch saw each of them exactly once, in revision order, across the failover.
    const wanted = new Set(acks.map((ack) => ack.revision));
    const events = await collectUntil(watch, (seen) => [...wanted].every((revision) => seen.some((e) => e.revision === revision)), 20_000);
    const revisions = events.map((event) => event.revision);
    expect(revisions.every((revision, i) => i === 0 || revision > revisions[i - 1]!)).toBe(true);
    for (const ack of acks) expect(events.find((event) => event.revision === ack.revision)?.key).toBe(ack.key);
    console.log(`watch: ${events.length} events, ${watch.stats().reconnects} reconnect(s)`);
    await watch.close();

    // The killed member restarts on its data dir, rejoins and catches up with everything.
    await etcd.restart(leader);
    const target = Math.max(...acks.map((ack) => ack.revision));
    for (let waited = 0; (await etcd.status(leader)).revision < target; waited += 50) {
      if (waited > 15_000) throw new Error('restarted member did not catch up');
      await sleep(50);
    }
    const direct = track(await openStore(`etcd://${leader.endpoint}`));
    const onRejoined = new Map((await direct.list(prefix)).items.map((kv) => [kv.key, kv.value.toString()]));
    expect(acks.filter((ack) => onRejoined.get(ack.key) !== ack.value)).toEqual([]);
    const statuses = await Promise.all(etcd.members.map((member) => etcd.status(member)));
    expect(new Set(statuses.map((status) => status.leaderId)).size).toBe(1);
  });

  it('fails with StoreUnavailableError instead of hanging when no member answers, and recovers', async () => {
    const etcd = track(await startEtcd({ members: 1 }));
    const member = etcd.members[0]!;
    const store = track(await openStore(etcd.storeUrl, { etcd: { callTimeoutMs: 500, retryTimeoutMs: 1500 } }));
    const watch = await store.watch('/outage/');
    const before = await store.put('/outage/a', 'before');

    await etcd.kill(member);
    const started = Date.now();
    const error = await store.put('/outage/b', 'during').catch((caught: unknown) => caught);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/put \/outage\/b: backend unavailable after \d+ attempt/);
    // Bounded by the retry budget plus one call deadline (generous slack for a loaded machine).
    expect(elapsed).toBeLessThan(1500 + 500 + 3000);
    expect(await store.get('/outage/a').catch((caught: unknown) => caught)).toBeInstanceOf(StoreUnavailableError);

    await etcd.restart(member);
    const after = await store.put('/outage/c', 'after');
    expect(after.modRevision).toBeGreaterThan(before.modRevision);
    expect((await store.get('/outage/a'))?.value.toString()).toBe('before');

    // The watch resumed by itself: it delivers the writes in order, without duplicates.
    const events = await collectUntil(watch, (seen) => seen.some((event) => event.key === '/outage/c'), 15_000);
    const keys = events.map((event) => event.key);
    expect(keys[0]).toBe('/outage/a');
    expect(keys[keys.length - 1]).toBe('/outage/c');
    expect(new Set(events.map((event) => event.revision)).size).toBe(events.length);
    expect(watch.stats().reconnects).toBeGreaterThanOrEqual(1);
    await watch.close();
  });
});
