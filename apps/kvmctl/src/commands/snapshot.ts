import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { SnapshotInfo__Output, SnapshotResponse__Output } from '@kvmservice/api';
import { withSession, type GlobalOptions } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { jsonText, parseOutputFormat } from '../output/printers.js';
import { Progress } from '../output/progress.js';

/** `12.3 MiB` */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The destination, checked before any call: its directory exists and it is not a directory. */
async function destinationOf(file: string, io: CliIo): Promise<string> {
  const path = resolve(io.cwd, file);
  const directory = await stat(dirname(path)).catch(() => undefined);
  if (!directory?.isDirectory()) throw new CliError(`${file}: directory ${dirname(path)} does not exist`);
  if ((await stat(path).catch(() => undefined))?.isDirectory()) throw new CliError(`${file}: is a directory`);
  return path;
}

interface Received {
  info: SnapshotInfo__Output;
  bytes: number;
}

/**
 * Receives the snapshot into `temporary`, then fsyncs it, renames it to `destination` and fsyncs the
 * directory: the destination holds a whole snapshot or is left as it was.
 */
async function receiveSnapshot(globals: GlobalOptions, io: CliIo, temporary: string, destination: string, progress: Progress): Promise<Received> {
  let file: FileHandle | undefined;
  let info: SnapshotInfo__Output | undefined;
  let bytes = 0;
  // --request-timeout bounds each wait for the server (taking the snapshot, then every chunk), not
  // the whole transfer, which grows with the store.
  const idle = new AbortController();
  const stop = io.signal ? AbortSignal.any([io.signal, idle.signal]) : idle.signal;
  let timer: NodeJS.Timeout | undefined;
  try {
    await withSession(globals, io, async (session) => {
      const timeoutMs = session.connection.timeoutMs;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), timeoutMs);
      };
      file = await open(temporary, 'wx', 0o600);
      progress.update('taking the snapshot on the server…', true);
      arm();
      await session.stream(
        (client) => client.snapshot({}),
        async (message: SnapshotResponse__Output) => {
          arm();
          if (info === undefined) {
            if (message.info === null) throw new CliError('the server sent snapshot data before saying what it is (backend, revision, size)');
            info = message.info;
          }
          await file!.write(message.chunk);
          bytes += message.chunk.length;
          const percent = info.totalBytes > 0 ? Math.floor((bytes * 100) / info.totalBytes) : 100;
          progress.update(`receiving the ${info.backend} snapshot: ${formatBytes(bytes)} of ${formatBytes(info.totalBytes)} (${percent}%)`, bytes === info.totalBytes);
        },
        stop,
      );
      if (idle.signal.aborted) {
        throw new CliError(`kvmservice at ${session.connection.address} sent nothing for ${timeoutMs / 1000}s (--request-timeout); ${destination} not written`);
      }
    });
    if (io.signal?.aborted) throw new CliError(`interrupted: ${destination} not written`);
    if (info === undefined) throw new CliError(`the server ended the snapshot without sending it; ${destination} not written`);
    if (bytes !== info.totalBytes) throw new CliError(`the snapshot stream ended after ${bytes} of ${info.totalBytes} bytes; ${destination} not written`);
    await file!.sync();
    await file!.close();
    file = undefined;
    await rename(temporary, destination);
    const directory = await open(dirname(destination), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    return { info, bytes };
  } finally {
    clearTimeout(timer);
    await (file as FileHandle | undefined)?.close().catch(() => undefined);
  }
}

/** `kvmctl snapshot save FILE`: an online backup of the control plane's store. */
export function registerSnapshot(program: Command, io: CliIo): void {
  const snapshot = program
    .command('snapshot')
    .description("Online backups of the control plane's store (SQLite or etcd)")
    .addHelpText(
      'after',
      `
Examples:
  kvmctl snapshot save /backup/kvmservice-$(date +%F).snap

Restore: docs/operations.md (SQLite: stop kvmservice, put the file in place of its database;
etcd: etcdctl snapshot restore on every member of a new cluster).`,
    );

  snapshot
    .command('save')
    .description('Save a consistent snapshot of the store, taken while kvmservice keeps running, to FILE')
    .argument('<file>', 'where to write the snapshot (replaced atomically; the directory must exist)')
    .option('-o, --output <format>', 'text (default) or json: what was saved')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl snapshot save /backup/kvmservice-$(date +%F).snap
  kvmctl snapshot save kvm.snap -o json      # {"file":…,"backend":…,"revision":…,"bytes":…}

The file is what the store's backend restores from: with SQLite, a database file to put in place of
kvmservice.db (with kvmservice stopped); with etcd, a snapshot for \`etcdctl snapshot restore\`
(every installation sharing the cluster is in it). It is written beside FILE and renamed when
complete and synced, so FILE is never left half-written; mode 0600 (it holds hashed credentials).
--request-timeout bounds each wait for the server, not the whole transfer.`,
    )
    .action(async (fileArgument: string, opts: { output?: string }, command: Command) => {
      const format = parseOutputFormat(opts.output, ['text', 'json'] as const, 'text');
      if (fileArgument === '') throw usageError('FILE: must not be empty');
      const destination = await destinationOf(fileArgument, io);
      const temporary = join(dirname(destination), `.${basename(destination)}.${process.pid}-${randomBytes(4).toString('hex')}.part`);
      const progress = new Progress(io);
      let received: Received;
      try {
        received = await receiveSnapshot(command.optsWithGlobals<GlobalOptions>(), io, temporary, destination, progress);
      } catch (e) {
        await rm(temporary, { force: true });
        throw e;
      } finally {
        progress.done();
      }
      const { info, bytes } = received;
      if (format === 'json') io.stdout(jsonText({ file: destination, backend: info.backend, revision: info.revision, bytes }));
      else io.stdout(`snapshot saved to ${destination}: backend ${info.backend}, revision ${info.revision}, ${bytes} bytes (${formatBytes(bytes)})\n`);
    });
}
