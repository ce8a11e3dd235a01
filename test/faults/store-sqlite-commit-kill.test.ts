/**
 * kill -9 a process that is committing multi-key transactions to the SQLite store, at arbitrary
 * points, then reopen: every commit is wholly present or wholly absent, and every acknowledged one
 * is there. The writer (test/faults/store-sqlite-commit-writer.mjs, built library) creates pairs of
 * keys together with a counter increment and deletes pairs together, so the invariants are:
 * a pair's keys exist together or not at all, the counter equals the number of pairs ever created,
 * and each revision of the log holds exactly one whole commit.
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
  readonly op: 'pair' | 'unpair';
  /** The pair's key prefix (`…/<writer>/<n>/`). */
  readonly key: string;
  readonly rev: number;
}

const root = '/faults-commit/';
const counter = `${root}counter`;

/** Runs the writer until it has acknowledged at least `minAcks` commits plus `extraMs`, then SIGKILLs it. */
async function commitThenKill(file: string, writer: string, minAcks: number, extraMs: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [join(repoRoot, 'test/faults/store-sqlite-commit-writer.mjs'), file, writer], {
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
    if (acks.length >= minAcks && killTimer === undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), extraMs);
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const how = await exited;
  clearTimeout(guard);
  clearTimeout(killTimer);
  expect(how, `writer died on its own:\n${stderr}`).toBe('SIGKILL');
  await drained;
  return acks;
}

describe('SQLite store keeps multi-key commits whole across kill -9', () => {
  let dir = '';

  beforeAll(() => {
    // The writer runs as a plain Node process, so it uses the built library: build it now.
    const build = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-b', join(repoRoot, 'libs/store')], {
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`building libs/store failed:\n${build.stdout}${build.stderr}`);
    dir = mkdtempSync(join(tmpdir(), 'kvm-store-commit-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves every commit wholly present or wholly absent, and every acknowledged one present', async () => {
    const file = join(dir, 'store.db');
    const everything: Ack[] = [];
    const rounds: Array<[number, number]> = [
      [100, 0],
      [300, 29],
      [600, 113],
      [200, 307],
    ];
    for (const [index, [minAcks, extraMs]] of rounds.entries()) {
      const acks = await commitThenKill(file, `w${index}`, minAcks, extraMs);
      expect(acks.length).toBeGreaterThanOrEqual(minAcks);
      everything.push(...acks);

      const raw = new Database(file, { readonly: true });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      raw.close();

      const store = await openStore(`sqlite:${file}`);
      const revision = await store.currentRevision();
      expect(revision).toBeGreaterThanOrEqual(Math.max(...acks.map((ack) => ack.rev)));

      // The whole log (never compacted here), grouped by revision: each revision is one whole commit.
      const byRevision = new Map<number, WatchEvent[]>();
      const watch = await store.watch(root, { fromRevision: 1 });
      const history = watch[Symbol.asyncIterator]();
      for (;;) {
        // Nothing else writes: once the newest revision was seen, the rest of its commit follows at once.
        const quiet = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), byRevision.has(revision) ? 200 : 10_000));
        const next = await Promise.race([history.next(), quiet]);
        if (next === undefined || next.done) break;
        const event = next.value;
        byRevision.set(event.revision, [...(byRevision.get(event.revision) ?? []), event]);
      }
      await watch.close();
      expect(byRevision.has(revision)).toBe(true);
      const shapes = new Map<string, number>();
      let pairsCreated = 0;
      for (const events of byRevision.values()) {
        const shape = events.map((event) => `${event.type} ${event.key.endsWith('/counter') ? 'counter' : event.key.slice(-1)}`).join(', ');
        shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
        if (events.length === 3) {
          pairsCreated++;
          expect(events[0]!.key.slice(0, -1)).toBe(events[1]!.key.slice(0, -1));
        }
        if (events.length === 2) expect(events[0]!.key.slice(0, -1)).toBe(events[1]!.key.slice(0, -1));
      }
      // Only whole commits (and the counter's creation by the first writer) are in the log.
      expect([...shapes.keys()].sort()).toEqual(['DELETE a, DELETE b', 'PUT a, PUT b, PUT counter', 'PUT counter']);
      expect(shapes.get('PUT counter')).toBe(1);

      // Every acknowledged commit is in the log at its revision.
      for (const ack of everything) {
        const events = byRevision.get(ack.rev) ?? [];
        expect(events.map((event) => event.key), `${ack.op} ${ack.key}@${ack.rev}`).toEqual(
          ack.op === 'pair' ? [`${ack.key}a`, `${ack.key}b`, counter] : [`${ack.key}a`, `${ack.key}b`],
        );
      }

      // The current state: pairs exist whole or not at all, and the counter counts every pair.
      const live = (await store.list(root)).items;
      const halves = new Map<string, number[]>();
      for (const kv of live) {
        if (kv.key === counter) continue;
        halves.set(kv.key.slice(0, -1), [...(halves.get(kv.key.slice(0, -1)) ?? []), kv.modRevision]);
      }
      const broken = [...halves].filter(([, revisions]) => revisions.length !== 2 || revisions[0] !== revisions[1]);
      expect(broken).toEqual([]);
      expect(Number((await store.get(counter))!.value.toString())).toBe(pairsCreated);
      const unpaired = new Set(everything.filter((ack) => ack.op === 'unpair').map((ack) => ack.key));
      const deletedInLog = new Set(
        [...byRevision.values()].filter((events) => events[0]!.type === 'DELETE').map((events) => events[0]!.key.slice(0, -1)),
      );
      for (const ack of everything) {
        if (ack.op === 'unpair') expect(halves.has(ack.key), `${ack.key} unpaired`).toBe(false);
        else if (halves.has(ack.key)) expect(halves.get(ack.key)).toEqual([ack.rev, ack.rev]);
        // Gone without an acknowledged unpair: only an unpair committed just before the kill explains it.
        else if (!unpaired.has(ack.key)) expect(deletedInLog.has(ack.key), `${ack.key} lost`).toBe(true);
      }
      console.log(`round ${index}: ${acks.length} acknowledged commits, revision ${revision}, ${pairsCreated} pairs, ${halves.size} live`);

      // And it keeps committing.
      const after = await store.commit([
        { type: 'put', key: `/faults-commit-after/${index}/a`, value: 'x' },
        { type: 'put', key: `/faults-commit-after/${index}/b`, value: 'x' },
      ]);
      expect(after.revision).toBe(revision + 1);
      await store.close();
    }
  });
});
