/**
 * Follows the output of a long-running command (`journalctl -f -o json`, `dmesg --follow`),
 * restarting it with backoff when it exits. The position is the journal cursor, or the kernel
 * timestamp and boot id for dmesg, so a restarted agent neither repeats nor skips records.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Backoff } from '../backoff.js';
import type { Logger } from '../log.js';
import { MAX_LINE_BYTES, type LogSource } from './log-source.js';

export interface CommandSpec {
  key: string;
  command: string;
  /** Arguments to start from `position` (undefined: from now on). */
  args(position: unknown): string[];
  /** The position after this line, or undefined if it does not move it. */
  positionOf(line: string, previous: unknown): unknown;
  /** A line already delivered before `start` (replayed by the command): skip it. */
  alreadySeen?(line: string, start: unknown): boolean;
}

export class CommandFollower implements LogSource {
  readonly kind = 'mixed' as const;
  linesTruncated = 0;
  private child: ChildProcess | undefined;
  private position: unknown;
  private readonly start0: unknown;
  private partial = '';
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ baseMs: 1000, maxMs: 60_000 });
  private sink: ((line: string, position: unknown) => void) | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly spec: CommandSpec,
    start: unknown,
    private readonly log?: Logger,
  ) {
    this.position = start ?? undefined;
    this.start0 = this.position;
  }

  get key(): string {
    return this.spec.key;
  }

  get startPosition(): unknown {
    return this.start0 ?? null;
  }

  start(sink: (line: string, position: unknown) => void): void {
    this.sink = sink;
    this.launch();
  }

  private launch(): void {
    if (this.stopped) return;
    const resumeFrom = this.position;
    const child = spawn(this.spec.command, this.spec.args(resumeFrom), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const started = Date.now();
    let stderr = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.consume(chunk, resumeFrom));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.log?.warn('log source command could not start', { source: this.key, command: this.spec.command, err: e });
        resolve();
        this.scheduleRestart();
      });
      child.on('close', (code, signal) => {
        resolve();
        if (this.stopped) return;
        if (Date.now() - started > 60_000) this.backoff.reset();
        this.log?.warn('log source command exited; restarting it', { source: this.key, code, signal, stderr: stderr.trim().slice(0, 500) || undefined });
        this.scheduleRestart();
      });
    });
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.launch();
    }, this.backoff.next());
  }

  private consume(chunk: string, resumedFrom: unknown): void {
    let text = this.partial + chunk;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      this.deliver(line, resumedFrom);
      nl = text.indexOf('\n');
    }
    if (text.length > MAX_LINE_BYTES) {
      this.linesTruncated++;
      this.deliver(text.slice(0, MAX_LINE_BYTES), resumedFrom);
      text = '';
    }
    this.partial = text;
  }

  private deliver(line: string, resumedFrom: unknown): void {
    if (resumedFrom !== undefined && this.spec.alreadySeen?.(line, resumedFrom)) return;
    const next = this.spec.positionOf(line, this.position);
    if (next !== undefined) this.position = next;
    this.sink?.(line, this.position ?? null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.sink = undefined;
  }
}

/** `journalctl -f -o json` for audit and kernel records; position: the journal cursor. */
export function journaldSpec(): CommandSpec {
  return {
    key: 'journald',
    command: 'journalctl',
    args: (cursor) => [
      '--follow',
      '--no-pager',
      '--output=json',
      ...(typeof cursor === 'string' && cursor !== '' ? [`--after-cursor=${cursor}`] : ['--lines=0']),
      '_TRANSPORT=audit',
      '+',
      '_TRANSPORT=kernel',
    ],
    positionOf: (line) => /"__CURSOR"\s*:\s*"([^"]+)"/.exec(line)?.[1],
  };
}

export interface DmesgPosition {
  bootId: string;
  /** Kernel timestamp of the last line, seconds since boot as printed. */
  ts: number;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

const KERNEL_TS = /^\[\s*(\d+\.\d+)\]/;

/** `dmesg --follow`; position: boot id and the kernel timestamp of the last line. */
export function dmesgSpec(currentBoot = bootId()): CommandSpec {
  const sameBoot = (p: unknown): p is DmesgPosition => typeof p === 'object' && p !== null && (p as DmesgPosition).bootId === currentBoot && typeof (p as DmesgPosition).ts === 'number';
  return {
    key: 'dmesg',
    command: 'dmesg',
    // Same boot: replay the ring buffer and skip what was seen; otherwise only new messages.
    args: (p) => (sameBoot(p) ? ['--follow', '--nopager'] : ['--follow-new', '--nopager']),
    positionOf: (line) => {
      const m = KERNEL_TS.exec(line);
      return m ? ({ bootId: currentBoot, ts: Number(m[1]) } satisfies DmesgPosition) : undefined;
    },
    alreadySeen: (line, start) => {
      if (!sameBoot(start)) return false;
      const m = KERNEL_TS.exec(line);
      return m !== null && Number(m[1]) <= start.ts;
    },
  };
}
