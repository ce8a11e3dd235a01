import type { Etcd3, IDuplexStream, IEvent, IKeyValue, IWatchRequest, IWatchResponse } from 'etcd3';
import { CompactedError, StoreError, StoreUnavailableError } from '../errors.js';
import { sleep } from '../retry.js';
import type { KeyValue, Watch, WatchEvent, WatchStats } from '../store.js';
import { isTransientEtcdError } from './etcd-errors.js';
import { cancelQuietly } from './grpc-streams.js';

/** Stop reading from etcd above this many unconsumed events; resume below the low mark. */
const HIGH_WATER = 1024;
const LOW_WATER = 256;

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

function isPausable(stream: object): stream is Pausable {
  return typeof (stream as Partial<Pausable>).pause === 'function' && typeof (stream as Partial<Pausable>).resume === 'function';
}

export function keyValueFromEtcd(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease === '0' || kv.lease === '' ? undefined : String(kv.lease),
  };
}

function eventFromEtcd(event: IEvent): WatchEvent {
  const kv = keyValueFromEtcd(event.kv);
  // proto-loader decodes enums as their proto names (PUT/DELETE), whatever etcd3's typings say.
  const prev = event.prev_kv ? keyValueFromEtcd(event.prev_kv) : undefined;
  return String(event.type).toUpperCase() === 'DELETE'
    ? { type: 'DELETE', key: kv.key, revision: kv.modRevision, prev }
    : { type: 'PUT', key: kv.key, revision: kv.modRevision, kv, prev };
}

class WatchStreamBroken extends Error {}

/** Errors after which opening the watch on another member may succeed. */
export function isRetryableWatchError(error: unknown): boolean {
  return error instanceof WatchStreamBroken || isTransientEtcdError(error);
}

export interface EtcdWatchInit {
  readonly client: Etcd3;
  readonly start: Buffer;
  readonly end: Buffer;
  readonly fromRevision: number;
  /** How long to wait for etcd to confirm a watch before trying another member. */
  readonly createTimeoutMs: number;
  readonly onClose: (watch: EtcdWatch) => void;
}

/**
 * One etcd watch on its own gRPC stream. It remembers the next revision it needs, so after a broken
 * stream it re-creates the watch from there on any member: no gap, no duplicate. Backpressure: above
 * HIGH_WATER buffered events the stream is paused, so gRPC flow control holds etcd back (etcd keeps
 * the history, and reports compaction if the consumer falls behind it).
 */
export class EtcdWatch implements Watch {
  private nextRevision: number;
  private buffer: WatchEvent[] = [];
  private stream: WatchStream | undefined;
  private generation = 0;
  private paused = false;
  private failure: StoreError | undefined;
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
  private delivered = 0;
  private reconnects = 0;
  private reconnecting = false;
  private wake: () => void = () => undefined;

  constructor(private readonly init: EtcdWatchInit) {
    this.nextRevision = init.fromRevision;
  }

  /** Establishes the first stream (the caller retries on transient errors). */
  connect(): Promise<void> {
    return this.openStream();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.iterator;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.buffer = [];
    this.dropStream();
    this.init.onClose(this);
    this.wake();
  }

  stats(): WatchStats {
    return { delivered: this.delivered, buffered: this.buffer.length, reconnects: this.reconnects };
  }

  private async next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      const event = this.buffer.shift();
      if (event !== undefined) {
        this.delivered++;
        if (this.paused && this.buffer.length <= LOW_WATER) this.setPaused(false);
        return { done: false, value: event };
      }
      if (this.failure !== undefined) {
        const failure = this.failure;
        await this.close();
        throw failure;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async openStream(): Promise<void> {
    const generation = ++this.generation;
    const stream = await this.init.client.watchClient.watch();
    if (this.closed || generation !== this.generation) {
      cancelQuietly(stream);
      return;
    }
    this.stream = stream;
    await new Promise<void>((resolve, reject) => {
      let created = false;
      const timer = setTimeout(() => {
        if (created) return;
        this.dropStream();
        reject(new WatchStreamBroken(`etcd did not confirm the watch within ${this.init.createTimeoutMs} ms`));
      }, this.init.createTimeoutMs);
      const broken = (error: Error): void => {
        if (generation !== this.generation) return;
        if (!created) {
          clearTimeout(timer);
          this.dropStream();
          reject(error);
          return;
        }
        this.onBroken();
      };
      stream.on('data', (response) => {
        if (generation !== this.generation || this.closed) return;
        if (!created && response.created) {
          created = true;
          clearTimeout(timer);
          if (response.canceled) {
            const failure = this.cancellation(response);
            this.dropStream();
            if (failure) reject(failure);
            else reject(new WatchStreamBroken(`etcd canceled the watch: ${response.cancel_reason}`));
            return;
          }
          // A new stream flows: pause it again if the consumer is still behind.
          this.paused = false;
          if (this.buffer.length >= HIGH_WATER) this.setPaused(true);
          resolve();
          return;
        }
        this.onResponse(response);
      });
      stream.on('error', (error) => broken(error));
      stream.on('end', () => broken(new WatchStreamBroken('etcd ended the watch stream')));
      stream.write({
        create_request: {
          key: this.init.start,
          range_end: this.init.end,
          start_revision: this.nextRevision,
          prev_kv: true,
          progress_notify: true,
        },
      });
    });
  }

  /** A compaction cancel becomes the watch's failure; other cancels are retried elsewhere. */
  private cancellation(response: IWatchResponse): StoreError | undefined {
    const compactRevision = Number(response.compact_revision);
    if (compactRevision > 0) return new CompactedError(this.nextRevision, compactRevision);
    if (response.cancel_reason.includes('permission denied')) {
      return new StoreUnavailableError(`etcd refused the watch: ${response.cancel_reason}`);
    }
    return undefined;
  }

  private onResponse(response: IWatchResponse): void {
    if (response.canceled || Number(response.compact_revision) > 0) {
      const failure = this.cancellation(response);
      if (failure === undefined) {
        this.onBroken();
        return;
      }
      this.failure = failure;
      this.dropStream();
      this.wake();
      return;
    }
    if (response.events.length === 0) {
      // A progress notification: etcd sends it only to a watcher that has been sent everything up
      // to the header revision, so the resume point may move there.
      this.nextRevision = Math.max(this.nextRevision, Number(response.header.revision) + 1);
      return;
    }
    for (const event of response.events) {
      const mapped = eventFromEtcd(event);
      this.buffer.push(mapped);
      this.nextRevision = mapped.revision + 1;
    }
    if (!this.paused && this.buffer.length >= HIGH_WATER) this.setPaused(true);
    this.wake();
  }

  private onBroken(): void {
    if (this.closed) return;
    this.dropStream();
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let backoff = 50;
    try {
      while (!this.closed && this.failure === undefined) {
        await sleep(Math.random() * backoff);
        if (this.closed) return;
        try {
          await this.openStream();
          this.reconnects++;
          return;
        } catch (error) {
          if (!isRetryableWatchError(error)) {
            this.failure =
              error instanceof StoreError
                ? error
                : new StoreUnavailableError(`etcd watch failed: ${(error as Error).message}`, { cause: error });
            this.wake();
            return;
          }
          backoff = Math.min(2000, backoff * 2);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    const stream = this.stream;
    if (stream !== undefined && isPausable(stream)) {
      if (paused) stream.pause();
      else stream.resume();
    }
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) cancelQuietly(stream);
  }
}
