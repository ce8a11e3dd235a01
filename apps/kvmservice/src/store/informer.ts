/**
 * A local, always-current copy of every key under a prefix (client-go's informer): list once,
 * then follow the watch from the list's revision; on a compaction, relist and report what changed.
 * Handlers see each change once, in revision order.
 */
import { CompactedError, type KeyValue, type Store } from '@kvmservice/store';

export interface InformerChange {
  key: string;
  /** Undefined when the key was created. */
  prev: KeyValue | undefined;
  /** Undefined when the key was deleted. */
  next: KeyValue | undefined;
  revision: number;
}

export type InformerHandler = (change: InformerChange) => void;

export class Informer {
  private readonly items = new Map<string, KeyValue>();
  private readonly handlers = new Set<InformerHandler>();
  private revision = 0;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private synced!: Promise<void>;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Resolves once the first list is loaded. */
  start(): Promise<void> {
    let resolveSynced!: () => void;
    this.synced = new Promise((r) => (resolveSynced = r));
    this.running = this.run(resolveSynced);
    return this.synced;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

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

  private emit(change: InformerChange): void {
    for (const h of this.handlers) {
      try {
        h(change);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  private async relist(): Promise<void> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let revision = 0;
    do {
      const page = await this.store.list(this.prefix, { limit: 1000, ...(cont ? { continue: cont } : {}) });
      revision = page.revision;
      for (const kv of page.items) {
        seen.add(kv.key);
        const prev = this.items.get(kv.key);
        if (!prev || prev.modRevision !== kv.modRevision) {
          this.items.set(kv.key, kv);
          this.emit({ key: kv.key, prev, next: kv, revision: kv.modRevision });
        }
      }
      cont = page.continue;
    } while (cont);
    for (const [key, prev] of [...this.items]) {
      if (!seen.has(key)) {
        this.items.delete(key);
        this.emit({ key, prev, next: undefined, revision });
      }
    }
    this.revision = revision;
  }

  private async run(synced: () => void): Promise<void> {
    let first = true;
    while (!this.abort.signal.aborted) {
      try {
        await this.relist();
        if (first) synced();
        first = false;
        const watch = await this.store.watch(this.prefix, { fromRevision: this.revision + 1 });
        const stop = () => void watch.close();
        this.abort.signal.addEventListener('abort', stop, { once: true });
        try {
          for await (const event of watch) {
            const prev = this.items.get(event.key);
            if (event.type === 'PUT') this.items.set(event.key, event.kv);
            else this.items.delete(event.key);
            this.revision = event.revision;
            this.emit({ key: event.key, prev, next: event.type === 'PUT' ? event.kv : undefined, revision: event.revision });
          }
        } finally {
          this.abort.signal.removeEventListener('abort', stop);
          await watch.close();
        }
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (!(e instanceof CompactedError)) this.onError(e);
        await new Promise((r) => setTimeout(r, e instanceof CompactedError ? 0 : 500));
      }
    }
  }
}
