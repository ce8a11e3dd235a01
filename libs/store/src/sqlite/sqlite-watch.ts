import { CompactedError } from '../errors.js';
import type { Watch, WatchEvent, WatchStats } from '../store.js';

/** What a watch needs from the SQLite store. All calls are synchronous and see committed data. */
export interface SqliteEventSource {
  readonly revision: number;
  readonly compactedRevision: number;
  readonly closed: boolean;
  /** Events with revision >= fromRevision whose key is in [start, end), in revision order. */
  readEvents(fromRevision: number, start: Buffer, end: Buffer, limit: number): WatchEvent[];
  /** Resolves at the next commit (or when the store closes). */
  nextChange(): Promise<void>;
  forget(watch: SqliteWatch): void;
}

const PAGE = 512;

/**
 * A cursor over the revision log. It reads the next page only when the consumer has taken the
 * previous one, so a slow consumer simply lags behind (backpressure, nothing buffered beyond one
 * page); if compaction overtakes the cursor, the iterator throws CompactedError.
 */
export class SqliteWatch implements Watch {
  private cursor: number;
  private buffer: WatchEvent[] = [];
  private delivered = 0;
  private closed = false;
  private pendingNext: Promise<unknown> = Promise.resolve();
  /** One iterator per watch: iterating again continues where the last loop stopped. */
  private readonly iterator: AsyncIterator<WatchEvent> = {
    next: () => {
      // Serialise overlapping next() calls so each gets the following event.
      const result = this.pendingNext.then(() => this.next());
      this.pendingNext = result.catch(() => undefined);
      return result;
    },
    return: async () => {
      await this.close();
      return { done: true, value: undefined };
    },
  };
  private wake: () => void = () => undefined;
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly source: SqliteEventSource,
    private readonly start: Buffer,
    private readonly end: Buffer,
    fromRevision: number,
  ) {
    this.cursor = fromRevision;
    this.closedPromise = new Promise((resolve) => (this.wake = resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.iterator;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.buffer = [];
    this.source.forget(this);
    this.wake();
  }

  stats(): WatchStats {
    return { delivered: this.delivered, buffered: this.buffer.length, reconnects: 0 };
  }

  private async next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.closed || this.source.closed) return { done: true, value: undefined };
      const event = this.buffer.shift();
      if (event !== undefined) {
        this.delivered++;
        return { done: false, value: event };
      }
      // Take the change promise before reading so a commit between the read and the wait is not missed.
      const change = this.source.nextChange();
      this.fill();
      if (this.buffer.length === 0) await Promise.race([change, this.closedPromise]);
    }
  }

  private fill(): void {
    const compacted = this.source.compactedRevision;
    if (this.cursor < compacted) {
      void this.close();
      throw new CompactedError(this.cursor, compacted);
    }
    const events = this.source.readEvents(this.cursor, this.start, this.end, PAGE);
    this.buffer = events;
    const last = events[events.length - 1];
    this.cursor = events.length === PAGE && last !== undefined ? last.revision + 1 : Math.max(this.cursor, this.source.revision + 1);
  }
}
