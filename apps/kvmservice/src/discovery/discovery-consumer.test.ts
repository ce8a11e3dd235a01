/**
 * The discovery consumer on a real SQLite store and a real etcd, fed through TelemetryService.ingest
 * as agents feed it: a new leader resumes exactly where the stored model ends (no event observed twice, none
 * skipped), two writers at once converge, a stale writer is refused, gaps and unreadable models
 * are counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '@kvmservice/api';
import { parseLine, toWireEvent } from '@kvmservice/auditlog';
import { createHostModel, observeEvents, serializeModel } from '@kvmservice/discovery';
import { ConflictError, openStore, type Store } from '@kvmservice/store';
import { MetricsService } from '../metrics/metrics.service.js';
import { ServiceKeys } from '../store/service-keys.js';
import { AttributionService } from '../telemetry/attribution.service.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { DiscoveryConsumer, type ConsumerOptions } from './discovery-consumer.js';
import { DiscoveryModels } from './host-models.js';
import { resolverOf } from './source-resolvers.js';
import { startEtcd, type EtcdCluster } from '../../../../test/support/etcd.js';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const SOURCES = { kubearmor_usrbincurl: '/usr/bin/curl' };

/** Record n of a host: curl (known by its profile name) reads one of 37 files, at its own time. */
function lineOf(n: number): string {
  return `type=AVC msg=audit(${1716000000 + n}.000:${n}): apparmor="ALLOWED" operation="open" profile="kubearmor_usrbincurl" name="/srv/data/f${n % 37}" pid=${100 + n} comm="curl" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
}

function hostEvent(n: number) {
  const e = parseLine(lineOf(n)).event;
  if (!e) throw new Error(lineOf(n));
  return e;
}

/** The wire event an agent uploads for record n. */
function event(n: number): Event {
  return toWireEvent(hostEvent(n), n) as unknown as Event;
}

/** The model of events `seqs` observed once each, in order. */
function reference(host: string, seqs: number[]): string {
  const model = createHostModel(host);
  observeEvents(model, seqs.map(hostEvent), NOW, { sourceResolver: resolverOf(SOURCES) });
  return serializeModel(model);
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(['sqlite', 'etcd'] as const)('DiscoveryConsumer on %s', (backend) => {
  let dir: string;
  let etcd: EtcdCluster | undefined;
  let store: Store;
  let keys: ServiceKeys;
  let telemetry: TelemetryService;
  let models: DiscoveryModels;
  const running: { abort: AbortController; done: Promise<void> }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'discovery-consumer-'));
    if (backend === 'etcd') etcd = await startEtcd();
    store = await openStore(etcd ? etcd.storeUrl : `sqlite:${join(dir, 'store.db')}`);
    keys = new ServiceKeys('/kvmservice');
    telemetry = new TelemetryService(store, keys, new MetricsService(), new AttributionService());
    models = new DiscoveryModels(store, keys, (k, v) => telemetry.parseBatch(k, v));
  }, 30_000);
  afterAll(async () => {
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done.catch(() => undefined)));
    await store?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const ingest = async (host: string, from: number, to: number, perBatch = 7) => {
    for (let first = from; first <= to; first += perBatch) {
      const last = Math.min(to, first + perBatch - 1);
      await telemetry.ingest(host, { firstSeq: first, events: range(first, last).map(event), dropped: 0 } as never);
    }
  };
  const start = (options: ConsumerOptions, flushOnExit = false) => {
    const consumer = new DiscoveryConsumer({ store, keys, parseBatch: (k, v) => telemetry.parseBatch(k, v), sourceResolver: async () => resolverOf(SOURCES), now: () => NOW }, { tickMs: 20, ...options });
    const abort = new AbortController();
    const done = consumer.lead(abort.signal, { flushOnExit: () => flushOnExit });
    running.push({ abort, done });
    return { consumer, stop: async () => { abort.abort(); await done; } };
  };
  const stored = async (host: string) => models.load(host);
  const until = async (what: string, probe: () => Promise<boolean> | boolean) => {
    await expect.poll(probe, { timeout: 15_000, interval: 20, message: what }).toBe(true);
  };

  it('a new leader resumes exactly after the stored model: nothing observed twice, nothing skipped', async () => {
    await ingest('h1', 1, 30);
    // Leader A writes quickly at first …
    const a = start({ flushAfterMs: 10 });
    await until('A wrote events 1..30', async () => (await stored('h1')).lastSeq === 30);
    await a.stop();
    // … then leader A2 observes 31..60 but dies before writing (no hand-over).
    const a2 = start({ flushAfterMs: 60_000 });
    // Past its catch-up (which writes what it read from the store), it only observes.
    await until('A2 follows the events', () => a2.consumer.following);
    await ingest('h1', 31, 60);
    await until('A2 observed 31..60', () => a2.consumer.counters.observed === 30);
    await a2.stop();
    expect((await stored('h1')).lastSeq).toBe(30);
    // Events arrive while nobody leads.
    await ingest('h1', 61, 90, 11);
    const b = start({ flushAfterMs: 10 });
    await ingest('h1', 91, 100, 3);
    await until('B wrote events up to 100', async () => (await stored('h1')).lastSeq === 100);
    const state = await stored('h1');
    expect(state.events).toBe(100);
    expect(serializeModel(state.model)).toBe(reference('h1', range(1, 100)));
    expect(state.model.stats.events).toBe(100);
    expect(b.consumer.counters.gaps).toBe(0);
    await b.stop();
  });

  it('writes on an orderly hand-over, and bounds unwritten events by count', async () => {
    const a = start({ flushAfterMs: 60_000, flushAfterEvents: 10 }, true);
    await ingest('h2', 1, 25, 5);
    // 10 events are written without waiting for the time bound.
    await until('written by count', async () => (await stored('h2')).lastSeq >= 20);
    await a.stop();
    const state = await stored('h2');
    expect(state.lastSeq).toBe(25);
    expect(serializeModel(state.model)).toBe(reference('h2', range(1, 25)));
  });

  it('two leaders at once (a split brain) still converge on one consistent model', async () => {
    const a = start({ flushAfterMs: 5 });
    const b = start({ flushAfterMs: 5 });
    for (let i = 0; i < 8; i++) await ingest('h3', i * 10 + 1, i * 10 + 10, 4);
    await until('both caught up', async () => (await stored('h3')).lastSeq === 80);
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all([a.stop(), b.stop()]);
    const state = await stored('h3');
    expect(state.lastSeq).toBe(80);
    expect(serializeModel(state.model)).toBe(reference('h3', range(1, 80)));
  });

  it('after a deposed leader\'s late write, continues from that model and reads the stored events it lacks', async () => {
    await ingest('h6', 1, 10);
    const a = start({ flushAfterMs: 5 });
    await until('A wrote 1..10', async () => (await stored('h6')).lastSeq === 10);
    // A deposed leader writes the model as it had it at event 5 (a consistent, older state).
    const late = await stored('h6');
    const older = createHostModel('h6');
    observeEvents(older, range(1, 5).map(hostEvent), NOW, { sourceResolver: resolverOf(SOURCES) });
    Object.assign(late, { model: older, lastSeq: 5, batchFirst: 1, events: 5 });
    await models.save(late);
    // A's next write finds the model changed, drops its copy; the next batch reloads and fills in 6..20.
    await ingest('h6', 11, 20);
    await until('A met the conflict', () => a.consumer.counters.conflicts >= 1);
    await ingest('h6', 21, 30);
    await until('A wrote 1..30', async () => (await stored('h6')).lastSeq === 30);
    expect(serializeModel((await stored('h6')).model)).toBe(reference('h6', range(1, 30)));
    await a.stop();
  });

  it('refuses a write from a stale reader of the model', async () => {
    const first = await stored('h1');
    const second = await stored('h1');
    await models.save(second);
    await expect(models.save(first)).rejects.toBeInstanceOf(ConflictError);
  });

  it('counts the sequence numbers an agent never delivered, and replaces an unreadable model', async () => {
    await ingest('h4', 1, 10);
    await telemetry.ingest('h4', { firstSeq: 21, events: range(21, 30).map(event), dropped: 10 } as never);
    await store.put(keys.discoveryModel('h5'), 'garbage');
    await ingest('h5', 1, 5);
    const c = start({ flushAfterMs: 5 });
    await until('h4 and h5 written', async () => (await stored('h4')).lastSeq === 30 && (await stored('h5')).lastSeq === 5);
    expect(c.consumer.counters.gaps).toBe(10);
    expect(c.consumer.counters.unreadable).toBe(1);
    expect(serializeModel((await stored('h4')).model)).toBe(reference('h4', [...range(1, 10), ...range(21, 30)]));
    expect(serializeModel((await stored('h5')).model)).toBe(reference('h5', range(1, 5)));
    await c.stop();
  });
});
