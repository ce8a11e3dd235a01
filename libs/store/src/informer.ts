/**
 * A local, always-current copy of every key under a prefix (client-go's informer): list once, then
 * follow a watch. When the watch's history is compacted away, list again and report what changed
 * across the gap; while the store is unavailable, retry with backoff. Handlers see each change once,
 * in revision order.
 */
import { CompactedError, InvalidArgumentError, StoreUnavailableError } from './errors.js';
import type { KeyValue, Store, WatchEvent } from './store.js';

export interface InformerChange {
  readonly key: string;
  /** The key before the change; undefined when it was created. */
  readonly prev: KeyValue | undefined;
  /** The key after the change; undefined when it was deleted. */
  readonly next: KeyValue | undefined;
  /**
   * Revision of the change. Changes found by a relist carry the key's mod revision, deletions found
   * by a relist the list's revision (the deletion happened at or before it).
   */
  readonly revision: number;
}

export type InformerHandler = (change: InformerChange) => void;

export interface InformerOptions {
  /** Keys per list page (default 500). */
  readonly pageSize?: number;
  /** First wait before retrying an unavailable store (default 100 ms); doubles up to maxBackoffMs. */
  readonly initialBackoffMs?: number;
  /** Longest wait between retries (default 10 000 ms). */
  readonly maxBackoffMs?: number;
}

export interface InformerStats {
  /** Lists of the whole prefix: the first one, and one after each compaction that overtook the watch. */
  readonly lists: number;
  /** Failed attempts (each was reported to onError) that were retried after a backoff. */
  readonly retries: number;
}

export class Informer {
  private readonly items = new Map<string, KeyValue>();
  private readonly handlers = new Set<InformerHandler>();
  private readonly abort = new AbortController();
  private readonly pageSize: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private revision = 0;
  private lists = 0;
  private retries = 0;
  private started: Promise<void> | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
    private readonly onError: (error: unknown) => void = () => undefined,
    options: InformerOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  /**
   * Starts listing and watching; resolves once the first list is loaded (handlers registered before
   * see every existing key as created). Rejects if the prefix is invalid, or if stop() comes first.
   */
  start(): Promise<void> {
    this.started ??= new Promise<void>((resolve, reject) => {
      this.running = this.run(resolve, reject);
    });
    return this.started;
  }

  /** Stops watching and waits until the informer is idle. The copy stays readable. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** Calls `handler` with every change from now on; returns the function that unsubscribes it. */
  on(handler: InformerHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  get(key: string): KeyValue | undefined {
    return this.items.get(key);
  }

  values(): IterableIterator<KeyValue> {
    return this.items.values();
  }

  /** Revision up to which the copy is current. */
  get currentRevision(): number {
    return this.revision;
  }

  stats(): InformerStats {
    return { lists: this.lists, retries: this.retries };
  }

  private emit(change: InformerChange): void {
    for (const handler of this.handlers) {
      try {
        handler(change);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private async run(synced: () => void, failed: (error: unknown) => void): Promise<void> {
    const signal = this.abort.signal;
    let listed = false;
    let needList = true;
    let backoff = this.initialBackoffMs;
    let compactionsInARow = 0;
    let listedAt = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          listedAt = Date.now();
          backoff = this.initialBackoffMs;
          needList = false;
          if (!listed) synced();
          listed = true;
        }
        await this.follow(() => {
          backoff = this.initialBackoffMs;
          compactionsInARow = 0;
        });
        // The watch ended without an error (the store is closing): try again after a pause.
        if (!signal.aborted) await this.pause(backoff);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof InvalidArgumentError) {
          // A bad prefix: retrying cannot help.
          this.onError(error);
          failed(error);
          return;
        }
        if (error instanceof CompactedError) {
          // History is gone: relist at once, and back off only if compaction keeps overtaking us.
          needList = true;
          if (Date.now() - listedAt > this.maxBackoffMs) compactionsInARow = 0;
          if (++compactionsInARow === 1) continue;
        } else {
          this.onError(error);
        }
        this.retries++;
        await this.pause(backoff);
        backoff = Math.min(this.maxBackoffMs, backoff * 2);
      }
    }
    if (!listed) failed(new StoreUnavailableError(`informer ${this.prefix}: stopped before its first list`));
  }

  /** Waits `ms` with ±50 % jitter (so replicas do not retry in step), or until stop(). */
  private pause(ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms * (0.5 + Math.random()));
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Lists the prefix (all pages are one snapshot) and reports the difference to the copy: keys whose
   * mod revision changed or that appeared, in revision order, then keys that disappeared.
   */
  private async relist(): Promise<void> {
    const listed = new Map<string, KeyValue>();
    let page = await this.store.list(this.prefix, { limit: this.pageSize });
    const revision = page.revision;
    for (;;) {
      for (const kv of page.items) listed.set(kv.key, kv);
      if (page.continue === undefined || this.abort.signal.aborted) break;
      page = await this.store.list(this.prefix, { limit: this.pageSize, continue: page.continue });
    }
    if (this.abort.signal.aborted) return;
    this.lists++;
    const changes: InformerChange[] = [];
    for (const [key, next] of listed) {
      const prev = this.items.get(key);
      if (prev === undefined || prev.modRevision !== next.modRevision) changes.push({ key, prev, next, revision: next.modRevision });
    }
    changes.sort((a, b) => a.revision - b.revision);
    for (const [key, prev] of this.items) {
      if (!listed.has(key)) changes.push({ key, prev, next: undefined, revision });
    }
    for (const change of changes) this.apply(change);
    this.revision = Math.max(this.revision, revision);
  }

  /**
   * Follows a watch from the copy's revision. The watch starts at that revision inclusive and events
   * the copy already reflects are skipped, so an interruption inside a multi-key commit (whose events
   * share one revision) loses nothing.
   */
  private async follow(progress: () => void): Promise<void> {
    const watch = await this.store.watch(this.prefix, { fromRevision: Math.max(1, this.revision) });
    const close = (): void => void watch.close();
    this.abort.signal.addEventListener('abort', close, { once: true });
    try {
      for await (const event of watch) {
        const change = this.changeOf(event);
        if (change !== undefined) this.apply(change);
        progress();
      }
    } finally {
      this.abort.signal.removeEventListener('abort', close);
      await watch.close();
    }
  }

  /** The change an event makes to the copy, or undefined if the copy already reflects it. */
  private changeOf(event: WatchEvent): InformerChange | undefined {
    const prev = this.items.get(event.key);
    if (event.type === 'PUT') {
      if (prev !== undefined && prev.modRevision >= event.revision) return undefined;
      return { key: event.key, prev, next: event.kv, revision: event.revision };
    }
    if (prev === undefined || prev.modRevision > event.revision) return undefined;
    return { key: event.key, prev, next: undefined, revision: event.revision };
  }

  private apply(change: InformerChange): void {
    if (change.next === undefined) this.items.delete(change.key);
    else this.items.set(change.key, change.next);
    this.revision = Math.max(this.revision, change.revision);
    this.emit(change);
  }
}
