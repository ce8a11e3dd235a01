/**
 * The agent's state directory: layout, atomic writes, reads that tell "missing" from "corrupt",
 * moving corrupt files aside, and the lock that keeps two agents off one directory.
 *
 *   agent.pid            pid of the running agent (lock)
 *   credential.json      host credential (0600)
 *   ca.crt               CA certificate received at join
 *   desired.json         last desired state received from the control plane
 *   applied.json         result of the last reconcile
 *   status.json          counters and connection, refreshed with every heartbeat
 *   apparmor/            profiles and compiled output (dry-run / no LSM), loader staging
 *   selinux/             modules as received; store/ = private policy store for dry runs
 *   cilium/              Cilium host policies as received (no Cilium agent enforces them)
 *   audit-rules.txt      Linux-audit rules installed for visibility (or computed, in dry-run)
 *   spool/               event spool (segments, meta.json, positions.json)
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class StateDirError extends Error {}

export type JsonRead<T> = { kind: 'missing' } | { kind: 'ok'; value: T } | { kind: 'corrupt'; reason: string };

export class StateDir {
  constructor(readonly root: string) {}

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  get desiredFile(): string {
    return this.path('desired.json');
  }
  get appliedFile(): string {
    return this.path('applied.json');
  }
  get statusFile(): string {
    return this.path('status.json');
  }
  get caFile(): string {
    return this.path('ca.crt');
  }
  get spoolDir(): string {
    return this.path('spool');
  }

  /** Creates the directory (0700: it holds the credential). */
  ensure(): void {
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new StateDirError(`state dir ${this.root}: ${(e as Error).message}`);
    }
  }

  /**
   * Takes the directory for this process. Another live agent holding it is an error; a pid file
   * left by a process that is gone is taken over.
   */
  lock(pid = process.pid): () => void {
    const file = this.path('agent.pid');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o644);
        writeSync(fd, `${pid}\n`);
        closeSync(fd);
        return () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(pid)) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateDirError(`state dir ${this.root}: ${(e as Error).message}`);
        const holder = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(holder) && holder > 0 && holder !== pid && isAgentProcess(holder)) {
          throw new StateDirError(`state dir ${this.root} is in use by another kvmagent (pid ${holder})`);
        }
        rmSync(file, { force: true });
      }
    }
    throw new StateDirError(`state dir ${this.root}: could not take ${file}`);
  }
}

function isAgentProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kvmagent');
  } catch {
    return true;
  }
}

/** Writes a file so that readers see the old or the new content, never a mix, even after a crash. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`, mode);
}

/** Reads a JSON file; `check` returns why a parsed value is not what it should be. Never throws. */
export function readJsonFile<T>(path: string, check: (value: unknown) => string | undefined): JsonRead<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (e as Error).message };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { kind: 'corrupt', reason: text.trim() === '' ? 'the file is empty' : `not valid JSON (${(e as Error).message})` };
  }
  const problem = check(value);
  return problem ? { kind: 'corrupt', reason: problem } : { kind: 'ok', value: value as T };
}

/** Moves a corrupt file aside (kept for inspection); returns where it went. */
export function quarantine(path: string, now = new Date()): string {
  const target = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, target);
  } catch {
    rmSync(path, { force: true });
  }
  return target;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes a file only when it does not hold `content` already. */
export function writeIfChanged(path: string, content: string, mode = 0o644): boolean {
  try {
    if (readFileSync(path, 'utf8') === content) return false;
  } catch {
    // missing
  }
  writeFileAtomic(path, content, mode);
  return true;
}
