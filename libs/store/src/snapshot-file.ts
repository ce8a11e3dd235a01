/**
 * Writing a snapshot file so that a crash or a failure never leaves a partial file under the
 * destination's name: the snapshot goes to a temporary file beside it (same file system, so the
 * rename is atomic), is fsynced, renamed over the destination, and the directory is fsynced so the
 * rename itself survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, StoreUnavailableError } from './errors.js';

/** Checks the destination before any work: its directory exists and it is not a directory itself. */
export async function checkSnapshotDestination(destination: string): Promise<string> {
  if (typeof destination !== 'string' || destination.trim() === '' || destination.includes('\0')) {
    throw new InvalidArgumentError(`snapshot destination ${JSON.stringify(destination)}: must be a file path`);
  }
  const path = resolve(destination);
  const directory = await stat(dirname(path)).catch(() => undefined);
  if (!directory?.isDirectory()) throw new InvalidArgumentError(`snapshot destination ${path}: directory ${dirname(path)} does not exist`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new InvalidArgumentError(`snapshot destination ${path}: is a directory`);
  return path;
}

/** A fresh temporary name beside the destination (hidden, with the writer's pid for whoever finds it). */
export function temporaryPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** fsync `temporary`, rename it to `destination`, fsync the directory. Returns the file's size. */
export async function publishSnapshotFile(temporary: string, destination: string): Promise<number> {
  try {
    const file = await open(temporary, 'r+');
    let size: number;
    try {
      await file.sync();
      size = (await file.stat()).size;
    } finally {
      await file.close();
    }
    await rename(temporary, destination);
    const directory = await open(dirname(destination), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    return size;
  } catch (error) {
    throw new StoreUnavailableError(`snapshot to ${destination}: ${(error as Error).message}`, { cause: error });
  }
}

/** Removes a failed snapshot's temporary file and any companions (SQLite journals). */
export async function removeSnapshotLeftovers(temporary: string, suffixes: readonly string[] = []): Promise<void> {
  await Promise.all(['', ...suffixes].map((suffix) => rm(`${temporary}${suffix}`, { force: true }).catch(() => undefined)));
}
