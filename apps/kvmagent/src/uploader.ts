/**
 * Uploader: spooled events → PushEvents batches {firstSeq, events, dropped} → acks → spool.ack.
 * A few batches are in flight at once; each stream starts again from the first unacked sequence
 * number, so a lost connection resends what was not acknowledged (the server drops duplicates).
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { AgentServiceClient, PushEventsRequest, PushEventsResponse__Output } from '@kvmservice/api';
import type { Logger } from './log.js';
import type { EventSpool } from './spool.js';

export interface UploaderOptions {
  maxBatchEvents?: number;
  /** Bound of a batch's events as JSON (the server accepts 4 MiB messages). */
  maxBatchBytes?: number;
  maxInFlight?: number;
}

export class Uploader {
  /** Events acknowledged in this process's lifetime. */
  acked = 0;
  batchesSent = 0;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly maxInFlight: number;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly spool: EventSpool,
    private readonly log: Logger,
    options: UploaderOptions = {},
  ) {
    this.maxBatchEvents = options.maxBatchEvents ?? 1000;
    this.maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  /** Everything appended so far is acknowledged. */
  get drained(): boolean {
    return this.spool.ackedUpTo >= this.spool.nextSeq - 1;
  }

  /** Resolves true when drained, false after `timeoutMs`. */
  waitDrained(timeoutMs: number): Promise<boolean> {
    if (this.drained) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  /**
   * Streams until `signal` aborts (resolves) or the stream fails (rejects with the stream's error).
   */
  run(client: AgentServiceClient, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream: ClientDuplexStream<PushEventsRequest, PushEventsResponse__Output> = client.pushEvents();
      const reader = this.spool.reader(this.spool.ackedUpTo + 1);
      const inFlight: number[] = []; // last sequence number of each batch sent
      let finished = false;
      let blocked = false;

      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        this.spool.off('appended', pump);
        signal.removeEventListener('abort', onAbort);
        stream.removeAllListeners('data');
        stream.on('error', () => undefined);
        stream.cancel();
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => finish();

      const pump = (): void => {
        if (finished || blocked) return;
        while (inFlight.length < this.maxInFlight) {
          const batch = reader.next(this.maxBatchEvents, this.maxBatchBytes);
          if (!batch) return;
          inFlight.push(batch.firstSeq + batch.events.length - 1);
          this.batchesSent++;
          const ok = stream.write({ firstSeq: batch.firstSeq, events: batch.events as PushEventsRequest['events'], dropped: this.spool.droppedTotal });
          if (!ok) {
            blocked = true;
            stream.once('drain', () => {
              blocked = false;
              pump();
            });
            return;
          }
        }
      };

      stream.on('data', (ack: PushEventsResponse__Output) => {
        const upTo = Number(ack.ackedUpToSeq);
        if (upTo > this.spool.nextSeq - 1) {
          // The control plane knows sequence numbers this spool never gave: renumber and start again.
          this.spool.rebase(upTo + 1);
          finish(new Error(`the control plane holds events up to ${upTo} for this host, beyond this agent's ${this.spool.nextSeq - 1}; spool renumbered`));
          return;
        }
        const before = this.spool.ackedUpTo;
        this.spool.ack(upTo);
        this.acked += Math.max(0, this.spool.ackedUpTo - before);
        while (inFlight.length > 0 && inFlight[0]! <= upTo) inFlight.shift();
        if (this.drained) {
          const waiters = this.drainWaiters;
          this.drainWaiters = [];
          for (const w of waiters) w();
        }
        pump();
      });
      stream.on('error', (e: Error) => finish(e));
      stream.on('end', () => finish(new Error('the control plane closed the event stream')));
      this.spool.on('appended', pump);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) return finish();
      pump();
    });
  }
}
