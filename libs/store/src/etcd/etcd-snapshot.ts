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

/**
 * Writes the stream to `file` (from its current position) and resolves with the bytes written,
 * digest included. The stream is paused while a chunk is written (backpressure towards etcd), and
 * cancelled when it stalls for `idleTimeoutMs`, when `signal` aborts, or when writing fails.
 */
export function receiveEtcdSnapshot(stream: SnapshotStream, file: FileHandle, idleTimeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let written = 0;
    // The newest chunk is held back until the next one arrives: the last one is the digest.
    let held: Buffer | undefined;
    let writing: Promise<void> = Promise.resolve();
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
      idle = setTimeout(() => finish(new SnapshotStalledError(idleTimeoutMs)), idleTimeoutMs);
    };
    const append = async (chunk: Buffer, digest: boolean): Promise<void> => {
      if (!digest) hash.update(chunk);
      await file.write(chunk);
      written += chunk.length;
    };

    if (signal.aborted) return finish(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    armIdle();
    stream.on('data', (message) => {
      if (settled) return;
      armIdle();
      const previous = held;
      held = Buffer.from(message.blob);
      if (previous === undefined) return;
      stream.pause();
      writing = writing.then(() => append(previous, false)).then(
        () => {
          if (!settled) stream.resume();
        },
        (error: unknown) => finish(error),
      );
    });
    stream.on('error', (error) => finish(error));
    stream.on('end', () => {
      clearTimeout(idle);
      void writing.then(async () => {
        if (settled) return;
        if (held === undefined || held.length !== DIGEST_BYTES) {
          throw new SnapshotDigestError(`etcd ended the snapshot stream after ${written + (held?.length ?? 0)} bytes without its sha256`);
        }
        const expected = hash.digest();
        if (!expected.equals(held)) throw new SnapshotDigestError(`the snapshot's sha256 ${held.toString('hex')} does not match its ${written} bytes (${expected.toString('hex')})`);
        await append(held, true);
        finish(undefined, written);
      }).catch((error: unknown) => finish(error));
    });
  });
}
