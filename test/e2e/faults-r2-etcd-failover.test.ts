/**
 * R2: two kvmservice replicas (real processes, one TLS directory) on a real 3-member etcd cluster;
 * agents started with both addresses (`--server A --server B`, half of them the other way round);
 * a policy storm through both replicas; during it the etcd raft leader and replica A are SIGKILLed
 * (neither comes back). Then, in order:
 * 1. every acknowledged operation is in the store, read back through replica B, and every agent —
 *    those that were on A included, now on B — has applied exactly what the control plane should
 *    send it now (rendered here from the stored objects);
 * 2. B's status of every host says so: connected, served by B, applied = desired;
 * 3. no answer contradicted the store (an operation refused although the store shows it applied),
 *    judged against the store's own history (a watch on the policies from before the storm).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { unary } from '@kvmservice/api';
import { openStore, type WatchEvent } from '@kvmservice/store';
import { agentApplied, agentConverged, expectedArtifacts, listHosts, listPolicies, statusConverged, type ArtifactSet, type HostObject } from '../support/desired-oracle.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { FleetHost } from '../support/fleet-agents.js';
import { AgentProcess, killAllProcesses, mapLimit, requireBuilt, ServiceProcess, spread, waitEach, waitFor } from '../support/fleet-processes.js';
import { ackedMismatches, hostLabelsOf, hostName, planStorm, runStorm, type StormResult } from '../support/policy-storm.js';
import { requireTool } from '../support/tools.js';

const FLEET_AGENTS = 24;
const REAL_PROCESSES = 3;
const HOSTS = FLEET_AGENTS + REAL_PROCESSES;
const OPS = 300;
const FAULT_AFTER = 100;
const SEED = Number(process.env.KVM_FAULTS_SEED ?? 2202);
const POLICIES = '/kvmservice/security.kubearmor.com/kubearmorhostpolicies/';

type ServedHost = HostObject & { status?: HostObject['status'] & { servedBy?: string } };
const replicaOf = (h: ServedHost | undefined) => h?.status?.servedBy ?? '';

describe('R2: two replicas on a 3-member etcd; the etcd leader and a replica SIGKILLed mid-storm', () => {
  let etcd: EtcdCluster;
  let a: ServiceProcess;
  let b: ServiceProcess;
  const processes: AgentProcess[] = [];
  let fleet: FleetHost | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  // Shared by the three tests, in order.
  let storm: StormResult | undefined;
  let stormEnd = 0;
  let aId = '';
  let expected = new Map<string, ArtifactSet>();
  const history: WatchEvent[] = [];
  const stateDirs = new Map<string, string>();

  beforeAll(async () => {
    requireBuilt();
    requireTool('apparmor_parser', 'apparmor');
    etcd = await startEtcd({ members: 3 });
    a = await ServiceProcess.start({ name: 'replica-a', store: etcd.storeUrl });
    // Same CA and admin token: one installation, two replicas.
    b = await ServiceProcess.start({ name: 'replica-b', store: etcd.storeUrl, tlsDir: a.tlsDir, adminToken: a.adminToken });
  });

  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    await Promise.all(processes.map((p) => p.kill()));
    await a?.kill();
    await b?.kill();
    a?.close();
    b?.close();
    killAllProcesses();
    await etcd?.stop();
  });

  const dumpOnFailure = () =>
    onTestFailed(() => {
      for (const s of [a, b]) {
        // What the replica logged, by message and error type.
        const counts = new Map<string, number>();
        for (const l of s.output) {
          const key = `${/"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 60)} ${/"type":"(\w+)"/.exec(l)?.[1] ?? ''}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        console.error(`--- ${s.name}: ${[...counts].map(([k, n]) => `${n}× ${k}`).join('; ')}`);
      }
      for (const p of processes) console.error(`--- ${p.options.name} (last 5 lines)\n${p.output.slice(-5).join('\n')}`);
      for (const f of fleet?.agents.slice(0, 12) ?? []) {
        const connects = fleet!.logs(f.name, 'connecting').map((l) => `${String(l.time).slice(11, 23)} :${String(l.server).split(':')[1]}`);
        const disconnects = fleet!.logs(f.name, 'disconnected').map((l) => `${String(l.time).slice(11, 23)} :${String(l.server).split(':')[1]} ${String(l.error).slice(0, 160)}`);
        console.error(`--- ${f.name}: connecting ${connects.join(', ')}; disconnected ${disconnects.join(', ')}`);
      }
    });

  it('keeps every acknowledged change, and the agents fail over to B and converge', { timeout: 300_000 }, async () => {
    dumpOnFailure();
    const indexes = Array.from({ length: HOSTS }, (_, i) => i);
    const tokens = await mapLimit(indexes, 8, async (i) => {
      const via = i % 2 === 0 ? a : b;
      return (await unary(via.control().createToken.bind(via.control()), { hostname: hostName(i), labels: hostLabelsOf(i), ttlSeconds: 3600, description: 'R2' })).secret;
    });
    // Even hosts prefer A, odd hosts B.
    const servers = (i: number) => (i % 2 === 0 ? [a.address, b.address] : [b.address, a.address]);
    for (const i of indexes.slice(0, REAL_PROCESSES)) processes.push(new AgentProcess({ name: hostName(i), servers: servers(i), caFile: a.caFile, token: tokens[i]! }));
    fleet = await FleetHost.start(indexes.slice(REAL_PROCESSES).map((i) => ({ name: hostName(i), servers: servers(i), caFile: a.caFile, token: tokens[i]! })));
    for (const p of processes) stateDirs.set(p.options.name, p.stateDir);
    for (const f of fleet.agents) stateDirs.set(f.name, f.stateDir);
    const before = (await waitFor(
      `${HOSTS} hosts connected with an applied state`,
      async () => {
        const hosts = await listHosts(b.control());
        return hosts.length === HOSTS && hosts.every((h) => h.status?.connected && h.status.applied) ? hosts : undefined;
      },
      90_000,
      500,
    )) as ServedHost[];
    expect(new Set(before.map(replicaOf)).size, 'agents spread over both replicas').toBe(2);
    // host-000 prefers A, and A was up: the replica serving it is A.
    aId = replicaOf(before.find((h) => h.metadata.name === hostName(0)));
    const onA = before.filter((h) => replicaOf(h) === aId).map((h) => h.metadata.name);

    // The store's own history of the policies, to judge the answers afterwards (test 3).
    const watcher = await openStore(etcd.storeUrl);
    const watch = await watcher.watch(POLICIES);
    const watching = (async () => {
      for await (const e of watch) history.push(e);
    })().catch(() => undefined);
    cleanups.push(async () => {
      await watch.close();
      await watching;
      await watcher.close();
    });

    // The storm through both replicas; the faults after FAULT_AFTER acknowledged operations.
    let faults: Promise<{ leader: string; electedMs: number }> | undefined;
    storm = await runStorm(planStorm({ ops: OPS, names: 60, hosts: HOSTS, seed: SEED }), {
      concurrency: 16,
      endpoints: () => [a.control(), b.control()],
      onAck: (done) => {
        if (done !== FAULT_AFTER) return;
        const faultAt = Date.now();
        faults = (async () => {
          const leader = await etcd.leader();
          await Promise.all([etcd.kill(leader), a.kill()]);
          const next = await etcd.leader();
          return { leader: `${leader.name} → ${next.name}`, electedMs: Date.now() - faultAt };
        })();
      },
    });
    stormEnd = Date.now();
    expect(faults, 'the storm reached the fault point').toBeDefined();
    const { leader, electedMs } = await faults!;
    expect(storm.done + storm.failures.length).toBe(OPS);
    expect(a.running).toBe(false);

    // Every acknowledged operation is stored, read through the surviving replica.
    const policies = await listPolicies(b.control());
    expect(ackedMismatches(storm.acked, new Map(policies.map((p) => [p.metadata.name, p])))).toEqual([]);

    // Every agent converges through B; those that were on A moved to B (their own logs say so).
    const hosts = await listHosts(b.control());
    expected = new Map(hosts.map((h) => [h.metadata.name, expectedArtifacts(policies, h)]));
    const names = [...expected.keys()];
    const applied = await waitEach(names, (name) => agentConverged(agentApplied(stateDirs.get(name)!), expected.get(name)!), stormEnd, 60_000);
    expect(applied.missing, 'agents not converged 60 s after the storm').toEqual([]);
    const connectedTo = (name: string) => {
      const p = processes.find((x) => x.options.name === name);
      return (p ? p.logs('connecting') : fleet!.logs(name, 'connecting')).map((l) => l.server);
    };
    const moved = onA.filter((name) => connectedTo(name).includes(b.address));
    expect(moved, 'agents that were on A and connected to B').toEqual(onA);
    for (const p of processes) expect(agentApplied(p.stateDir)!.states.every((s) => s === 'COMPILED')).toBe(true);

    const faultAck = storm.ackTimes[FAULT_AFTER - 1]!;
    const longestGap = Math.max(...storm.ackTimes.slice(FAULT_AFTER).map((t, i) => t - storm!.ackTimes[FAULT_AFTER - 1 + i]!));
    console.log(
      `R2 summary: etcd members=3, replicas=2, hosts=${HOSTS} (agent processes=${REAL_PROCESSES}, fleet agents=${FLEET_AGENTS}), ${onA.length} on replica A; ` +
        `storm ops=${storm.done}/${OPS} in ${storm.durationMs} ms, retries=${storm.retries} (self-races ${storm.selfRaces}), internal-errors=${storm.internalErrors.length}, ` +
        `answers contradicting the store=${storm.failures.length}; after ${FAULT_AFTER} acks (${faultAck} ms) SIGKILL of the etcd leader (${leader}, new leader after ${electedMs} ms) ` +
        `and of replica A; longest gap between acks ${longestGap} ms; acknowledged applies=${storm.appliedVersions.length}, all stored; agents moved from A to B=${moved.length}; ` +
        `agents converged after storm end (p50/p95/max) ${spread([...applied.times.values()])}`,
    );
    expect(storm.internalErrors, 'INTERNAL answers during the faults').toEqual([]);
  });

  it("B's status of every host: connected, served by B, applied = desired", { timeout: 120_000 }, async () => {
    dumpOnFailure();
    expect(storm, 'the storm ran').toBeDefined();
    const names = [...expected.keys()];
    let reportedHosts = new Map<string, ServedHost>();
    const reported = await waitEach(
      names,
      async (name) => {
        if (name === names[0]) reportedHosts = new Map((await listHosts(b.control())).map((h) => [h.metadata.name, h as ServedHost]));
        const host = reportedHosts.get(name);
        return host !== undefined && statusConverged(host, expected.get(name)!) && replicaOf(host) !== '' && replicaOf(host) !== aId;
      },
      stormEnd,
      30_000,
      250,
    );
    const why = (name: string) => {
      const st = reportedHosts.get(name)?.status;
      return `${name}: connected=${st?.connected} servedBy=${replicaOf(reportedHosts.get(name)) === aId ? 'A' : st?.servedBy ? 'B' : '-'} desired=${st?.desired?.revision}/${st?.desired?.hash.slice(0, 8)} applied=${st?.applied?.revision}/${st?.applied?.hash.slice(0, 8)} agent-applied=${agentApplied(stateDirs.get(name)!)?.revision}`;
    };
    console.log(`R2 status summary: hosts=${HOSTS}, reported converged by B=${reported.times.size} (after storm end p50/p95/max ${spread([...reported.times.values()])}), not within 30 s=${reported.missing.length}`);
    expect(reported.missing.map(why), 'hosts whose status in B is not converged, or not served by B, 30 s after the storm').toEqual([]);
  });

  it('gave no answer that contradicts the store', () => {
    expect(storm, 'the storm ran').toBeDefined();
    const evidence = storm!.failures.map((f) => {
      // The store's changes of the key after the last revision acknowledged before this answer.
      const name = /^\S+ (\S+) /.exec(f)?.[1] ?? '';
      const lastAcked = Math.max(0, ...[...f.matchAll(/ rv (\d+)/g)].map((m) => Number(m[1])));
      const events = history.filter((e) => e.key === `${POLICIES}${name}` && e.revision > lastAcked).slice(0, 2);
      return `${f}; the store's next changes of the key after revision ${lastAcked}: ${events.map((e) => `${e.type}@${e.revision}`).join(' ') || 'none'}`;
    });
    console.log(`R2 answers summary: operations=${OPS}, answers contradicting the store=${evidence.length}, policy events watched=${history.length}`);
    expect(evidence, 'answers that contradict the store').toEqual([]);
  });
});
