/**
 * Who may do what: admin tokens for the control API, single-use expiring bootstrap tokens for
 * joining, per-host credentials that fix the host. Every refusal has the right gRPC status, and
 * no secret is stored in clear.
 */
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { TestAgentSession, joinHost } from '../../apps/kvmservice/src/testing/test-agent.js';

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return GrpcStatus.OK;
  } catch (e) {
    return (e as ServiceError).code;
  }
}

describe('control plane security', () => {
  let svc: TestService;
  const secrets: string[] = [];

  beforeAll(async () => {
    svc = await startTestService();
    secrets.push(svc.adminToken);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('refuses the control API without a valid admin token, and to agent credentials', async () => {
    const list = (token: string | undefined) => {
      const c = token === undefined ? svc.agent() : svc.control(token);
      return code(unary((c as ReturnType<TestService['control']>).list.bind(c), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' }));
    };
    expect(await code(unary(svc.control('').list.bind(svc.control('')), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' }))).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await list('kvmadm.aaaaaaaaaaaa.wrongwrongwrongwrongwrong')).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await list('garbage')).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await list(svc.adminToken)).toBe(GrpcStatus.OK);

    const control = svc.control();
    const t = await unary(control.createToken.bind(control), { hostname: 'agent-host', labels: {}, ttlSeconds: 600, description: '' });
    const joined = await joinHost(svc.agent(), t.secret, 'agent-host');
    secrets.push(t.secret, joined.credential);
    expect(await list(joined.credential)).toBe(GrpcStatus.PERMISSION_DENIED);
  });

  it('accepts a bootstrap token once, before it expires, for its own host only', async () => {
    const control = svc.control();
    const create = async (hostname: string, ttlSeconds = 600) => {
      const secret = (await unary(control.createToken.bind(control), { hostname, labels: {}, ttlSeconds, description: '' })).secret;
      secrets.push(secret);
      return secret;
    };
    const bound = await create('host-a');
    expect(await code(joinHost(svc.agent(), bound, 'host-b'))).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(await code(joinHost(svc.agent(), 'abcdef.0123456789abcdef', 'host-a'))).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await code(joinHost(svc.agent(), 'not-a-token', 'host-a'))).toBe(GrpcStatus.UNAUTHENTICATED);
    const joined = await joinHost(svc.agent(), bound, 'host-a');
    secrets.push(joined.credential);
    // Used once: refused the second time.
    expect(await code(joinHost(svc.agent(), bound, 'host-a'))).toBe(GrpcStatus.UNAUTHENTICATED);
    // A token not bound to a host cannot take over one that joined.
    const unbound = await create('');
    expect(await code(joinHost(svc.agent(), unbound, 'host-a'))).toBe(GrpcStatus.PERMISSION_DENIED);
    // Expired.
    const shortLived = await create('host-c', 1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await code(joinHost(svc.agent(), shortLived, 'host-c'))).toBe(GrpcStatus.UNAUTHENTICATED);
    // Revoked.
    const revoked = await create('host-d');
    await unary(control.revokeToken.bind(control), { id: revoked.split('.')[0]! });
    expect(await code(joinHost(svc.agent(), revoked, 'host-d'))).toBe(GrpcStatus.UNAUTHENTICATED);
  });

  it('fixes the host by credential and closes streams when it is revoked', async () => {
    const control = svc.control();
    const tokenFor = async (host: string) => (await unary(control.createToken.bind(control), { hostname: host, labels: { app: host }, ttlSeconds: 600, description: '' })).secret;
    const a = await joinHost(svc.agent(), await tokenFor('cred-a'), 'cred-a');
    const b = await joinHost(svc.agent(), await tokenFor('cred-b'), 'cred-b');
    secrets.push(a.credential, b.credential);
    await unary(control.apply.bind(control), {
      objects: [JSON.stringify({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'only-b' }, spec: { nodeSelector: { matchLabels: { app: 'cred-b' } }, process: { matchPaths: [{ path: '/usr/bin/nc' }] } } })],
      dryRun: false,
    });

    // No credential, or a wrong one: refused.
    const anonymous = new TestAgentSession(svc.agent());
    await anonymous.waitFor((s) => s.error !== undefined, 5000, 'refusal');
    expect(anonymous.error!.code).toBe(GrpcStatus.UNAUTHENTICATED);
    const forged = new TestAgentSession(svc.agent(`kvmagt.${'a'.repeat(16)}.${'b'.repeat(43)}`));
    await forged.waitFor((s) => s.error !== undefined, 5000, 'refusal');
    expect(forged.error!.code).toBe(GrpcStatus.UNAUTHENTICATED);

    // A's credential gets A's state, never B's: nothing in the protocol names a host.
    const asA = new TestAgentSession(svc.agent(a.credential));
    await asA.waitFor((s) => s.latest !== undefined, 5000, 'a state');
    expect(asA.latest!.hostname).toBe('cred-a');
    expect(asA.policyNames()).not.toContain('only-b');

    // Events pushed with A's credential are stored as A's, whatever they claim.
    const push = svc.agent(a.credential).pushEvents();
    const acked = new Promise<number>((resolve, reject) => {
      push.on('data', (m: { ackedUpToSeq: number }) => resolve(m.ackedUpToSeq));
      push.on('error', reject);
    });
    push.write({ firstSeq: 1, events: [{ hostName: 'cred-b', operation: 'File', resource: '/etc/shadow', type: 'HostLog' }], dropped: 0 });
    expect(await acked).toBe(1);
    push.end();
    const stream = control.streamEvents({ host: 'cred-b', follow: false, type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 });
    const forB: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: unknown) => forB.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(forB).toEqual([]);

    // Revoking the credential closes the open stream and refuses the next one.
    await unary(control.revokeCredential.bind(control), { hostname: 'cred-a' });
    await asA.waitFor((s) => s.error !== undefined, 5000, 'the stream to close');
    expect(asA.error!.code).toBe(GrpcStatus.UNAUTHENTICATED);
    const again = new TestAgentSession(svc.agent(a.credential));
    await again.waitFor((s) => s.error !== undefined, 5000, 'refusal');
    expect(again.error!.code).toBe(GrpcStatus.UNAUTHENTICATED);
  });

  it('stores no token or credential in clear', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const everything = await svc.store.list('/');
    const dump = everything.items.map((kv) => `${kv.key}=${kv.value.toString('utf8')}`).join('\n');
    expect(dump).toContain('/auth/credentials/');
    for (const secret of secrets) {
      // Neither the whole secret nor its secret part (after the id) appears anywhere.
      const secretPart = secret.split('.').pop()!;
      expect(dump.includes(secret) || dump.includes(secretPart), `a secret is stored in clear`).toBe(false);
    }
  });
});
