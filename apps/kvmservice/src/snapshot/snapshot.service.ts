/**
 * Online backups of the store for ControlService.Snapshot (`kvmctl snapshot save`).
 *
 * The store writes a consistent snapshot to a file in `<data dir>/snapshots/` while the service
 * keeps running; the file is then streamed to the caller in chunks, no faster than the caller
 * reads, and deleted. One snapshot at a time per replica: each needs free space in the data
 * directory for a copy of the store, and two at once would only compete for the disk.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { SnapshotResponse } from '@kvmservice/api';
import type { Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { ApiError } from '../api-error.js';
import type { ServiceConfig } from '../config/service-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CONFIG, LOGGER, STORE } from '../tokens.js';

/** Bytes per SnapshotResponse (well under gRPC's 4 MiB message limit). */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

/** Sends one message and waits while the caller's side is full; rejects once `signal` aborts. */
export type SnapshotSender = (message: SnapshotResponse) => Promise<void>;

/** A sender on a gRPC server stream that honours HTTP/2 flow control (waits for 'drain'). */
export function streamSender(call: ServerWritableStream<unknown, SnapshotResponse>, signal: AbortSignal): SnapshotSender {
  return async (message) => {
    signal.throwIfAborted();
    if (call.write(message)) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        call.off('drain', onDrain);
        reject(signal.reason);
      };
      call.once('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}

@Injectable()
export class SnapshotService {
  private running = false;
  private readonly snapshots: Counter<'result'>;
  private readonly bytesSent: Counter;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CONFIG) private readonly config: ServiceConfig,
    metrics: MetricsService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.snapshots = new Counter({
      name: 'kvmservice_snapshots_total',
      help: 'Store snapshots by result: ok, failed, cancelled (the caller went away), busy (refused while another ran)',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
    this.bytesSent = new Counter({ name: 'kvmservice_snapshot_bytes_total', help: 'Snapshot bytes sent to callers', registers: [metrics.registry] });
  }

  /** Where snapshot files live until they are sent; anything found there belongs to a snapshot that died. */
  get directory(): string {
    return join(this.config.dataDir, 'snapshots');
  }

  /** Takes a snapshot and sends it: first message with the info and the first chunk, then the rest. */
  async stream(send: SnapshotSender, signal: AbortSignal): Promise<void> {
    if (this.running) {
      this.snapshots.inc({ result: 'busy' });
      throw new ApiError('FailedPrecondition', 'another snapshot is being taken on this replica; try again when it has finished');
    }
    this.running = true;
    const started = Date.now();
    let file: string | undefined;
    let result: 'ok' | 'failed' | 'cancelled' = 'failed';
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      // A process killed during a snapshot leaves its file behind: only this replica writes here, one at a time.
      for (const name of await readdir(this.directory)) await rm(join(this.directory, name), { force: true, recursive: true });
      file = join(this.directory, `snapshot-${Date.now()}.${this.store.backend}`);
      const { bytes, revision } = await this.store.snapshot(file, { signal });
      const sent = await this.sendFile(file, { backend: this.store.backend, revision, totalBytes: bytes }, send, signal);
      if (sent !== bytes) throw new Error(`snapshot file ${file}: ${sent} bytes read, ${bytes} written`);
      result = 'ok';
      this.log.info({ backend: this.store.backend, revision, bytes, ms: Date.now() - started }, 'snapshot sent');
    } catch (e) {
      result = signal.aborted ? 'cancelled' : 'failed';
      if (result === 'cancelled') this.log.info({ ms: Date.now() - started }, 'snapshot cancelled by the caller');
      else this.log.warn({ err: e }, 'snapshot failed');
      throw e;
    } finally {
      if (file !== undefined) await rm(file, { force: true });
      this.running = false;
      // Counted last: once the counter moved, the file is gone and the next snapshot may start.
      this.snapshots.inc({ result });
    }
  }

  private async sendFile(file: string, info: { backend: string; revision: number; totalBytes: number }, send: SnapshotSender, signal: AbortSignal): Promise<number> {
    const chunks = createReadStream(file, { highWaterMark: SNAPSHOT_CHUNK_BYTES });
    let sent = 0;
    try {
      for await (const chunk of chunks as AsyncIterable<Buffer>) {
        await send(sent === 0 ? { info, chunk } : { chunk });
        sent += chunk.length;
        this.bytesSent.inc(chunk.length);
      }
      if (sent === 0) await send({ info, chunk: Buffer.alloc(0) });
    } finally {
      chunks.destroy();
    }
    signal.throwIfAborted();
    return sent;
  }
}
