/**
 * Discovery in the control plane, over real gRPC on loopback with a real SQLite store: learning
 * mode in the desired state (complain-mode profile, visibility, back when `until` passes), the
 * Discover RPC on uploaded records (profile names mapped back to binaries), DiscoveredPolicy
 * save/activate/PendingUpdates/deactivate in one commit with the policy, alert attribution to the
 * deciding rule, the leader writing the model, and bad requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { unary, type ControlServiceClient, type Event__Output } from '@kvmservice/api';
import { parseLine, toWireEvent } from '@kvmservice/auditlog';
import { validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { startTestService, type TestService } from '../testing/service-harness.js';
import { joinHost, TestAgentSession } from '../testing/test-agent.js';
import { DiscoveryLeaderService } from './discovery-leader.service.js';
import { FROM_DISCOVERED_POLICY_ANNOTATION } from './dsp-activation.js';

const HOST = 'disc-1';

/** Kernel records of curl running under its learning (complain-mode) profile. */
const CURL_RECORDS = [
  'apparmor="ALLOWED" operation="open" profile="kubearmor_usrbincurl" name="/etc/hosts" pid=4242 comm="curl" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0',
  'apparmor="ALLOWED" operation="open" profile="kubearmor_usrbincurl" name="/etc/resolv.conf" pid=4242 comm="curl" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0',
  'apparmor="ALLOWED" operation="open" profile="kubearmor_usrbincurl" name="/etc/ssl/certs/ca-certificates.crt" pid=4242 comm="curl" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0',
  'apparmor="ALLOWED" operation="create" profile="kubearmor_usrbincurl" pid=4242 comm="curl" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create"',
];

function wire(records: string[], firstSerial: number) {
  return records.map((r, i) => {
    const e = parseLine(`type=AVC msg=audit(1716000100.000:${firstSerial + i}): ${r}`).event;
    if (!e) throw new Error(r);
    return toWireEvent(e, 0);
  });
}

describe('discovery in the control plane', () => {
  let svc: TestService;
  let control: ControlServiceClient;
  let agent: TestAgentSession;
  let credential: string;
  let nextSeq = 1;

  const get = async (kind: string, name: string) => JSON.parse((await unary(control.get.bind(control), { kind, name })).object);
  const apply = (...objects: unknown[]) => unary(control.apply.bind(control), { objects: objects.map((o) => JSON.stringify(o)), dryRun: false });
  const discover = (request: Partial<{ kinds: string[]; single: boolean; binaries: string[]; directoryThreshold: number; save: boolean; host: string }> = {}) =>
    unary(control.discover.bind(control), { host: HOST, kinds: [], single: false, binaries: [], directoryThreshold: 0, save: false, ...request });
  const push = async (records: string[]) => {
    const stream = svc.agent(credential).pushEvents();
    const events = wire(records, nextSeq);
    const firstSeq = nextSeq;
    nextSeq += events.length;
    const acked = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { ackedUpToSeq: number }) => m.ackedUpToSeq >= nextSeq - 1 && resolve());
      stream.on('error', reject);
    });
    stream.write({ firstSeq, events, dropped: 0 });
    await acked;
    stream.end();
  };
  const storedEvents = async (): Promise<Event__Output[]> => {
    const out: Event__Output[] = [];
    const stream = control.streamEvents({ host: HOST, follow: false, type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 });
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { event: Event__Output }) => out.push(m.event));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return out;
  };

  beforeAll(async () => {
    svc = await startTestService();
    control = svc.control();
    const token = await unary(control.createToken.bind(control), { hostname: HOST, labels: { env: 'lab' }, ttlSeconds: 600, description: '' });
    credential = (await joinHost(svc.agent(), token.secret, HOST)).credential;
    agent = new TestAgentSession(svc.agent(credential));
    await agent.waitFor((s) => s.latest !== undefined, 10_000, 'the first desired state');
  }, 60_000);
  afterAll(async () => {
    agent?.close();
    await svc?.close();
  });

  it('learning mode: the binary gets a complain-mode profile and visibility, until `until` passes', async () => {
    const host = await get('kvm', HOST);
    const until = new Date(Date.now() + 3000).toISOString();
    await apply({ ...host, spec: { ...host.spec, learning: { binaries: ['/usr/bin/curl'], until } } });
    await agent.waitFor((s) => (s.latest?.settings?.learningBinaries ?? []).includes('/usr/bin/curl'), 10_000, 'learning in the desired state');
    const learning = agent.latest!;
    expect(learning.settings!.visibility).toEqual(['capabilities', 'file', 'network', 'process']);
    expect(learning.settings!.learningUntil).toBe(Date.parse(until));
    const profile = learning.artifacts.find((a) => a.name === 'kubearmor_usrbincurl');
    expect(profile?.content).toContain('profile kubearmor_usrbincurl "/usr/bin/curl" flags=(attach_disconnected,mediate_deleted,complain) {');
    // When `until` passes, the control plane takes the profile away by itself.
    await agent.waitFor((s) => !(s.latest?.artifacts ?? []).some((a) => a.name === 'kubearmor_usrbincurl'), 15_000, 'learning to end');
    expect(agent.latest!.settings!.learningBinaries).toEqual([]);
    expect(agent.latest!.settings!.visibility).toEqual([]);
  });

  it('Discover turns uploaded records into a KubeArmorHostPolicy for the binary (profile names mapped back)', async () => {
    const host = await get('kvm', HOST);
    await apply({ ...host, spec: { ...host.spec, learning: { binaries: ['/usr/bin/curl'], until: new Date(Date.now() + 600_000).toISOString() } } });
    await agent.waitFor((s) => (s.latest?.artifacts ?? []).some((a) => a.name === 'kubearmor_usrbincurl'), 10_000, 'the learning profile');
    await push(CURL_RECORDS);
    const reply = await discover({ kinds: ['KubeArmorHostPolicy'] });
    expect(reply.events).toBe(4);
    expect(reply.objects).toHaveLength(1);
    const policy = JSON.parse(reply.objects[0]!) as KubeArmorHostPolicy;
    expect(validateResource(policy).valid).toBe(true);
    expect(policy.metadata.name).toMatch(/^autopol-host-disc-1-usr-bin-curl-[0-9a-f]{8}$/);
    expect(policy.spec.nodeSelector.matchLabels).toEqual({ 'kubearmor.io/hostname': HOST });
    expect(policy.spec.file?.matchPaths?.map((m) => [m.path, m.readOnly, m.fromSource?.map((s) => s.path)])).toEqual(
      expect.arrayContaining([
        ['/etc/hosts', true, ['/usr/bin/curl']],
        ['/etc/resolv.conf', true, ['/usr/bin/curl']],
        ['/etc/ssl/certs/ca-certificates.crt', true, ['/usr/bin/curl']],
      ]),
    );
    expect(policy.spec.network?.matchProtocols).toEqual([{ protocol: 'tcp', fromSource: [{ path: '/usr/bin/curl' }] }]);
    expect(reply.discoveredPolicies).toEqual([]);
    // --single, --binary and kinds select what is produced.
    expect((await discover({ binaries: ['/usr/bin/wget'], kinds: ['hsp'] })).objects).toEqual([]);
    const single = JSON.parse((await discover({ single: true, kinds: ['all'] })).objects[0]!);
    expect(single.metadata.name).toMatch(/^autopol-host-disc-1-[0-9a-f]{8}$/);
  });

  it('saves DiscoveredPolicies; Active puts the policy in force in the same commit; changes become PendingUpdates; Inactive takes it out', async () => {
    const saved = await discover({ kinds: ['KubeArmorHostPolicy'], save: true });
    expect(saved.discoveredPolicies).toHaveLength(1);
    const dsp = JSON.parse(saved.discoveredPolicies[0]!);
    const name = dsp.metadata.name as string;
    expect(dsp.spec.status).toBe('Inactive');
    expect(dsp.metadata.resourceVersion).toMatch(/^\d+$/);
    // The same observations again: nothing changes.
    const again = JSON.parse((await discover({ kinds: ['KubeArmorHostPolicy'], save: true })).discoveredPolicies[0]!);
    expect(again.metadata.resourceVersion).toBe(dsp.metadata.resourceVersion);

    const activated = await apply({ ...dsp, spec: { ...dsp.spec, status: 'Active' } });
    expect(activated.results.map((r) => [r.kind, r.name, r.outcome])).toEqual([
      ['DiscoveredPolicy', name, 'APPLY_OUTCOME_CONFIGURED'],
      ['KubeArmorHostPolicy', name, 'APPLY_OUTCOME_CREATED'],
    ]);
    // One commit: the policy and the DiscoveredPolicy carry the same resourceVersion.
    expect(activated.results[0]!.resourceVersion).toBe(activated.results[1]!.resourceVersion);
    const hsp = await get('hsp', name);
    expect(hsp.metadata.annotations[FROM_DISCOVERED_POLICY_ANNOTATION]).toBe(name);
    expect(hsp.spec).toEqual(dsp.spec.policy.spec);
    await agent.waitFor((s) => s.policyNames().includes(name), 10_000, 'the activated policy in the desired state');

    // The kernel blocks curl reading /etc/shadow under the enforced policy: the alert names it.
    await push(['apparmor="DENIED" operation="open" profile="kubearmor_usrbincurl" name="/etc/shadow" pid=4243 comm="curl" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0']);
    const alerts = (await storedEvents()).filter((e) => e.type === 'MatchedHostPolicy' && e.resource === '/etc/shadow');
    expect(alerts.map((e) => e.policyName)).toEqual([name]);

    // New behaviour: the Active DiscoveredPolicy becomes PendingUpdates; the policy in force stays.
    await push(['apparmor="ALLOWED" operation="open" profile="kubearmor_usrbincurl" name="/etc/nsswitch.conf" pid=4244 comm="curl" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0']);
    const pending = JSON.parse((await discover({ kinds: ['KubeArmorHostPolicy'], save: true })).discoveredPolicies[0]!);
    expect(pending.spec.status).toBe('PendingUpdates');
    expect(JSON.stringify(pending.spec.policy)).toContain('/etc/nsswitch.conf');
    expect(JSON.stringify((await get('hsp', name)).spec)).not.toContain('/etc/nsswitch.conf');

    const deactivated = await apply({ ...pending, spec: { ...pending.spec, status: 'Inactive' } });
    expect(deactivated.results.map((r) => [r.kind, r.outcome])).toEqual([
      ['DiscoveredPolicy', 'APPLY_OUTCOME_CONFIGURED'],
      ['KubeArmorHostPolicy', 'APPLY_OUTCOME_DELETED'],
    ]);
    await expect(get('hsp', name)).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
    await agent.waitFor((s) => !s.policyNames().includes(name), 10_000, 'the policy to leave the desired state');
  });

  it('never overwrites or deletes a policy it did not put in force, and changes nothing then', async () => {
    const dsp = JSON.parse((await discover({ kinds: ['KubeArmorHostPolicy'], save: true })).discoveredPolicies[0]!);
    const name = dsp.metadata.name as string;
    const own = { ...dsp.spec.policy, metadata: { name } };
    await apply(own);
    await expect(apply({ ...dsp, spec: { ...dsp.spec, status: 'Active' } })).rejects.toMatchObject({ code: GrpcStatus.ABORTED, details: expect.stringContaining('was not put in force by this DiscoveredPolicy') });
    expect((await get('dsp', name)).spec.status).toBe(dsp.spec.status);
    // Inactive leaves it alone.
    const inactive = await apply({ ...dsp, metadata: { ...dsp.metadata, resourceVersion: undefined }, spec: { ...dsp.spec, status: 'inactive' } });
    expect(inactive.results).toHaveLength(1);
    expect((await get('hsp', name)).metadata.annotations).toBeUndefined();
    // Activating and naming the policy in one apply is refused.
    await expect(apply({ ...dsp, metadata: { name }, spec: { ...dsp.spec, status: 'Active' } }, own)).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    await unary(control.delete.bind(control), { kind: 'hsp', name, resourceVersion: '' });
  });

  it('the discovery leader writes the model with its position', async () => {
    const leader = svc.app.get(DiscoveryLeaderService);
    await expect.poll(() => leader.leading, { timeout: 15_000 }).toBe(true);
    // Six records were uploaded (four, the alert, one more).
    await expect.poll(async () => (await svc.store.get(`/kvmservice/discovery/models/${HOST}`))?.value.toString('utf8').split('\n')[0], { timeout: 15_000 }).toMatch(/"lastSeq":6,/);
    const cursor = JSON.parse((await svc.store.get(`/kvmservice/discovery/cursors/${HOST}`))!.value.toString('utf8'));
    expect(cursor).toMatchObject({ host: HOST, lastSeq: 6, events: 6 });
  });

  it('refuses bad requests, naming the field', async () => {
    await expect(discover({ host: 'nope' })).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
    await expect(discover({ kinds: ['Pod'] })).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('kinds[0]') });
    await expect(discover({ binaries: ['curl'] })).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('binaries[0]') });
    await expect(discover({ directoryThreshold: -1 })).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    const noAuth = svc.control('wrong-token');
    await expect(unary(noAuth.discover.bind(noAuth), { host: HOST, kinds: [], single: false, binaries: [], directoryThreshold: 0, save: false })).rejects.toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
  });
});
