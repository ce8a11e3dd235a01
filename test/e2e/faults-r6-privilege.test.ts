/**
 * R6: impersonation, privilege and hostile bytes against a kvmservice process (SQLite, TLS):
 * - host A's credential only ever gets and affects host A: its Sync gets A's desired state, its
 *   Status and heartbeats change A's status and never B's, its events are stored as A's whatever
 *   they claim; it cannot join, and A's bootstrap token cannot join as B (nor is it spent by trying);
 * - bootstrap tokens: refused after use, after expiry, after revocation; a revoked credential is
 *   refused; an admin token is no agent credential;
 * - every ControlService method refuses an agent credential (PERMISSION_DENIED), and no token or a
 *   wrong one (UNAUTHENTICATED);
 * - oversize: beyond the 16 MiB receive limit (RESOURCE_EXHAUSTED), beyond the store's 1 MiB value
 *   limit (refused as the caller's error, not INTERNAL), too many objects;
 * - malformed protobuf on every method's raw path (INTERNAL "Error deserializing request", the
 *   gRPC convention) and seeded random bytes;
 * and after all of it the service answers normally, is ready, and its memory stayed bounded.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { unary, type Event__Output, type StreamEventsResponse__Output } from '@kvmservice/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllProcesses, requireBuilt, rssKiB, ServiceProcess, sleep, waitFor } from '../support/fleet-processes.js';
import { prng } from '../support/policy-storm.js';
import { kvmServiceMethods, RawClient, type RpcMethod } from '../support/raw-grpc.js';

const MiB = 1024 * 1024;
const name = (code: number) => GrpcStatus[code] ?? String(code);

describe('R6: impersonation, privilege and hostile input across the API', () => {
  let cp: ServiceProcess;
  let raw: RawClient;
  const methods = kvmServiceMethods();
  const method = (service: string, m: string): RpcMethod => methods.find((x) => x.service === service && x.name === m)!;
  const figures: Record<string, number | string> = {};
  let rssStart = 0;

  const control = () => cp.control();
  const createToken = async (hostname: string, labels: Record<string, string> = {}, ttlSeconds = 600) =>
    (await unary(control().createToken.bind(control()), { hostname, labels, ttlSeconds, description: 'R6' })).secret;
  const join = (token: string, hostname: string) => {
    const agent = cp.agent();
    return unary(agent.join.bind(agent), { token, hostname, labels: {}, facts: { enforcer: 'apparmor', dryRun: true } }).finally(() => agent.close());
  };
  const codeOf = async (p: Promise<unknown>): Promise<number> => {
    try {
      await p;
      return GrpcStatus.OK;
    } catch (e) {
      return (e as { code: number }).code;
    }
  };
  const hostStatus = async (host: string) => (JSON.parse((await unary(control().get.bind(control()), { kind: 'kvm', name: host })).object) as { status: Record<string, unknown> }).status;
  const events = (host: string) =>
    new Promise<Event__Output[]>((resolve, reject) => {
      const out: Event__Output[] = [];
      const s = control().streamEvents({ follow: false, host, type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 });
      s.on('data', (r: StreamEventsResponse__Output) => r.event && out.push(r.event));
      s.on('error', reject);
      s.on('end', () => resolve(out));
    });
  /** A normal call still works and the service is ready. */
  const healthy = async () => {
    expect(cp.running, 'kvmservice still running').toBe(true);
    const list = await unary(control().list.bind(control()), { kind: 'hsp', labelSelector: '', limit: 0, continueToken: '' });
    expect(Array.isArray(list.items)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${cp.httpPort}/readyz`)).status).toBe(200);
  };

  let credA = '';
  let credB = '';

  beforeAll(async () => {
    requireBuilt();
    cp = await ServiceProcess.start();
    raw = new RawClient(cp.address, cp.caPem);
    rssStart = rssKiB(cp.pid!)!;
    credA = (await join(await createToken('host-a', { app: 'a' }), 'host-a')).credential;
    credB = (await join(await createToken('host-b', { app: 'b' }), 'host-b')).credential;
    await unary(control().apply.bind(control()), {
      objects: ['a', 'b'].map((h) =>
        JSON.stringify({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: `only-${h}` }, spec: { nodeSelector: { matchLabels: { app: h } }, file: { matchPaths: [{ path: `/srv/${h}/secret` }] }, action: 'Block' } }),
      ),
      dryRun: false,
    });
  });

  afterAll(async () => {
    raw?.close();
    await cp?.kill();
    cp?.close();
    killAllProcesses();
  });

  it("confines an agent credential to its own host", async () => {
    const statusB = JSON.stringify(await hostStatus('host-b'));
    // A's Sync: A's desired state only; then a Status naming B's policy and artifacts, and heartbeats.
    const agentA = cp.agent(credA);
    const sync = agentA.sync();
    const states: { hostname: string; policies: { name: string }[] }[] = [];
    sync.on('data', (m: { desiredState?: { hostname: string; policies: { name: string }[] } }) => m.desiredState && states.push(m.desiredState));
    sync.on('error', () => undefined);
    sync.write({ hello: { facts: { enforcer: 'apparmor', dryRun: true }, appliedRevision: 0 } });
    await waitFor('A to get its desired state', () => states.length > 0 || undefined, 10_000, 50);
    expect(states[0]!.hostname).toBe('host-a');
    expect(states[0]!.policies.map((p) => p.name)).toEqual(['only-a']);
    sync.write({ status: { revision: 999_999, artifacts: [{ name: 'kubearmor.host', lsm: 'apparmor', sha256: 'f'.repeat(64), state: 'ARTIFACT_STATE_APPLIED', message: 'host-b is fine', policies: ['only-b'] }] } });
    sync.write({ heartbeat: { eventsDropped: 7, eventsSpooled: 7, linesUnparsed: 7 } });
    await waitFor("A's status to take A's report", async () => ((await hostStatus('host-a')).applied as { revision?: number } | undefined)?.revision === 999_999 || undefined, 10_000, 100);
    sync.cancel();
    expect(JSON.stringify(await hostStatus('host-b')), "B's status is untouched").toBe(statusB);

    // Events pushed with A's credential are A's, whatever they claim.
    const push = agentA.pushEvents();
    const acked = new Promise<number>((resolve, reject) => {
      push.on('data', (m: { ackedUpToSeq: number }) => resolve(Number(m.ackedUpToSeq)));
      push.on('error', reject);
    });
    push.write({ firstSeq: 1, events: [{ hostName: 'host-b', operation: 'File', resource: '/etc/shadow', type: 'MatchedHostPolicy', policyName: 'only-b' }], dropped: 0 });
    expect(await acked).toBe(1);
    push.end();
    agentA.close();
    expect(await events('host-b')).toEqual([]);
    const ofA = await events('host-a');
    expect(ofA.map((e) => [e.hostName, e.resource])).toEqual([['host-a', '/etc/shadow']]);

    // No join with a credential; A's token cannot join as B, and trying does not spend it.
    expect(name(await codeOf(join(credA, 'host-b')))).toBe('UNAUTHENTICATED');
    const forA = await createToken('host-a2');
    expect(name(await codeOf(join(forA, 'host-b')))).toBe('PERMISSION_DENIED');
    expect((await join(forA, 'host-a2')).hostname).toBe('host-a2');
    // A credential with A's id and another secret is refused.
    const forged = `${credA.split('.').slice(0, 2).join('.')}.${'x'.repeat(43)}`;
    expect(name((await raw.call(method('AgentService', 'Sync'), [method('AgentService', 'Sync').encode({ hello: {} })], forged)).code)).toBe('UNAUTHENTICATED');
    await healthy();
  });

  it('refuses spent, expired and revoked tokens, revoked credentials, and admin tokens as agents', async () => {
    const once = await createToken('host-c');
    await join(once, 'host-c');
    expect(name(await codeOf(join(once, 'host-c'))), 'a used token').toBe('UNAUTHENTICATED');
    const shortLived = await createToken('host-d', {}, 1);
    await sleep(1200);
    expect(name(await codeOf(join(shortLived, 'host-d'))), 'an expired token').toBe('UNAUTHENTICATED');
    const revoked = await createToken('host-e');
    await unary(control().revokeToken.bind(control()), { id: revoked.split('.')[0]! });
    expect(name(await codeOf(join(revoked, 'host-e'))), 'a revoked token').toBe('UNAUTHENTICATED');

    const sync = method('AgentService', 'Sync');
    const push = method('AgentService', 'PushEvents');
    const hello = sync.encode({ hello: { facts: { enforcer: 'apparmor' } } });
    expect((await raw.call(sync, [hello], credB)).responses, "B's credential gets a desired state before").toBe(1);
    await unary(control().revokeCredential.bind(control()), { hostname: 'host-b' });
    expect(name((await raw.call(sync, [hello], credB)).code), 'a revoked credential').toBe('UNAUTHENTICATED');
    for (const m of [sync, push]) {
      expect(name((await raw.call(m, [m.encode({})], cp.adminToken)).code), `${m.name} with the admin token`).toBe('UNAUTHENTICATED');
      expect(name((await raw.call(m, [m.encode({})])).code), `${m.name} without a token`).toBe('UNAUTHENTICATED');
    }
    await healthy();
  });

  it('refuses every ControlService method to an agent credential and to bad tokens', async () => {
    const controlMethods = methods.filter((m) => m.service === 'ControlService');
    expect(controlMethods.length).toBeGreaterThanOrEqual(12);
    const outcomes: string[] = [];
    for (const m of controlMethods) {
      for (const [who, token, want] of [
        ['agent credential', credA, 'PERMISSION_DENIED'],
        ['no token', undefined, 'UNAUTHENTICATED'],
        ['garbage token', 'kvmadm.aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'UNAUTHENTICATED'],
      ] as const) {
        const got = await raw.call(m, [m.encode({})], token);
        outcomes.push(`${m.name} with ${who}: ${name(got.code)}${got.responses > 0 ? ` after ${got.responses} answers` : ''}`);
        expect(`${m.name} with ${who}: ${name(got.code)}`).toBe(`${m.name} with ${who}: ${want}`);
        expect(got.responses, `${m.name} with ${who} answered`).toBe(0);
      }
    }
    figures.controlMethods = controlMethods.length;
    await healthy();
  });

  it('refuses oversize requests as the caller\'s error and stays up', { timeout: 60_000 }, async () => {
    const apply = method('ControlService', 'Apply');
    // Beyond the 16 MiB receive limit.
    const huge = await raw.call(apply, [apply.encode({ objects: ['x'.repeat(17 * MiB)] })], cp.adminToken);
    expect(name(huge.code)).toBe('RESOURCE_EXHAUSTED');
    // Within it, but one object larger than a store value may be (1 MiB): the caller's error.
    const big = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'big', annotations: { note: 'n'.repeat(2 * MiB) } }, spec: { nodeSelector: { matchLabels: { app: 'a' } }, file: { matchPaths: [{ path: '/srv/big' }] }, action: 'Block' } };
    const tooBig = await raw.call(apply, [apply.encode({ objects: [JSON.stringify(big)] })], cp.adminToken);
    figures.oversizeObject = `${name(tooBig.code)} ${tooBig.details.slice(0, 80)}`;
    expect.soft(['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'], `a 2 MiB object: ${name(tooBig.code)} ${tooBig.details}`).toContain(name(tooBig.code));
    expect(await codeOf(unary(control().get.bind(control()), { kind: 'hsp', name: 'big' }))).toBe(GrpcStatus.NOT_FOUND);
    // Too many objects.
    const many = await raw.call(apply, [apply.encode({ objects: Array.from({ length: 5001 }, () => '{}') })], cp.adminToken);
    expect(name(many.code)).toBe('INVALID_ARGUMENT');

    // Events: a batch as large as an agent sends (its bound: 1 MiB of events as JSON) is stored.
    const push = method('AgentService', 'PushEvents');
    const event = (i: number) => ({ hostName: 'host-a', operation: 'File', resource: `/srv/a/${i}`, data: 'd'.repeat(900), type: 'HostLog' });
    const agentSized: ReturnType<typeof event>[] = [];
    while (JSON.stringify([...agentSized, event(agentSized.length)]).length < MiB - 4096) agentSized.push(event(agentSized.length));
    const stored = await raw.call(push, [push.encode({ firstSeq: 2, events: agentSized, dropped: 0 })], credA);
    figures.agentSizedBatch = `${agentSized.length} events, ${name(stored.code)} ${stored.details.slice(0, 60)}`;
    expect.soft({ code: name(stored.code), acked: stored.responses }, `a ${JSON.stringify(agentSized).length}-byte batch (what an agent may send): ${stored.details}`).toEqual({ code: 'OK', acked: 1 });
    // A batch far beyond what an agent sends (4 MiB): refused as the caller's error, or stored.
    const fourMiB = Array.from({ length: 4400 }, (_, i) => event(100_000 + i));
    const large = await raw.call(push, [push.encode({ firstSeq: 100_000, events: fourMiB, dropped: 0 })], credA);
    figures.fourMiBBatch = `${name(large.code)} ${large.details.slice(0, 60)}`;
    expect.soft(['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'], `a 4 MiB event batch: ${name(large.code)} ${large.details}`).toContain(name(large.code));
    // Beyond the receive limit on a stream.
    const streamHuge = await raw.call(push, [push.encode({ firstSeq: 200_000, events: [{ data: 'x'.repeat(17 * MiB) }] })], credA);
    expect(name(streamHuge.code)).toBe('RESOURCE_EXHAUSTED');
    // A Status whose stored form would exceed a store value: A's own problem, refused as such.
    const sync = method('AgentService', 'Sync');
    const artifacts = Array.from({ length: 20_000 }, (_, i) => ({ name: `profile-${i}`, lsm: 'apparmor', sha256: 'a'.repeat(64), state: 'ARTIFACT_STATE_COMPILED', message: 'm'.repeat(40), policies: ['only-a'] }));
    const bigStatus = await raw.call(sync, [sync.encode({ hello: { facts: { enforcer: 'apparmor' } } }), sync.encode({ status: { revision: 1, artifacts } })], credA, 45_000, null);
    figures.oversizeStatus = `${name(bigStatus.code)} ${bigStatus.details.slice(0, 60)}`;
    expect.soft(['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'], `a ${Math.round(JSON.stringify(artifacts).length / MiB)} MiB status: ${name(bigStatus.code)} ${bigStatus.details}`).toContain(name(bigStatus.code));
    await healthy();
  });

  it('answers malformed protobuf on every raw path as the decoder reads it, and survives random bytes', { timeout: 120_000 }, async () => {
    // The server decodes with protobufjs (as every grpc-js service does), which is lenient: only
    // some malformed encodings are refused (INTERNAL "Error deserializing request", the gRPC
    // convention). Whatever it accepts must be answered exactly as its canonical encoding is:
    // nothing about the malformed bytes may change the outcome, and nothing may end as an
    // internal error.
    const malformed: [string, Buffer][] = [
      ['truncated varint', Buffer.from([0x08, 0xff, 0xff])],
      ['length past the end', Buffer.from([0x0a, 0x7f, 0x41, 0x42])],
      ['wire type 7', Buffer.from([0x0f, 0x01])],
      ['unterminated group', Buffer.from([0x0b, 0x08, 0x01])],
      ['field number 0', Buffer.from([0x00, 0x01])],
      ['nested length past the end', Buffer.from([0x22, 0x05, 0x0a, 0x7f, 0x00])],
    ];
    const rand = prng(Number(process.env.KVM_FAULTS_SEED ?? 606));
    for (let i = 0; i < 120; i++) malformed.push([`random ${i}`, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 120) }, () => Math.floor(rand() * 256)))]);
    const counts = { refusedByDecoder: 0, answeredAsDecoded: 0, calls: 0 };
    const tokens = [undefined, cp.adminToken, credA];
    for (const [what, bytes] of malformed) {
      // Random inputs go to one method each; the hand-made ones to every method.
      const targets = what.startsWith('random') ? [methods[Math.floor(rand() * methods.length)]!] : methods;
      for (const m of targets) {
        for (const token of what.startsWith('random') ? [tokens[Math.floor(rand() * tokens.length)]] : tokens) {
          let decoded: object | undefined;
          try {
            decoded = m.decode(bytes);
          } catch {
            decoded = undefined;
          }
          const got = await raw.call(m, [bytes], token, 10_000);
          counts.calls++;
          const label = `${m.name} ${what} (${bytes.toString('hex').slice(0, 40)}) token=${token === undefined ? 'none' : token === credA ? 'agent' : 'admin'}`;
          if (decoded === undefined) {
            counts.refusedByDecoder++;
            // A client-streaming call authenticates when it starts, before it reads a message.
            const refusedFirst = m.requestStream && token !== credA;
            expect(`${label}: ${name(got.code)} ${refusedFirst ? '' : got.details}`).toBe(`${label}: ${refusedFirst ? 'UNAUTHENTICATED ' : 'INTERNAL Error deserializing request'}`);
            continue;
          }
          counts.answeredAsDecoded++;
          const canonical = await raw.call(m, [m.encode(decoded)], token, 10_000);
          expect(`${label}: ${name(got.code)}${got.responses > 0 ? ' answered' : ''}`).toBe(`${label}: ${name(canonical.code)}${canonical.responses > 0 ? ' answered' : ''}`);
          expect(['INTERNAL', 'UNKNOWN'], `${label}: ${got.details}`).not.toContain(name(got.code));
        }
      }
    }
    figures.malformed = `${counts.calls} calls (${counts.refusedByDecoder} refused by the decoder, ${counts.answeredAsDecoded} answered as decoded)`;
    await healthy();
  });

  it('is unaffected afterwards: normal calls work and memory stayed bounded', async () => {
    await healthy();
    const a = await unary(control().apply.bind(control()), { objects: [JSON.stringify({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'after' }, spec: { nodeSelector: { matchLabels: { app: 'a' } }, file: { matchPaths: [{ path: '/srv/after' }] }, action: 'Block' } })], dryRun: false });
    expect(a.results[0]!.outcome).toBe('APPLY_OUTCOME_CREATED');
    const rssEnd = rssKiB(cp.pid!)!;
    console.log(
      `R6 summary: control methods refused to agents=${figures.controlMethods}, malformed/random requests=${figures.malformed}; ` +
        `2 MiB object → ${figures.oversizeObject}; agent-sized event batch (${figures.agentSizedBatch}); 4 MiB batch → ${figures.fourMiBBatch}; oversize status → ${figures.oversizeStatus}; ` +
        `kvmservice RSS ${Math.round(rssStart / 1024)} → ${Math.round(rssEnd / 1024)} MiB`,
    );
    expect(rssEnd, 'RSS after the hostile calls (KiB)').toBeLessThan(Math.max(rssStart * 3, 600 * 1024));
  });
});
