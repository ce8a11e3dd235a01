/**
 * kill -9 a process that is writing to the SQLite store, at arbitrary points, then reopen:
 * the file is intact and every write the killed process saw acknowledged is there.
 * The writer is a real child process running the built library (test/faults/store-sqlite-writer.mjs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type WatchEvent } from '@kvmservice/store';
import { repoRoot } from '../support/conformance.js';

interface Ack {
  readonly op: 'create' | 'update' | 'delete';
  readonly key: string;
  readonly value?: string;
  readonly rev: number;
}

/** Runs the writer until it has acknowledged at least `minAcks` writes plus `extraMs`, then SIGKILLs it. */
async function writeThenKill(file: string, writer: string, minAcks: number, extraMs: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [join(repoRoot, 'test/faults/store-sqlite-writer.mjs'), file, writer], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const acks: Ack[] = [];
  let killTimer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout });
  const drained = new Promise((resolve) => lines.once('close', resolve));
  lines.on('line', (line) => {
    const record = JSON.parse(line) as Ack | { ready: true };
    if ('op' in record) acks.push(record);
    if (acks.length >= minAcks && killTimer === undefined) {
      killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const how = await exited;
  clearTimeout(guard);
  clearTimeout(killTimer);
  expect(how, `writer died on its own:\n${stderr}`).toBe('SIGKILL');
  // Lines already written to the pipe before the kill still arrive.
  await drained;
  return acks;
}

describe('SQLite store survives kill -9 of a writer', () => {
  let dir = '';

  beforeAll(() => {
    // The writer runs as a plain Node process, so it uses the built library: build it now.
    const build = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-b', join(repoRoot, 'libs/store')], {
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`building libs/store failed:\n${build.stdout}${build.stderr}`);
    dir = mkdtempSync(join(tmpdir(), 'kvm-store-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every acknowledged write across repeated kills at arbitrary points', async () => {
    const file = join(dir, 'store.db');
    const everything: Ack[] = [];
    const rounds: Array<[number, number]> = [
      [200, 0],
      [500, 37],
      [1000, 123],
      [300, 251],
    ];
    for (const [index, [minAcks, extraMs]] of rounds.entries()) {
      const acks = await writeThenKill(file, `w${index}`, minAcks, extraMs);
      expect(acks.length).toBeGreaterThanOrEqual(minAcks);
      everything.push(...acks);

      // The file is intact: SQLite's own check, then the store reopens and agrees with every ack.
      const raw = new Database(file, { readonly: true });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      raw.close();

      const store = await openStore(`sqlite:${file}`);
      const revision = await store.currentRevision();
      expect(revision).toBeGreaterThanOrEqual(Math.max(...acks.map((ack) => ack.rev)));

      // The revision log (never compacted here) holds every acknowledged write at its revision.
      const watch = await store.watch('/faults/', { fromRevision: 1 });
      const history = new Map<number, WatchEvent>();
      for await (const event of watch) {
        history.set(event.revision, event);
        if (event.revision >= revision) break;
      }
      for (const ack of everything) {
        const event = history.get(ack.rev);
        expect(event?.key).toBe(ack.key);
        expect(event?.type).toBe(ack.op === 'delete' ? 'DELETE' : 'PUT');
      }
      const deletedLater = (key: string, after: number): boolean =>
        [...history.values()].some((event) => event.key === key && event.type === 'DELETE' && event.revision > after);

      // The current state agrees with the latest acknowledgement of every key.
      const latest = new Map<string, Ack>();
      for (const ack of everything) if ((latest.get(ack.key)?.rev ?? 0) < ack.rev) latest.set(ack.key, ack);
      const missing: string[] = [];
      for (const ack of latest.values()) {
        const kv = await store.get(ack.key);
        if (ack.op === 'delete') {
          if (kv !== undefined) missing.push(`${ack.key} should be deleted at ${ack.rev}`);
        } else if (ack.key === '/faults/counter') {
          // Later updates may have committed after the last line reached us; never fewer.
          if (kv === undefined || Number(kv.value.toString()) < Number(ack.value) || kv.modRevision < ack.rev) {
            missing.push(`${ack.key}: ${kv?.value.toString()} < ${ack.value}`);
          }
        } else if (kv === undefined) {
          // Only a delete that committed just before the kill (its line never arrived) may explain it.
          if (!deletedLater(ack.key, ack.rev)) missing.push(`${ack.key}@${ack.rev}`);
        } else if (kv.value.toString() !== ack.value || kv.modRevision !== ack.rev) {
          missing.push(`${ack.key}@${ack.rev} has ${kv.modRevision}`);
        }
      }
      expect(missing).toEqual([]);

      // And it keeps working.
      const after = await store.put('/faults/after-reopen', String(index));
      expect(after.modRevision).toBe(revision + 1);
      await store.close();
    }
  });
});
