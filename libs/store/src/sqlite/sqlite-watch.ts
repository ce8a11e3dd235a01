import { CompactedError } from '../errors.js';
import type { Watch, WatchEvent, WatchStats } from '../store.js';
import { positionOf, revisionOf } from './sqlite-schema.js';

export interface SqliteEventPage {
  readonly events: WatchEvent[];
  /** The log position after the last event read (undefined when none was). */
  readonly nextPosition: number | undefined;
}

/** What a watch needs from the SQLite store. All calls are synchronous and see committed data. */
export interface SqliteEventSource {
  readonly revision: number;
  readonly compactedRevision: number;
  readonly closed: boolean;
  /** Up to `limit` events at log positions >= fromPosition whose key is in [start, end), in log order. */
  readEvents(fromPosition: number, start: Buffer, end: Buffer, limit: number): SqliteEventPage;
  /** Resolves at the next commit (or when the store closes). */
  nextChange(): Promise<void>;
  forget(watch: SqliteWatch): void;
}

const PAGE = 512;

/**
 * A cursor over the revision log, kept as a log position rather than a revision so that a page
 * boundary inside a multi-key commit resumes at the next key of that commit. It reads the next page only when the consumer has taken the
 * previous one, so a slow consumer simply lags behind (backpressure, nothing buffered beyond one
 * page); if compaction overtakes the cursor, the iterator throws CompactedError.
 */
export class SqliteWatch implements Watch {
  /** Next log position to read. */
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
    this.cursor = positionOf(fromRevision);
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
    if (revisionOf(this.cursor) < compacted) {
      void this.close();
      throw new CompactedError(revisionOf(this.cursor), compacted);
    }
    const page = this.source.readEvents(this.cursor, this.start, this.end, PAGE);
    this.buffer = page.events;
    // A short page read everything committed so far: skip ahead past the current revision.
    this.cursor =
      page.events.length === PAGE && page.nextPosition !== undefined
        ? page.nextPosition
        : Math.max(this.cursor, positionOf(this.source.revision + 1));
  }
}
