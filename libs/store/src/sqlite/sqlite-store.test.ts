import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { openStore } from '../open-store.js';

describe('SQLite store specifics', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvm-sqlite-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the directory, and lets only one owner open the file', async () => {
    const file = join(dir, 'nested', 'deeper', 'store.db');
    const owner = await openStore(`sqlite:${file}`, { sqlite: { lockTimeoutMs: 100 } });
    await owner.put('/k', 'v');
    const second = await openStore(`sqlite:${file}`, { sqlite: { lockTimeoutMs: 100 } }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(StoreUnavailableError);
    expect((second as Error).message).toBe(`sqlite:${file}: in use by another process (the file is locked)`);
    await owner.close();
    const next = await openStore(`sqlite:${file}`);
    expect((await next.get('/k'))?.value.toString()).toBe('v');
    await next.close();
  });

  it('commits concurrent writes together, each with its own consecutive revision', async () => {
    const store = await openStore('sqlite::memory:');
    const start = await store.currentRevision();
    const written = await Promise.all(Array.from({ length: 300 }, (_, i) => store.put(`/batch/${i}`, String(i))));
    expect(written.map((kv) => kv.modRevision).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => start + i + 1));
    expect(await store.currentRevision()).toBe(start + 300);
    await store.close();
  });

  it('commits writes accepted before close, and refuses new ones after', async () => {
    const file = join(dir, 'store.db');
    const store = await openStore(`sqlite:${file}`);
    const pending = store.put('/last', 'words');
    await store.close();
    expect((await pending).modRevision).toBe(1);
    await expect(store.get('/last')).rejects.toBeInstanceOf(StoreUnavailableError);
    const reopened = await openStore(`sqlite:${file}`);
    expect((await reopened.get('/last'))?.value.toString()).toBe('words');
    await reopened.close();
  });

  it('keeps revision and compaction point across restarts, and compaction removes superseded history', async () => {
    const file = join(dir, 'store.db');
    let store = await openStore(`sqlite:${file}`, { sqlite: { compactionBatchRevisions: 7 } });
    for (let i = 0; i < 50; i++) await store.put(`/c/${i % 5}`, `v${i}`);
    await store.delete('/c/4');
    const revision = await store.currentRevision();
    await store.compact(revision - 10);
    await store.close();

    // Rows older than the compaction point survive only as the latest version of a live key.
    const raw = new Database(file, { readonly: true });
    const old = raw.prepare('SELECT count(*) AS n FROM log WHERE rev < ?').get(revision - 10) as { n: number };
    const recent = raw.prepare('SELECT count(*) AS n FROM log WHERE rev >= ?').get(revision - 10) as { n: number };
    raw.close();
    expect(old.n).toBe(4); // the latest version of /c/1../c/3 and /c/4 before its last writes
    expect(recent.n).toBe(11);

    store = await openStore(`sqlite:${file}`);
    expect(await store.currentRevision()).toBe(revision);
    const tooOld = await store.watch('/c/', { fromRevision: revision - 11 });
    await expect(tooOld[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'Compacted', compactRevision: revision - 10 });
    expect((await store.list('/c/')).items.map((kv) => kv.value.toString())).toEqual(['v45', 'v46', 'v47', 'v48']);
    await store.close();
  });

  it('expires a lease left behind by a previous process once its deadline passes', async () => {
    const file = join(dir, 'store.db');
    let store = await openStore(`sqlite:${file}`);
    const lease = await store.lease(1, { keepAlive: false });
    await store.put('/presence/agent-1', 'up', { lease });
    await store.close();
    store = await openStore(`sqlite:${file}`, { sqlite: { leaseSweepIntervalMs: 50 } });
    const watch = await store.watch('/presence/', { fromRevision: 1 });
    const seen: string[] = [];
    for await (const event of watch) {
      seen.push(`${event.type} ${event.key}`);
      if (event.type === 'DELETE') break;
    }
    expect(seen).toEqual(['PUT /presence/agent-1', 'DELETE /presence/agent-1']);
    expect(await store.get('/presence/agent-1')).toBeUndefined();
    await store.close();
  });
});
