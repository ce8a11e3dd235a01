/**
 * The discovery leader's work: every host's stored events into its model (libs/discovery), the
 * models into the store. One replica does it at a time (DiscoveryLeaderService elects it); every
 * replica's agents' events are in the store, so the leader sees all of them.
 *
 * A term: list the hosts whose stored events are ahead of their model, catch each up from the
 * batches after its model's position, then follow a watch on all events. Before a batch is
 * observed, any stored batches between the model's position and it are read first, so nothing the
 * store holds is skipped; events at or below the position are never observed again. Models are
 * written (model and position in one conditional commit, host-models.ts) when their oldest
 * unwritten event is `flushAfterMs` old or `flushAfterEvents` are unwritten, and when the leader
 * stops; at most `maxResident` models stay in memory (written ones are dropped first). A write
 * that finds the model changed (a deposed leader's late write) reloads the model from the store
 * and continues from its position.
 */
import { AlreadyExistsError, CompactedError, ConflictError, type Store } from '@kvmservice/store';
import type { SourceResolver } from '@kvmservice/discovery';
import type { ServiceKeys } from '../store/service-keys.js';
import type { StoredBatch } from '../telemetry/telemetry.service.js';
import { DiscoveryModels, observeBatch, type HostModelState } from './host-models.js';

export interface ConsumerOptions {
  /** Longest time an observed event stays unwritten (default 2 s). */
  flushAfterMs?: number;
  /** Unwritten events that make a host's model be written at once (default 20 000). */
  flushAfterEvents?: number;
  /** Models kept in memory (default 64). */
  maxResident?: number;
  /** How often due writes are looked for (default 250 ms). */
  tickMs?: number;
}

export interface ConsumerCounters {
  /** Events observed into models. */
  observed: number;
  /** Sequence numbers missing between consumed events (dropped by the agent, or trimmed before discovery read them). */
  gaps: number;
  /** Models written. */
  writes: number;
  /** Writes that found the model changed by another writer (the model was reloaded). */
  conflicts: number;
  /** Failed writes (retried). */
  writeErrors: number;
  /** Stored models that could not be read and were replaced by new ones. */
  unreadable: number;
}

interface Resident {
  state: HostModelState;
  /** Events observed since the last write. */
  pending: number;
  /** When the oldest unwritten event was observed (undefined: nothing unwritten). */
  dirtySince: number | undefined;
  writing: Promise<void> | undefined;
  lastUsed: number;
}

export interface ConsumerDeps {
  store: Store;
  keys: ServiceKeys;
  parseBatch: (key: string, value: Buffer) => StoredBatch | undefined;
  /** Maps a host's own profile / domain names back to binaries. */
  sourceResolver: (host: string) => Promise<SourceResolver | undefined>;
  /** The time given to the model for events without one (write timing uses the real clock). */
  now?: () => number;
  onError?: (message: string, error: unknown, host?: string) => void;
  onCounters?: (delta: Partial<ConsumerCounters>) => void;
}

export class DiscoveryConsumer {
  readonly counters: ConsumerCounters = { observed: 0, gaps: 0, writes: 0, conflicts: 0, writeErrors: 0, unreadable: 0 };
  private readonly models: DiscoveryModels;
  private readonly resident = new Map<string, Resident>();
  private watching = false;
  private readonly now: () => number;
  private readonly flushAfterMs: number;
  private readonly flushAfterEvents: number;
  private readonly maxResident: number;
  private readonly tickMs: number;

  constructor(
    private readonly deps: ConsumerDeps,
    options: ConsumerOptions = {},
  ) {
    this.models = new DiscoveryModels(deps.store, deps.keys, deps.parseBatch);
    this.now = deps.now ?? (() => Date.now());
    this.flushAfterMs = options.flushAfterMs ?? 2000;
    this.flushAfterEvents = options.flushAfterEvents ?? 20_000;
    this.maxResident = options.maxResident ?? 64;
    this.tickMs = options.tickMs ?? 250;
  }

  private count(delta: Partial<ConsumerCounters>): void {
    for (const [k, v] of Object.entries(delta) as [keyof ConsumerCounters, number][]) this.counters[k] += v;
    this.deps.onCounters?.(delta);
  }

  /**
   * Runs one term: until `signal` aborts (leadership lost or shutdown). Returns after the last
   * write it started has settled; unwritten observations are simply dropped (the events stay in
   * the store for the next leader), unless `flushOnExit()` says to write them (an orderly hand-over).
   */
  async lead(signal: AbortSignal, options: { flushOnExit?: () => boolean } = {}): Promise<void> {
    this.resident.clear();
    const ticker = setInterval(() => void this.flushDue(signal), this.tickMs);
    try {
      while (!signal.aborted) {
        // The revision first: whatever is written after it comes through the watch.
        const revision = await this.deps.store.currentRevision();
        await this.catchUp(signal);
        if (signal.aborted) break;
        try {
          await this.follow(revision + 1, signal);
        } catch (e) {
          if (!(e instanceof CompactedError)) throw e;
          // The watch fell behind compaction: catch up from the store again.
        }
      }
    } finally {
      clearInterval(ticker);
      if (options.flushOnExit?.()) await this.flushAll();
      await Promise.all([...this.resident.values()].map((r) => r.writing)).catch(() => undefined);
      this.resident.clear();
    }
  }

  /** True while caught up with the store and following its event watch. */
  get following(): boolean {
    return this.watching;
  }

  /** Writes every model with unwritten observations (an orderly hand-over). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.resident.values()].map((r) => this.write(r)));
  }

  /** Hosts whose stored events are ahead of their stored model, each caught up in turn. */
  private async catchUp(signal: AbortSignal): Promise<void> {
    const [cursors, positions] = await Promise.all([this.models.eventCursors(), this.models.positions()]);
    for (const [host, upTo] of cursors) {
      if (signal.aborted) return;
      const known = this.resident.get(host)?.state.lastSeq ?? positions.get(host)?.lastSeq ?? 0;
      if (known >= upTo) continue;
      // Again after a write conflict (the model is reloaded from the other writer's state).
      for (let attempt = 0; attempt < 3 && !signal.aborted; attempt++) {
        const r = await this.residentOf(host);
        await this.consumeStored(r, upTo, signal);
        if (r.pending > 0) await this.write(r);
        if (this.resident.get(host) === r) break;
      }
      this.evict();
    }
  }

  private async follow(fromRevision: number, signal: AbortSignal): Promise<void> {
    const watch = await this.deps.store.watch(this.deps.keys.events(), { fromRevision });
    const close = () => void watch.close();
    signal.addEventListener('abort', close, { once: true });
    // Aborted while the watch was being set up: the listener above will never fire.
    if (signal.aborted) close();
    this.watching = true;
    try {
      for await (const event of watch) {
        if (signal.aborted) return;
        if (event.type !== 'PUT') continue;
        const batch = this.deps.parseBatch(event.key, event.kv.value);
        if (!batch) continue;
        const r = await this.residentOf(batch.host);
        // Stored batches between the model's position and this one come first.
        if (batch.firstSeq > r.state.lastSeq + 1) await this.consumeStored(r, batch.firstSeq - 1, signal);
        await this.observe(r, batch);
        if (r.pending >= this.flushAfterEvents) await this.write(r);
        this.evict();
      }
    } finally {
      this.watching = false;
      signal.removeEventListener('abort', close);
      await watch.close();
    }
  }

  /** Observes the stored batches from the model's position up to sequence number `upTo`. */
  private async consumeStored(r: Resident, upTo: number, signal: AbortSignal): Promise<void> {
    const from = r.state.batchFirst > 0 ? r.state.batchFirst : r.state.lastSeq + 1;
    for await (const batch of this.models.batches(r.state.host, from, upTo)) {
      if (signal.aborted) return;
      await this.observe(r, batch);
      if (r.pending >= this.flushAfterEvents) await this.write(r);
    }
  }

  private async observe(r: Resident, batch: StoredBatch): Promise<void> {
    // A model dropped after a write conflict is reloaded by the next batch; nothing more goes into it.
    if (this.resident.get(r.state.host) !== r) return;
    const resolver = await this.deps.sourceResolver(r.state.host);
    const { observed, gap } = observeBatch(r.state, batch, this.now(), resolver);
    r.lastUsed = Date.now();
    if (observed === 0) return;
    r.pending += observed;
    r.dirtySince ??= Date.now();
    this.count({ observed, ...(gap > 0 ? { gaps: gap } : {}) });
  }

  private async residentOf(host: string): Promise<Resident> {
    let r = this.resident.get(host);
    if (r) return r;
    const state = await this.models.load(host);
    // Another caller may have loaded it while this one waited.
    r = this.resident.get(host);
    if (r) return r;
    if (state.unreadable) {
      this.count({ unreadable: 1 });
      this.deps.onError?.(`stored discovery model unreadable (${state.unreadable}); starting a new one`, undefined, host);
    }
    r = { state, pending: 0, dirtySince: undefined, writing: undefined, lastUsed: Date.now() };
    this.resident.set(host, r);
    return r;
  }

  /** Writes the model if it has unwritten observations; one write per host at a time. */
  private write(r: Resident): Promise<void> {
    if (r.writing) return r.writing;
    if (r.pending === 0 && !r.state.unreadable) return Promise.resolve();
    const pending = r.pending;
    const since = r.dirtySince;
    r.pending = 0;
    r.dirtySince = undefined;
    // save() takes the model's text and position before its first await: later observations
    // stay pending for the next write.
    r.writing = this.models
      .save(r.state, new Date(this.now()))
      .then(() => this.count({ writes: 1 }))
      .catch((e: unknown) => {
        if (e instanceof ConflictError || e instanceof AlreadyExistsError) {
          // Someone else wrote this model: theirs is consistent; continue from it.
          this.count({ conflicts: 1 });
          this.resident.delete(r.state.host);
          return;
        }
        r.pending += pending;
        r.dirtySince = since ?? Date.now();
        this.count({ writeErrors: 1 });
        this.deps.onError?.('writing a discovery model failed; will retry', e, r.state.host);
      })
      .finally(() => {
        r.writing = undefined;
      });
    return r.writing;
  }

  private async flushDue(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const now = Date.now();
    await Promise.all([...this.resident.values()].filter((r) => r.dirtySince !== undefined && now - r.dirtySince >= this.flushAfterMs).map((r) => this.write(r)));
  }

  /** Drops written models beyond `maxResident`, least recently used first. */
  private evict(): void {
    if (this.resident.size <= this.maxResident) return;
    const clean = [...this.resident.values()].filter((r) => r.pending === 0 && !r.writing).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const r of clean) {
      if (this.resident.size <= this.maxResident) break;
      this.resident.delete(r.state.host);
    }
  }
}
