/**
 * Backup and restore as an operator does it (docs/operations.md §3), on both store backends:
 * `kvmctl snapshot save` against a running kvmservice while policies are being applied with
 * `kvmctl apply`, then a restore — SQLite: the file as the database of a new data directory;
 * etcd: Debian's `etcdctl snapshot restore` into a new etcd — a new kvmservice on it (with the CA
 * kept from the original, as the backup instructions say), and `kvmctl get` showing exactly the
 * policies the snapshot's revision holds: every one acknowledged before the snapshot started, each
 * at its resourceVersion, none after the revision. The restored service keeps the admin token and
 * continues the revision sequence.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kvmctl } from '../../apps/kvmctl/src/testing/run.js';
import { kvmctlConfigPath } from '../../apps/kvmservice/src/auth/admin-bootstrap.service.js';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { startEtcd } from '../support/etcd.js';

const policy = (name: string) => `apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: ${name}
spec:
  nodeSelector:
    matchLabels: {env: prod}
  file:
    matchPaths:
    - path: /etc/${name}
  action: Block
`;

interface Applied {
  name: string;
  at: number;
}

/** `kvmctl apply -f -` of new policies, one at a time from `loops` loops, until stopped. */
function applyLoop(env: Record<string, string>, loops: number): { applied: Applied[]; failures: string[]; stop: () => Promise<void> } {
  const applied: Applied[] = [];
  const failures: string[] = [];
  let running = true;
  const workers = Array.from({ length: loops }, async (_, l) => {
    for (let n = 0; running; n++) {
      const name = `snap-l${l}-${String(n).padStart(4, '0')}`;
      const r = await kvmctl(['apply', '-f', '-'], policy(name), env);
      if (r.code === 0) applied.push({ name, at: Date.now() });
      else failures.push(`${name}: ${r.stderr}`);
    }
  });
  return {
    applied,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** Policy name → resourceVersion, as `kvmctl get hsp -o json` shows them. */
async function policies(env: Record<string, string>, extra: string[] = []): Promise<Map<string, number>> {
  const r = await kvmctl(['get', 'hsp', '-o', 'json', ...extra], '', env);
  expect(r.stderr).toBe('');
  const list = JSON.parse(r.stdout) as { items: { metadata: { name: string; resourceVersion: string } }[] };
  return new Map(list.items.map((item) => [item.metadata.name, Number(item.metadata.resourceVersion)]));
}

interface Saved {
  file: string;
  backend: string;
  revision: number;
  bytes: number;
}

/**
 * The scenario on a running service: filler data (so the snapshot takes a while), an apply loop,
 * `kvmctl snapshot save` in the middle of it, the loop stopped. Returns what the original holds.
 */
async function snapshotUnderApplies(svc: TestService, env: Record<string, string>, file: string) {
  const filler = 'f'.repeat(1000);
  for (let batch = 0; batch < 24; batch++) {
    await svc.store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put' as const, key: `/e2e-filler/${batch}/${i}`, value: filler })));
  }
  const loop = applyLoop(env, 2);
  while (loop.applied.length < 10) await new Promise((resolve) => setTimeout(resolve, 10));
  const started = Date.now();
  const before = loop.applied.map((a) => a.name);
  const saved = await kvmctl(['snapshot', 'save', file, '-o', 'json'], '', env);
  await loop.stop();
  expect(saved.stderr).toBe('');
  expect(saved.code).toBe(0);
  expect(loop.failures).toEqual([]);
  // Applies were acknowledged before the snapshot started and went on after it.
  expect(loop.applied.some((a) => a.at > started)).toBe(true);
  return { saved: JSON.parse(saved.stdout) as Saved, before, original: await policies(env) };
}

/** What the restored service must show: exactly the policies at or below the snapshot's revision. */
async function expectRestored(env: Record<string, string>, server: string, saved: Saved, before: string[], original: Map<string, number>): Promise<void> {
  const restored = await policies(env, ['--server', server]);
  const expected = new Map([...original].filter(([, rv]) => rv <= saved.revision));
  for (const name of before) expect(expected.has(name), `${name} was acknowledged before the snapshot`).toBe(true);
  expect(expected.size).toBeLessThan(original.size); // the loop went on past the snapshot
  expect(new Map([...restored].sort())).toEqual(new Map([...expected].sort()));
  // The restored service continues after the snapshot's revision, with the same admin token.
  const more = await kvmctl(['apply', '-f', '-', '--server', server], policy('after-restore'), env);
  expect(more).toMatchObject({ code: 0, stderr: '' });
  expect((await policies(env, ['--server', server])).get('after-restore')).toBeGreaterThan(saved.revision);
}

/** A data directory for the restored service holding the original's CA (restored with the backup). */
function dataDirWithCa(original: TestService): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmservice-restored-'));
  for (const name of ['ca.crt', 'ca.key']) copyFileSync(join(original.config.tlsDir, name), join(dir, name));
  return dir;
}

describe('kvmctl snapshot save, restore, and a new kvmservice on the restored store', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  it('SQLite: the snapshot is the database file of a new data directory', async () => {
    const svc = await startTestService();
    cleanup.push(() => svc.close());
    const env = { KVMCTL_CONFIG: kvmctlConfigPath(svc.config) };
    const backups = mkdtempSync(join(tmpdir(), 'kvm-backups-'));
    cleanup.push(() => rmSync(backups, { recursive: true, force: true }));
    const { saved, before, original } = await snapshotUnderApplies(svc, env, join(backups, 'kvmservice.db'));
    expect(saved).toMatchObject({ file: join(backups, 'kvmservice.db'), backend: 'sqlite' });
    expect(saved.bytes).toBeGreaterThan(3_000_000);

    // Restore: the service stopped, the file put in place, a service started on it.
    const dataDir = dataDirWithCa(svc);
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    copyFileSync(saved.file, join(dataDir, 'kvmservice.db'));
    const restored = await startTestService({ dataDir });
    cleanup.push(() => restored.close());
    expect(restored.adminToken).toBe(''); // the store already had an admin token: no new kvmctl.yaml
    await expectRestored(env, restored.address, saved, before, original);
  });

  it('etcd: etcdctl snapshot restore into a new etcd, a new kvmservice on it', async () => {
    const etcd = await startEtcd();
    cleanup.push(() => etcd.stop());
    const svc = await startTestService({ store: etcd.storeUrl });
    cleanup.push(() => svc.close());
    const env = { KVMCTL_CONFIG: kvmctlConfigPath(svc.config) };
    const backups = mkdtempSync(join(tmpdir(), 'kvm-backups-'));
    cleanup.push(() => rmSync(backups, { recursive: true, force: true }));
    const { saved, before, original } = await snapshotUnderApplies(svc, env, join(backups, 'kvmservice.etcd'));
    expect(saved).toMatchObject({ file: join(backups, 'kvmservice.etcd'), backend: 'etcd' });

    const restoredEtcd = await startEtcd({ fromSnapshot: saved.file });
    cleanup.push(() => restoredEtcd.stop());
    const dataDir = dataDirWithCa(svc);
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const restored = await startTestService({ store: restoredEtcd.storeUrl, dataDir });
    cleanup.push(() => restored.close());
    await expectRestored(env, restored.address, saved, before, original);
  });
});
