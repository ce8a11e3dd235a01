/**
 * etcd snapshots end to end on the real Debian etcd: taken while writers run, checked and restored
 * with Debian's `etcdctl` (etcd-client 3.4), restored members started and read back; a member that
 * stops answering (SIGSTOP) hits the call deadline; an abort leaves nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreUnavailableError, type Store } from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { requireTool } from '../support/tools.js';
import { writeLoop, type Acked } from '../support/store-write-loop.js';

function snapshotStatus(file: string): { revision: number; totalKey: number; totalSize: number } {
  const result = spawnSync(requireTool('etcdctl', 'etcd-client'), ['snapshot', 'status', file, '-w', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  if (result.status !== 0) throw new Error(`etcdctl snapshot status: ${result.stderr}`);
  return JSON.parse(result.stdout) as { revision: number; totalKey: number; totalSize: number };
}

describe('etcd snapshot', () => {
  let dir = '';
  let etcd: EtcdCluster | undefined;
  const restoredClusters: EtcdCluster[] = [];
  let store: Store;
  let snapshotFile = '';
  let snapshot: { bytes: number; revision: number };
  let acked: Acked[] = [];
  let ackedBefore = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvm-etcd-snapshot-'));
    etcd = await startEtcd();
    store = await openStore(etcd.storeUrl, { etcd: { callTimeoutMs: 500, retryTimeoutMs: 2000 } });
  });
  afterAll(async () => {
    await store?.close();
    for (const cluster of restoredClusters) await cluster.stop();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is taken while writers run; etcdctl checks it, and it restores into a new member that holds exactly the store at its revision', async () => {
    const filler = 'x'.repeat(1000);
    for (let batch = 0; batch < 24; batch++) {
      await store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put' as const, key: `/fill/${batch}/${i}`, value: `${batch}/${i}/${filler}` })));
    }
    await store.delete('/fill/0/0');
    await store.compact((await store.currentRevision()) - 5);
    const loop = writeLoop(store, 4);
    while (loop.acked.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    ackedBefore = loop.acked.length;
    const revisionBefore = await store.currentRevision();
    snapshotFile = join(dir, 'kvmservice.etcd');
    snapshot = await store.snapshot(snapshotFile);
    await loop.stop();
    acked = loop.acked;
    const finalRevision = await store.currentRevision();

    expect(snapshot.revision).toBeGreaterThanOrEqual(revisionBefore);
    expect(snapshot.revision).toBeLessThanOrEqual(finalRevision);
    expect(acked.slice(0, ackedBefore).every((w) => w.revision <= snapshot.revision)).toBe(true);
    expect(readdirSync(dir)).toEqual(['kvmservice.etcd']);
    // Debian's etcdctl reads it (bbolt size + the trailing sha256) and agrees on the revision.
    const status = snapshotStatus(snapshotFile);
    expect(status.revision).toBe(snapshot.revision);
    expect(snapshot.bytes).toBe(status.totalSize + 32);

    // etcdctl snapshot restore (checks the sha256) into a new data dir; a new member starts on it.
    const restored = await startEtcd({ fromSnapshot: snapshotFile });
    restoredClusters.push(restored);
    const back = await openStore(restored.storeUrl);
    try {
      expect(await back.currentRevision()).toBe(snapshot.revision);
      const loopKeys = new Map((await back.list('/loop/')).items.map((kv) => [kv.key, kv]));
      const expected = acked.filter((w) => w.revision <= snapshot.revision);
      expect(loopKeys.size).toBe(expected.length);
      for (const w of expected) {
        expect(loopKeys.get(w.key)?.value.toString(), w.key).toBe(w.value);
        expect(loopKeys.get(w.key)?.modRevision, w.key).toBe(w.revision);
      }
      const fill = await back.list('/fill/');
      expect(fill.items).toHaveLength(24 * 128 - 1);
      expect(fill.items.some((kv) => kv.key === '/fill/0/0')).toBe(false);
      // The restored member continues from the snapshot's revision.
      expect((await back.put('/after/restore', 'v')).modRevision).toBe(snapshot.revision + 1);
    } finally {
      await back.close();
    }
  });

  it('restores into a new 3-member cluster, one etcdctl restore per member', async () => {
    const restored = await startEtcd({ members: 3, fromSnapshot: snapshotFile });
    restoredClusters.push(restored);
    for (const endpoint of restored.endpoints) {
      const member = await openStore(`etcd://${endpoint}`);
      try {
        expect(await member.currentRevision()).toBe(snapshot.revision);
        const last = acked.filter((w) => w.revision <= snapshot.revision).at(-1)!;
        expect((await member.get(last.key))?.value.toString()).toBe(last.value);
      } finally {
        await member.close();
      }
    }
  });

  it('gives up within the retry budget when the member stops sending, and stops at once on abort; nothing is left behind', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kvm-etcd-snapshot-out-'));
    const member = etcd!.members[0]!;
    process.kill(member.pid!, 'SIGSTOP');
    try {
      const started = Date.now();
      const stalled = await store.snapshot(join(out, 'stalled.etcd')).catch((error: unknown) => error);
      expect(stalled).toBeInstanceOf(StoreUnavailableError);
      expect((stalled as Error).message).toMatch(/^snapshot to .*stalled\.etcd: backend unavailable after \d+ attempt\(s\) in \d+ ms: /);
      expect(Date.now() - started).toBeLessThan(2000 + 500 + 1500);
      expect(readdirSync(out)).toEqual([]);

      const abort = new AbortController();
      const aborted = store.snapshot(join(out, 'aborted.etcd'), { signal: abort.signal });
      setTimeout(() => abort.abort(new Error('operator gave up')), 100);
      await expect(aborted).rejects.toThrow('operator gave up');
      expect(readdirSync(out)).toEqual([]);
    } finally {
      process.kill(member.pid!, 'SIGCONT');
    }
    // The member answers again and the next snapshot works.
    const again = await store.snapshot(join(out, 'again.etcd'));
    expect(again.revision).toBe(await store.currentRevision());
    expect(readdirSync(out)).toEqual(['again.etcd']);
    rmSync(out, { recursive: true, force: true });
  });
});
