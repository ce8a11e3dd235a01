import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { openStore } from '../open-store.js';
import { positionOf } from './sqlite-schema.js';

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
    const old = raw.prepare('SELECT count(*) AS n FROM log WHERE pos < ?').get(positionOf(revision - 10)) as { n: number };
    const recent = raw.prepare('SELECT count(*) AS n FROM log WHERE pos >= ?').get(positionOf(revision - 10)) as { n: number };
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

  it('upgrades a schema-1 file (one log row per revision) in place, keeping history and revisions', async () => {
    const file = join(dir, 'v1.db');
    const v1 = new Database(file);
    v1.exec(`
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE log (rev INTEGER PRIMARY KEY, key BLOB NOT NULL, deleted INTEGER NOT NULL, value BLOB,
                        create_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL, prev_rev INTEGER NOT NULL);
      CREATE INDEX log_key_rev ON log (key, rev);
      CREATE TABLE kv (key BLOB PRIMARY KEY, rev INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX kv_lease ON kv (lease) WHERE lease <> 0;
      CREATE TABLE lease (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      INSERT INTO meta VALUES ('schema', 1), ('compacted', 2);
    `);
    const row = v1.prepare('INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const k = (key: string): Buffer => Buffer.from(key);
    row.run(1, k('/a'), 0, Buffer.from('a1'), 1, 1, 0, 0);
    row.run(2, k('/a'), 0, Buffer.from('a2'), 1, 2, 0, 1);
    row.run(3, k('/b'), 0, Buffer.from('b1'), 3, 1, 0, 0);
    row.run(4, k('/b'), 1, null, 0, 0, 0, 3);
    row.run(5, k('/c'), 0, Buffer.from('c1'), 5, 1, 0, 0);
    v1.prepare('INSERT INTO kv VALUES (?, ?, 0)').run(k('/a'), 2);
    v1.prepare('INSERT INTO kv VALUES (?, ?, 0)').run(k('/c'), 5);
    v1.close();

    const store = await openStore(`sqlite:${file}`);
    expect(await store.currentRevision()).toBe(5);
    expect(await store.get('/a')).toEqual({ key: '/a', value: Buffer.from('a2'), createRevision: 1, modRevision: 2, version: 2, lease: undefined });
    expect((await store.list('/')).items.map((kv) => `${kv.key}@${kv.modRevision}`)).toEqual(['/a@2', '/c@5']);
    const next = await store.commit([
      { type: 'update', key: '/a', value: 'a3', expectRevision: 2 },
      { type: 'delete', key: '/c' },
    ]);
    expect(next.revision).toBe(6);
    const events: string[] = [];
    for await (const event of await store.watch('/', { fromRevision: 2 })) {
      events.push(`${event.revision} ${event.type} ${event.key} prev=${event.prev?.value.toString() ?? '-'}`);
      if (event.key === '/c' && event.revision === 6) break;
    }
    expect(events).toEqual(['2 PUT /a prev=a1', '3 PUT /b prev=-', '4 DELETE /b prev=b1', '5 PUT /c prev=-', '6 PUT /a prev=a2', '6 DELETE /c prev=c1']);
    const tooOld = await store.watch('/', { fromRevision: 1 });
    await expect(tooOld[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'Compacted', compactRevision: 2 });
    await store.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT value FROM meta WHERE name = 'schema'").get()).toEqual({ value: 2 });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
  });

  it('refuses a file of an unknown schema version and leaves it alone', async () => {
    const file = join(dir, 'future.db');
    const future = new Database(file);
    future.exec("CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('schema', 9), ('compacted', 0);");
    future.close();
    const error = await openStore(`sqlite:${file}`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe(`sqlite:${file}: ${file}: store schema version 9, this build understands 1 and 2`);
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT value FROM meta WHERE name = 'schema'").get()).toEqual({ value: 9 });
    raw.close();
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
