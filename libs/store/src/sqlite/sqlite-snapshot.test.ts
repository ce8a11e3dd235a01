import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, StoreUnavailableError } from '../errors.js';
import { openStore } from '../open-store.js';
import { writeLoop } from '../../../../test/support/store-write-loop.js';

describe('SQLite snapshot', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvm-sqlite-snapshot-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('taken during a write loop, holds exactly the store at its revision and restores as a store that continues from it', async () => {
    const file = join(dir, 'live', 'kvmservice.db');
    const store = await openStore(`sqlite:${file}`);
    // ~24 MiB of history, so the backup takes many steps with writes in between.
    const filler = 'x'.repeat(1000);
    for (let batch = 0; batch < 190; batch++) {
      await store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put' as const, key: `/fill/${batch}/${i}`, value: `${batch}/${i}/${filler}` })));
    }
    await store.delete('/fill/0/0');
    const loop = writeLoop(store, 4);
    while (loop.acked.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    const ackedBefore = loop.acked.length;
    const revisionBefore = await store.currentRevision();
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    const destination = join(backups, 'snap.db');
    const result = await store.snapshot(destination);
    const ackedDuring = loop.acked.length - ackedBefore;
    await loop.stop();
    const finalRevision = await store.currentRevision();
    await store.close();

    // Writes went on while the backup ran, and the snapshot is of a point after it began.
    expect(ackedDuring).toBeGreaterThan(0);
    expect(result.revision).toBeGreaterThanOrEqual(revisionBefore);
    expect(result.revision).toBeLessThanOrEqual(finalRevision);
    expect(readdirSync(backups)).toEqual(['snap.db']);
    const raw = new Database(destination, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();

    // Restore = put the file in place of a store's file and open it.
    const restoredFile = join(dir, 'restored', 'kvmservice.db');
    mkdirSync(join(dir, 'restored'));
    copyFileSync(destination, restoredFile);
    const restored = await openStore(`sqlite:${restoredFile}`);
    expect(await restored.currentRevision()).toBe(result.revision);
    // Every acknowledged write at or below the snapshot revision is there with its revision; none after it.
    expect(loop.acked.slice(0, ackedBefore).every((w) => w.revision <= result.revision)).toBe(true);
    const loopKeys = new Map((await restored.list('/loop/')).items.map((kv) => [kv.key, kv]));
    const expected = loop.acked.filter((w) => w.revision <= result.revision);
    expect(loopKeys.size).toBe(expected.length);
    for (const w of expected) {
      const kv = loopKeys.get(w.key);
      expect(kv?.value.toString(), w.key).toBe(w.value);
      expect(kv?.modRevision, w.key).toBe(w.revision);
    }
    expect((await restored.list('/fill/', { limit: 1 })).items[0]?.key).toBe('/fill/0/1');
    // History came along: a watch replays the loop's writes up to the snapshot revision in order.
    const watch = await restored.watch('/loop/', { fromRevision: expected[0]!.revision });
    const replayed: number[] = [];
    for await (const event of watch) {
      replayed.push(event.revision);
      if (replayed.length === expected.length) break;
    }
    expect(replayed).toEqual(expected.map((w) => w.revision).sort((a, b) => a - b));
    // The restored store continues from the snapshot's revision.
    expect((await restored.put('/after/restore', 'v')).modRevision).toBe(result.revision + 1);
    await restored.close();
  });

  it('copies an in-memory store, and refuses a destination whose directory is missing', async () => {
    const store = await openStore('sqlite::memory:');
    await store.put('/a', '1');
    const kv = await store.put('/b', '2');
    const destination = join(dir, 'memory.db');
    expect(await store.snapshot(destination)).toMatchObject({ revision: kv.modRevision });
    const missing = store.snapshot(join(dir, 'nowhere', 'x.db'));
    await expect(missing).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(missing).rejects.toThrow(`snapshot destination ${join(dir, 'nowhere', 'x.db')}: directory ${join(dir, 'nowhere')} does not exist`);
    await expect(store.snapshot(dir)).rejects.toThrow(`snapshot destination ${dir}: is a directory`);
    await store.close();
    const restored = await openStore(`sqlite:${destination}`);
    expect((await restored.list('/')).items.map((item) => item.value.toString())).toEqual(['1', '2']);
    await restored.close();
  });

  it('leaves nothing behind when aborted, and stops when the store closes', async () => {
    const store = await openStore(`sqlite:${join(dir, 'live.db')}`, { sqlite: { durability: 'normal' } });
    const filler = 'y'.repeat(1000);
    for (let batch = 0; batch < 80; batch++) {
      await store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put' as const, key: `/f/${batch}/${i}`, value: filler })));
    }
    const out = join(dir, 'out');
    mkdirSync(out);
    // The backup copies 1 MiB per event-loop turn: wait until its temporary file exists, then stop it.
    const started = async (): Promise<void> => {
      while (readdirSync(out).length === 0) await new Promise((resolve) => setImmediate(resolve));
    };
    const abort = new AbortController();
    const aborted = store.snapshot(join(out, 'a.db'), { signal: abort.signal });
    await started();
    abort.abort(new Error('operator gave up'));
    await expect(aborted).rejects.toThrow('operator gave up');
    expect(readdirSync(out)).toEqual([]);

    const closing = store.snapshot(join(out, 'b.db'));
    await started();
    await store.close();
    await expect(closing).rejects.toThrow(new StoreUnavailableError('store closed during the snapshot'));
    expect(readdirSync(out)).toEqual([]);
    await expect(store.snapshot(join(out, 'c.db'))).rejects.toThrow('store closed');
  });
});
