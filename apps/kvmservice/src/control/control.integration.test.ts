import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../testing/service-harness.js';
import { TestAgentSession, joinHost } from '../testing/test-agent.js';

describe('ControlService smoke', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('applies and lists a policy over TLS with the admin token', async () => {
    const control = svc.control();
    const policy = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'p1' }, spec: { nodeSelector: { matchLabels: { env: 'prod' } }, file: { matchPaths: [{ path: '/etc/shadow' }] } } };
    const applied = await unary(control.apply.bind(control), { objects: [JSON.stringify(policy)] });
    expect(applied.results[0]).toMatchObject({ name: 'p1', outcome: 'APPLY_OUTCOME_CREATED' });
    const again = await unary(control.apply.bind(control), { objects: [JSON.stringify(policy)] });
    expect(again.results[0]!.outcome).toBe('APPLY_OUTCOME_UNCHANGED');
    const list = await unary(control.list.bind(control), { kind: 'hsp' });
    expect(list.items.map((i) => JSON.parse(i).metadata.name)).toEqual(['p1']);
  });
});

describe('Apply is all or nothing', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const hsp = (name: string, path = '/etc/shadow', resourceVersion?: string) => ({
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { nodeSelector: { matchLabels: { env: 'prod' } }, file: { matchPaths: [{ path }] } },
  });

  async function names(): Promise<string[]> {
    const control = svc.control();
    return (await unary(control.list.bind(control), { kind: 'hsp', labelSelector: '', limit: 0, continueToken: '' })).items.map((i) => JSON.parse(i).metadata.name).sort();
  }

  it('stores nothing when one object is invalid, a duplicate, or stale', async () => {
    const control = svc.control();
    const created = await unary(control.apply.bind(control), { objects: [JSON.stringify(hsp('base'))], dryRun: false });
    const revision = await svc.store.currentRevision();
    const attempts = [
      [hsp('a'), hsp('b', 'relative')],
      [hsp('a'), hsp('a')],
      [hsp('a'), hsp('base', '/etc/passwd', String(Number(created.results[0]!.resourceVersion) + 1000))],
    ];
    for (const objects of attempts) {
      await expect(unary(control.apply.bind(control), { objects: objects.map((o) => JSON.stringify(o)), dryRun: false })).rejects.toThrow();
    }
    expect(await names()).toEqual(['base']);
    expect(await svc.store.currentRevision()).toBe(revision);
    // The same objects, valid and fresh, go in together at one revision.
    const ok = await unary(control.apply.bind(control), { objects: [hsp('a'), hsp('b'), hsp('base', '/etc/passwd', created.results[0]!.resourceVersion)].map((o) => JSON.stringify(o)), dryRun: false });
    expect(new Set(ok.results.map((r) => r.resourceVersion)).size).toBe(1);
    expect(ok.results.map((r) => r.outcome)).toEqual(['APPLY_OUTCOME_CREATED', 'APPLY_OUTCOME_CREATED', 'APPLY_OUTCOME_CONFIGURED']);
    expect(await names()).toEqual(['a', 'b', 'base']);
  });

  it('lets exactly one of two concurrent joins with one token succeed', async () => {
    const control = svc.control();
    const t = await unary(control.createToken.bind(control), { hostname: '', labels: {}, ttlSeconds: 600, description: '' });
    const results = await Promise.allSettled([joinHost(svc.agent(), t.secret, 'race-1'), joinHost(svc.agent(), t.secret, 'race-2')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const hosts = (await unary(control.list.bind(control), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' })).items.map((i) => JSON.parse(i).metadata.name);
    expect(hosts).toHaveLength(1);
  });
});

describe('Watch of hosts', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('reports a host as MODIFIED when its agent connects (status lives under other keys)', async () => {
    const control = svc.control();
    const t = await unary(control.createToken.bind(control), { hostname: 'w-1', labels: {}, ttlSeconds: 600, description: '' });
    const joined = await joinHost(svc.agent(), t.secret, 'w-1');
    const watch = control.watch({ kind: 'kvm', labelSelector: '', resourceVersion: '' });
    const seen: { type: string; connected: boolean }[] = [];
    watch.on('data', (m: { type: string; object: string }) => seen.push({ type: m.type, connected: JSON.parse(m.object).status?.connected === true }));
    watch.on('error', () => undefined);
    await expect.poll(() => seen.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(seen[0]).toEqual({ type: 'ADDED', connected: false });
    const session = new TestAgentSession(svc.agent(joined.credential));
    await expect.poll(() => seen.some((e) => e.type === 'MODIFIED' && e.connected), { timeout: 10_000 }).toBe(true);
    session.close();
    watch.cancel();
  });
});

describe('stream errors keep their status', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const statusOf = (stream: { on(e: 'error', f: (e: { code: number }) => void): unknown; on(e: 'data', f: () => void): unknown }) =>
    new Promise<number>((resolve) => {
      stream.on('data', () => undefined);
      stream.on('error', (e) => resolve(e.code));
    });

  it('Watch and StreamEvents refuse with UNAUTHENTICATED and INVALID_ARGUMENT, not UNKNOWN', async () => {
    expect(await statusOf(svc.control('nope').watch({ kind: 'hsp', labelSelector: '', resourceVersion: '' }))).toBe(16);
    expect(await statusOf(svc.control('nope').streamEvents({ follow: false, host: '', type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 }))).toBe(16);
    expect(await statusOf(svc.control().streamEvents({ follow: false, host: '', type: '', operation: '', source: '(', resource: '', policy: '', since: 0, limit: 0 }))).toBe(3);
    expect(await statusOf(svc.control().watch({ kind: 'nosuchkind', labelSelector: '', resourceVersion: '' }))).toBe(5);
  });
});
