/**
 * Receiving etcd's Maintenance.Snapshot stream into a file.
 *
 * etcd sends the member's bbolt database in chunks, then one last message holding the sha256 of
 * every byte before it. The file keeps that digest at its end, as `etcdctl snapshot save` does, so
 * `etcdctl snapshot restore` can check it; here it is checked on arrival, so a truncated or damaged
 * stream never becomes a snapshot.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { cancelQuietly } from './grpc-streams.js';

/** The part of grpc-js's ClientReadableStream the receiver uses. */
export interface SnapshotStream {
  on(event: 'data', listener: (message: { blob: Buffer }) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  cancel(): void;
}

/** etcd sent nothing for longer than the call deadline: the member is stuck or gone. */
export class SnapshotStalledError extends Error {
  constructor(idleMs: number) {
    super(`etcd sent no snapshot data for ${idleMs} ms`);
    this.name = 'SnapshotStalledError';
  }
}

/** The stream did not end with the sha256 of its bytes. */
export class SnapshotDigestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotDigestError';
  }
}

const DIGEST_BYTES = 32;
/** etcd sends 32 KiB chunks; they are written in batches of this size. */
const WRITE_BATCH_BYTES = 1 << 20;
/** Received but unwritten bytes above which the stream is paused (backpressure towards etcd). */
const MAX_BUFFERED_BYTES = 4 << 20;

/**
 * Writes the stream to `file` (from its current position) and resolves with the bytes written,
 * digest included. Chunks are written in batches, one write at a time; the stream is paused while
 * too much is waiting for the disk, and cancelled when it stalls for `idleTimeoutMs`, when `signal`
 * aborts, or when writing fails.
 */
export function receiveEtcdSnapshot(stream: SnapshotStream, file: FileHandle, idleTimeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let written = 0;
    // The newest chunk is held back until the next one arrives: the last one is the digest.
    let held: Buffer | undefined;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing: Promise<void> | undefined;
    let paused = false;
    let settled = false;
    let idle: NodeJS.Timeout | undefined;

    const finish = (error: unknown, bytes?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(bytes!);
      else {
        cancelQuietly(stream);
        reject(error);
      }
    };
    const onAbort = (): void => finish(signal.reason);
    const armIdle = (): void => {
      clearTimeout(idle);
      // While paused for the disk, the silence is ours, not etcd's.
      idle = paused ? undefined : setTimeout(() => finish(new SnapshotStalledError(idleTimeoutMs)), idleTimeoutMs);
    };
    /** Starts writing what is pending, unless a write is already under way. */
    const flush = (): Promise<void> | undefined => {
      if (writing !== undefined || pendingBytes === 0) return writing;
      const batch = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      writing = file.write(batch).then(
        () => {
          written += batch.length;
          writing = undefined;
          if (pendingBytes >= WRITE_BATCH_BYTES) void flush();
          if (paused && !settled && pendingBytes < MAX_BUFFERED_BYTES) {
            paused = false;
            armIdle();
            stream.resume();
          }
        },
        (error: unknown) => {
          writing = undefined;
          finish(error);
        },
      );
      return writing;
    };

    if (signal.aborted) return finish(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    armIdle();
    stream.on('data', (message) => {
      if (settled) return;
      const previous = held;
      held = message.blob;
      if (previous !== undefined) {
        hash.update(previous);
        pending.push(previous);
        pendingBytes += previous.length;
        if (pendingBytes >= WRITE_BATCH_BYTES) void flush();
        if (pendingBytes >= MAX_BUFFERED_BYTES && !paused) {
          paused = true;
          stream.pause();
        }
      }
      armIdle();
    });
    stream.on('error', (error) => finish(error));
    stream.on('end', () => {
      clearTimeout(idle);
      void (async () => {
        while (!settled && (writing !== undefined || pendingBytes > 0)) await (writing ?? flush());
        if (settled) return;
        if (held === undefined || held.length !== DIGEST_BYTES) {
          throw new SnapshotDigestError(`etcd ended the snapshot stream after ${written + (held?.length ?? 0)} bytes without its sha256`);
        }
        const expected = hash.digest();
        if (!expected.equals(held)) throw new SnapshotDigestError(`the snapshot's sha256 ${held.toString('hex')} does not match its ${written} bytes (${expected.toString('hex')})`);
        await file.write(held);
        finish(undefined, written + held.length);
      })().catch((error: unknown) => finish(error));
    });
  });
}
