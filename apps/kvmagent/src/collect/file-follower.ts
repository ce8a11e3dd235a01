/**
 * Follows a log file across rotation, like `tail -F`, with a resumable position {ino, offset}.
 *
 * - Wakes on inotify (fs.watch) and checks every `pollMs` for rotation; no busy loop.
 * - Rotation by rename (auditd, logrotate): the old file is read to its end through the open
 *   descriptor, then the new file from its start. Truncation in place (copytruncate): read again
 *   from the start.
 * - Resume: the same inode → from the saved offset; rotated while the agent was down → the rest
 *   of `<path>.1` (when it is that inode), then the new file; no saved position → from the end
 *   (history is not uploaded on first start), or from the start of a file that appears later.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { MAX_LINE_BYTES, type LogSource } from './log-source.js';

export interface FilePosition {
  ino: number;
  offset: number;
}

export function isFilePosition(v: unknown): v is FilePosition {
  return typeof v === 'object' && v !== null && Number.isSafeInteger((v as FilePosition).ino) && Number.isSafeInteger((v as FilePosition).offset) && (v as FilePosition).offset >= 0;
}

export interface FileFollowerOptions {
  pollMs?: number;
  chunkBytes?: number;
  log?: Logger;
}

export class FileFollower implements LogSource {
  readonly key: string;
  readonly kind: 'audit' | 'mixed';
  linesTruncated = 0;
  private handle: FileHandle | undefined;
  private ino = 0;
  private offset = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skippingLongLine = false;
  private sink: ((line: string, position: unknown) => void) | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly pollMs: number;
  private readonly chunk: Buffer;
  private readonly log: Logger | undefined;
  private resume: FilePosition | undefined;
  /** The file did not exist when following started: when it appears, read it whole. */
  private appearedLater = false;

  constructor(
    readonly path: string,
    start: unknown,
    options: FileFollowerOptions = {},
  ) {
    this.key = `file:${path}`;
    this.kind = /(^|\/)audit[^/]*\.log$/.test(path) ? 'audit' : 'mixed';
    this.resume = isFilePosition(start) ? start : undefined;
    this.pollMs = options.pollMs ?? 2000;
    this.chunk = Buffer.allocUnsafe(options.chunkBytes ?? 64 * 1024);
    this.log = options.log;
  }

  get startPosition(): unknown {
    return this.resume ?? null;
  }

  start(sink: (line: string, position: unknown) => void): void {
    this.sink = sink;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.kick();
  }

  /** Reads what is new (coalesced: one pass at a time, another one if woken meanwhile). */
  private kick(): void {
    if (this.stopped && !this.sink) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((e: unknown) => this.log?.warn('log source read failed', { source: this.key, err: e as Error }))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    if (!this.handle && !(await this.openCurrent())) return;
    await this.readToEnd();
    // Rotated or truncated?
    let st;
    try {
      st = await stat(this.path);
    } catch {
      return; // renamed away and not yet re-created: keep the old descriptor
    }
    if (st.ino !== this.ino) {
      await this.readToEnd();
      this.flushPartial();
      await this.handle?.close();
      this.handle = undefined;
      this.log?.info('log file rotated; following the new file', { path: this.path });
      this.appearedLater = true;
      if (await this.openCurrent()) await this.readToEnd();
    } else if (st.size < this.offset) {
      this.log?.warn('log file truncated; reading it from the start', { path: this.path, offset: this.offset, size: st.size });
      this.partial = [];
      this.partialBytes = 0;
      this.offset = 0;
      await this.readToEnd();
    }
  }

  /** Opens the file now at `path` and decides where to start. */
  private async openCurrent(): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (!this.resume) this.appearedLater = true;
        return false;
      }
      throw e;
    }
    const st = await handle.stat();
    this.handle = handle;
    this.ino = st.ino;
    const resume = this.resume;
    this.resume = undefined;
    if (resume && resume.ino === st.ino) this.offset = resume.offset <= st.size ? resume.offset : 0;
    else if (resume) {
      await this.readRotatedRest(resume);
      this.offset = 0;
    } else this.offset = this.appearedLater ? 0 : st.size;
    this.watchFile();
    return true;
  }

  /** After a restart: the file we were reading was rotated to `<path>.1` meanwhile. */
  private async readRotatedRest(resume: FilePosition): Promise<void> {
    const rotated = `${this.path}.1`;
    let handle: FileHandle;
    try {
      handle = await open(rotated, 'r');
    } catch {
      this.log?.warn('log file was replaced while the agent was stopped and the old one is gone; reading the new one from the start', { path: this.path });
      return;
    }
    try {
      const st = await handle.stat();
      if (st.ino !== resume.ino || st.size < resume.offset) return;
      const current = { handle: this.handle, ino: this.ino };
      this.handle = handle;
      this.ino = st.ino;
      this.offset = resume.offset;
      await this.readToEnd();
      this.flushPartial();
      this.handle = current.handle;
      this.ino = current.ino;
      this.log?.info('read the rest of the rotated log file', { path: rotated });
    } finally {
      await handle.close();
    }
  }

  private watchFile(): void {
    this.watcher?.close();
    try {
      this.watcher = watch(this.path, { persistent: false }, () => this.kick());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined; // polling still runs
    }
  }

  private async readToEnd(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    for (;;) {
      const { bytesRead } = await handle.read(this.chunk, 0, this.chunk.length, this.offset);
      if (bytesRead === 0) return;
      this.consume(this.chunk.subarray(0, bytesRead));
      if (this.handle !== handle) return;
    }
  }

  private consume(data: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl === -1) break;
      const piece = data.subarray(start, nl);
      const lineEnd = this.offset + (nl - start) + 1;
      if (this.skippingLongLine) {
        this.skippingLongLine = false;
      } else if (this.partialBytes > 0) {
        this.partial.push(piece);
        this.emit(Buffer.concat(this.partial).toString('utf8'), lineEnd);
        this.partial = [];
        this.partialBytes = 0;
      } else {
        this.emit(piece.toString('utf8'), lineEnd);
      }
      this.offset = lineEnd;
      start = nl + 1;
    }
    const rest = data.subarray(start);
    this.offset += rest.length;
    if (rest.length === 0 || this.skippingLongLine) return;
    this.partial.push(Buffer.from(rest));
    this.partialBytes += rest.length;
    if (this.partialBytes > MAX_LINE_BYTES) {
      // A line without end in sight: deliver its start (the parser reports it too long) and skip the rest.
      this.linesTruncated++;
      this.emit(Buffer.concat(this.partial).subarray(0, MAX_LINE_BYTES).toString('utf8'), this.offset);
      this.partial = [];
      this.partialBytes = 0;
      this.skippingLongLine = true;
    }
  }

  /** A last line without newline, when its file is left behind (rotation, stop at end of a rotated file). */
  private flushPartial(): void {
    if (this.partialBytes === 0) return;
    this.emit(Buffer.concat(this.partial).toString('utf8'), this.offset);
    this.partial = [];
    this.partialBytes = 0;
  }

  private emit(line: string, offsetAfter: number): void {
    this.sink?.(line, { ino: this.ino, offset: offsetAfter } satisfies FilePosition);
  }

  /** The position after the last delivered line (a partial last line is read again on resume). */
  get position(): FilePosition {
    return { ino: this.ino, offset: this.offset - this.partialBytes };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
    // What can be read now is read: a clean stop loses nothing that was written.
    try {
      if (this.handle) await this.readToEnd();
    } catch {
      // the file went away
    }
    this.sink = undefined;
    await this.handle?.close();
    this.handle = undefined;
  }
}
