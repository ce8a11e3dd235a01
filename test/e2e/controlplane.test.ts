/**
 * The control plane with real agents' protocol over real gRPC (TLS, loopback), on SQLite and on a
 * real etcd: policies reach hosts by label intersection, before and after they join, follow label
 * changes and deletions, and survive a restart of kvmservice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary, type ControlServiceClient } from '@kvmservice/api';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { TestAgentSession, joinHost } from '../../apps/kvmservice/src/testing/test-agent.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

const policy = (name: string, labels: Record<string, string>, path = '/etc/shadow') => ({
  apiVersion: 'security.kubearmor.com/v1',
  kind: 'KubeArmorHostPolicy',
  metadata: { name },
  spec: { nodeSelector: { matchLabels: labels }, file: { matchPaths: [{ path }] }, action: 'Block' },
});

async function apply(control: ControlServiceClient, ...objects: unknown[]) {
  return unary(control.apply.bind(control), { objects: objects.map((o) => JSON.stringify(o)) });
}

async function token(control: ControlServiceClient, hostname: string, labels: Record<string, string> = {}) {
  return (await unary(control.createToken.bind(control), { hostname, labels, ttlSeconds: 600 })).secret;
}

async function getHost(control: ControlServiceClient, name: string) {
  return JSON.parse((await unary(control.get.bind(control), { kind: 'kvm', name })).object);
}

const backends: { name: string; setup: () => Promise<{ storeUrl: string; stop: () => Promise<void> }> }[] = [
  { name: 'SQLite', setup: async () => ({ storeUrl: '', stop: async () => undefined }) },
  {
    name: 'etcd',
    setup: async () => {
      const etcd: EtcdCluster = await startEtcd({ members: 1 });
      return { storeUrl: etcd.storeUrl, stop: () => etcd.stop() };
    },
  },
];

describe.each(backends)('control plane on $name', ({ setup }) => {
  let backend: { storeUrl: string; stop: () => Promise<void> };
  let svc: TestService;
  const sessions: TestAgentSession[] = [];

  beforeAll(async () => {
    backend = await setup();
    svc = await startTestService(backend.storeUrl ? { store: backend.storeUrl } : {});
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await svc?.close();
    await backend?.stop();
  });

  it('delivers policies by label intersection, follows labels and deletions, and survives a restart', async () => {
    const control = svc.control();
    // A policy applied before any agent joins.
    await apply(control, policy('web-only', { env: 'prod', role: 'web' }));

    const webToken = await token(control, 'web-1', { env: 'prod', role: 'web' });
    const dbToken = await token(control, 'db-1', { env: 'prod' });
    const web = await joinHost(svc.agent(), webToken, 'web-1');
    const db = await joinHost(svc.agent(), dbToken, '');
    expect(web.hostname).toBe('web-1');
    expect(db.hostname).toBe('db-1');
    expect(web.caCertificatePem).toContain('BEGIN CERTIFICATE');

    const webSync = new TestAgentSession(svc.agent(web.credential));
    const dbSync = new TestAgentSession(svc.agent(db.credential));
    sessions.push(webSync, dbSync);
    await webSync.waitFor((s) => s.policyNames().includes('web-only'), 10_000, 'web-1 to get web-only');
    await dbSync.waitFor((s) => s.latest !== undefined, 10_000, 'db-1 to get a desired state');
    // db-1 has env=prod only: a policy with two labels does not select it.
    expect(dbSync.policyNames()).toEqual([]);
    expect(webSync.latest!.hostname).toBe('web-1');
    expect(webSync.latest!.artifacts.some((a) => a.lsm === 'apparmor' && a.content.includes('/etc/shadow'))).toBe(true);

    // A label change moves db-1 into the selection, and out again.
    await unary(control.label.bind(control), { kind: 'kvm', name: 'db-1', set: { role: 'web' }, remove: [], overwrite: false, resourceVersion: '' });
    await dbSync.waitFor((s) => s.policyNames().includes('web-only'), 10_000, 'db-1 to get web-only after labelling');
    await unary(control.label.bind(control), { kind: 'kvm', name: 'db-1', set: {}, remove: ['role'], overwrite: false, resourceVersion: '' });
    await dbSync.waitFor((s) => !s.policyNames().includes('web-only'), 10_000, 'db-1 to lose web-only');

    // Status: connected, applied, condition.
    await expect.poll(async () => (await getHost(control, 'web-1')).status?.applied?.hash, { timeout: 10_000 }).toBe((await getHost(control, 'web-1')).status?.desired?.hash);
    const host = await getHost(control, 'web-1');
    expect(host.status.connected).toBe(true);
    expect(host.metadata.labels).toMatchObject({ env: 'prod', role: 'web' });
    expect(host.status.conditions.find((c: { type: string }) => c.type === 'PolicyApplied')).toMatchObject({ status: 'False', reason: 'Unenforced' });

    // Deleting the policy removes it from the desired state.
    await unary(control.delete.bind(control), { kind: 'hsp', name: 'web-only', resourceVersion: '' });
    await webSync.waitFor((s) => !s.policyNames().includes('web-only'), 10_000, 'web-1 to lose web-only');
    expect(webSync.latest!.artifacts).toEqual([]);

    // Restart: the streams end; agents reconnect with their credentials and converge.
    await apply(control, policy('all-prod', { env: 'prod' }));
    await webSync.waitFor((s) => s.policyNames().includes('all-prod'), 10_000, 'web-1 to get all-prod');
    const config = svc.config;
    await svc.close();
    await webSync.waitFor((s) => s.error !== undefined || s.ended, 10_000, 'the stream to end');
    svc = await startTestService(config);
    const control2 = svc.control();
    await apply(control2, policy('after-restart', { role: 'web' }));
    const webAgain = new TestAgentSession(svc.agent(web.credential));
    const dbAgain = new TestAgentSession(svc.agent(db.credential));
    sessions.push(webAgain, dbAgain);
    await webAgain.waitFor((s) => s.policyNames().join() === 'after-restart,all-prod', 10_000, 'web-1 to converge after restart');
    await dbAgain.waitFor((s) => s.policyNames().join() === 'all-prod', 10_000, 'db-1 to converge after restart');
  });
});

describe('two replicas on one etcd', () => {
  let etcd: EtcdCluster;
  let a: TestService;
  let b: TestService;
  const sessions: TestAgentSession[] = [];

  beforeAll(async () => {
    etcd = await startEtcd({ members: 1 });
    a = await startTestService({ store: etcd.storeUrl });
    // Same CA (shared TLS directory, as a Kubernetes Secret would be), its own data directory.
    b = await startTestService({ store: etcd.storeUrl, tlsDir: a.config.tlsDir });
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await a?.close();
    await b?.close();
    await etcd?.stop();
  });

  it('serve agents consistently, whichever replica takes the change', async () => {
    const controlA = a.control();
    // b wrote no kvmctl.yaml of its own (the store already had an admin token): a's token works on b.
    const controlB = b.control(a.adminToken);
    const t1 = await token(controlA, 'h1', { tier: 'x' });
    const t2 = await token(controlB, 'h2', { tier: 'x' });
    const h1 = await joinHost(a.agent(), t1, 'h1');
    const h2 = await joinHost(b.agent(), t2, 'h2');
    const s1 = new TestAgentSession(a.agent(h1.credential));
    const s2 = new TestAgentSession(b.agent(h2.credential));
    sessions.push(s1, s2);
    await apply(controlB, policy('tier-x', { tier: 'x' }));
    await s1.waitFor((s) => s.policyNames().includes('tier-x'), 10_000, 'h1 (on a) to get a policy applied through b');
    await s2.waitFor((s) => s.policyNames().includes('tier-x'), 10_000, 'h2 (on b) to get it');
    for (const s of [s1, s2]) expect(s.latest!.artifacts.filter((x) => x.lsm === 'apparmor' && x.content.includes('/etc/shadow')).length).toBeGreaterThan(0);
    await unary(controlA.label.bind(controlA), { kind: 'kvm', name: 'h2', set: { tier: 'y' }, remove: [], overwrite: true, resourceVersion: '' });
    await s2.waitFor((s) => !s.policyNames().includes('tier-x'), 10_000, 'h2 (on b) to follow a label change made on a');
    // Both replicas report both hosts connected.
    for (const control of [controlA, controlB]) {
      const list = await unary(control.list.bind(control), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' });
      const hosts = list.items.map((i) => JSON.parse(i));
      expect(hosts.map((h: { metadata: { name: string } }) => h.metadata.name).sort()).toEqual(['h1', 'h2']);
      expect(hosts.every((h: { status: { connected: boolean } }) => h.status.connected)).toBe(true);
    }
  });
});
