/**
 * R1: 200 agents on one kvmservice process on SQLite; a storm of 1 000 policy applies, updates and
 * deletes with mixed selectors; kvmservice SIGKILLed mid-storm and restarted. Afterwards:
 * - the store holds exactly the last acknowledged operation of every policy (nothing acknowledged
 *   is lost across the SIGKILL);
 * - every agent's applied state — applied.json and the profile files its loader wrote — equals
 *   what the control plane should send it now (rendered here from the stored objects), within
 *   10 s of the storm's end; and the control plane's status of every host says so;
 * - the three agents that run as real processes compiled every profile with apparmor_parser, and a
 *   sample of the in-process agents' final profiles compiles with it too.
 * 197 agents run as instances of the built agent in two fleet processes (test/support/fleet-agents.ts:
 * real agent code and gRPC; profiles written, not compiled), three as real kvmagent processes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unary } from '@kvmservice/api';
import { compileAppArmorFiles } from '@kvmservice/apparmor';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { agentApplied, agentConverged, expectedArtifacts, listHosts, listPolicies, statusConverged, type ArtifactSet, type HostObject } from '../support/desired-oracle.js';
import { FleetHost } from '../support/fleet-agents.js';
import { AgentProcess, killAllProcesses, mapLimit, requireBuilt, ServiceProcess, spread, waitEach, waitFor } from '../support/fleet-processes.js';
import { ackedMismatches, hostLabelsOf, hostName, planStorm, runStorm } from '../support/policy-storm.js';
import { requireTool } from '../support/tools.js';

const HOSTS = Number(process.env.R1_HOSTS ?? 200);
const REAL_PROCESSES = 3;
const OPS = Number(process.env.R1_OPS ?? 1000);
const KILL_AFTER = Number(process.env.R1_KILL ?? 400);
const CONVERGE_LIMIT_MS = 10_000;
const SEED = Number(process.env.KVM_FAULTS_SEED ?? 1101);

describe('R1: 200 agents, a policy storm and a SIGKILL of kvmservice on SQLite', () => {
  let cp: ServiceProcess;
  const processes: AgentProcess[] = [];
  const fleets: FleetHost[] = [];

  beforeAll(async () => {
    requireBuilt();
    requireTool('apparmor_parser', 'apparmor');
    cp = await ServiceProcess.start();
  });

  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.stop().catch(() => undefined)));
    await Promise.all(processes.map((a) => a.kill()));
    await cp?.kill();
    cp?.close();
    killAllProcesses();
  });

  it('keeps every acknowledged change and converges every agent within 10 s of the storm', { timeout: 300_000 }, async () => {
    onTestFailed(() => {
      console.error(`--- kvmservice (last 30 lines)\n${cp.output.slice(-30).join('\n')}`);
      for (const a of processes) console.error(`--- ${a.options.name} (last 15 lines)\n${a.output.slice(-15).join('\n')}`);
      const first = fleets[0]?.agents[0];
      if (first) console.error(`--- ${first.name} (last 15 lines)\n${fleets[0]!.tail(first.name)}`);
    });
    const control = () => cp.control();
    const indexes = Array.from({ length: HOSTS }, (_, i) => i);
    const tokens = await mapLimit(indexes, 16, async (i) => (await unary(control().createToken.bind(control()), { hostname: hostName(i), labels: hostLabelsOf(i), ttlSeconds: 3600, description: 'R1' })).secret);

    const joinStarted = Date.now();
    for (const i of indexes.slice(0, REAL_PROCESSES)) processes.push(new AgentProcess({ name: hostName(i), servers: [cp.address], caFile: cp.caFile, token: tokens[i]! }));
    const specs = indexes.slice(REAL_PROCESSES).map((i) => ({ name: hostName(i), servers: [cp.address], caFile: cp.caFile, token: tokens[i]! }));
    fleets.push(...(await Promise.all([0, 1].map((k) => FleetHost.start(specs.filter((_, j) => j % 2 === k))))));
    const fleetAgents = fleets.flatMap((f) => f.agents);
    await waitFor(
      `${HOSTS} hosts connected with an applied state`,
      async () => {
        const hosts = await listHosts(control());
        return hosts.length === HOSTS && hosts.every((h) => h.status?.connected && h.status.applied) ? hosts : undefined;
      },
      90_000,
      500,
    );
    const joinMs = Date.now() - joinStarted;

    // The storm, with kvmservice SIGKILLed after KILL_AFTER acknowledged operations.
    const plan = planStorm({ ops: OPS, names: 80, hosts: HOSTS, seed: SEED });
    let outage: Promise<{ downMs: number; restartMs: number }> | undefined;
    const storm = await runStorm(plan, {
      concurrency: 32,
      endpoints: () => [control()],
      onAck: (done) => {
        if (done !== KILL_AFTER) return;
        outage = (async () => {
          const killed = Date.now();
          await cp.kill();
          await cp.restart();
          return { downMs: Date.now() - killed, restartMs: cp.startMs.at(-1)! };
        })();
      },
    });
    const stormEnd = Date.now();
    const killAck = storm.ackTimes[KILL_AFTER - 1]!;
    const rateBefore = (KILL_AFTER / killAck) * 1000;
    const rateAfter = ((OPS - KILL_AFTER) / Math.max(1, storm.durationMs - killAck)) * 1000;
    expect(outage, 'the storm reached the kill point').toBeDefined();
    const { downMs, restartMs } = await outage!;
    expect(storm.failures).toEqual([]);
    expect(storm.done).toBe(OPS);

    // The store holds exactly what was acknowledged.
    const policies = await listPolicies(control());
    expect(ackedMismatches(storm.acked, new Map(policies.map((p) => [p.metadata.name, p])))).toEqual([]);

    // What every host should have now, from the stored objects.
    const hosts = await listHosts(control());
    expect(hosts.length).toBe(HOSTS);
    const expected = new Map<string, ArtifactSet>(hosts.map((h) => [h.metadata.name, expectedArtifacts(policies, h)]));
    const subsetSizes = [...expected.values()].map((s) => s.size);
    expect(new Set([...expected.values()].map((s) => JSON.stringify([...s]))).size, 'hosts see different subsets').toBeGreaterThan(HOSTS / 2);

    const stateDirs = new Map<string, string>([...processes.map((a) => [a.options.name, a.stateDir] as const), ...fleetAgents.map((a) => [a.name, a.stateDir] as const)]);
    const names = [...expected.keys()];
    const applied = await waitEach(names, (name) => agentConverged(agentApplied(stateDirs.get(name)!), expected.get(name)!), stormEnd, 60_000);
    expect(applied.missing, 'agents whose applied state differs from the desired state 60 s after the storm').toEqual([]);
    let reportedHosts = new Map<string, HostObject>();
    const reported = await waitEach(
      names,
      async (name) => {
        if (name === names[0]) reportedHosts = new Map((await listHosts(control())).map((h) => [h.metadata.name, h]));
        const host = reportedHosts.get(name);
        return host !== undefined && statusConverged(host, expected.get(name)!);
      },
      stormEnd,
      60_000,
      250,
    );
    expect(reported.missing, 'hosts whose reported status differs 60 s after the storm').toEqual([]);
    const agentsMs = Math.max(...applied.times.values());
    const statusMs = Math.max(...reported.times.values());
    const processTimes = processes.map((a) => applied.times.get(a.options.name)!);
    const fleetTimes = fleetAgents.map((a) => applied.times.get(a.name)!);
    // When each agent recorded its last reconcile (its own clock, this machine), after the storm's end.
    const recorded = [...stateDirs.values()].map((dir) => Date.parse((JSON.parse(readFileSync(join(dir, 'applied.json'), 'utf8')) as { at: string }).at) - stormEnd);

    // Real processes compiled with apparmor_parser; a sample of the in-process agents' profiles compiles too.
    for (const a of processes) {
      expect(a.running, `${a.options.name} is running`).toBe(true);
      const state = agentApplied(a.stateDir)!;
      expect(state.states.every((s) => s === 'COMPILED')).toBe(true);
      for (const file of state.files.keys()) {
        const compiled = join(a.stateDir, 'apparmor', 'compiled', file);
        expect(existsSync(compiled) && statSync(compiled).size > 0, `${a.options.name}: ${file} compiled by apparmor_parser`).toBe(true);
      }
    }
    const sample = [...fleetAgents].sort((x, y) => expected.get(y.name)!.size - expected.get(x.name)!.size).slice(0, 6);
    const files = sample.flatMap((a) => [...agentApplied(a.stateDir)!.files.keys()].map((f) => join(a.stateDir, 'apparmor', 'profiles', f)));
    const compiled = await compileAppArmorFiles(files);
    expect(compiled.filter((c) => !c.ok)).toEqual([]);

    console.log(
      `R1 summary: hosts=${HOSTS} (agent processes=${REAL_PROCESSES}, fleet agents=${fleetAgents.length}) joined+connected in ${joinMs} ms; ` +
        `storm ops=${storm.done}/${OPS} in ${storm.durationMs} ms (${rateBefore.toFixed(1)} ops/s before the kill, ${rateAfter.toFixed(1)} ops/s from the kill on), retries=${storm.retries} (self-races ${storm.selfRaces}), internal-errors=${storm.internalErrors.length}; ` +
        `kvmservice SIGKILL after ${KILL_AFTER} acks, down ${downMs} ms (restart ${restartMs} ms); live policies=${policies.length}, ` +
        `profiles per host min/max=${Math.min(...subsetSizes)}/${Math.max(...subsetSizes)}; ` +
        `converged after storm end (p50/p95/max): fleet agents ${spread(fleetTimes)}, agent processes ${spread(processTimes)}, all applied ${agentsMs} ms (last reconcile recorded ${Math.max(...recorded)} ms), all reported in status ${statusMs} ms; ` +
        `sample compiled with apparmor_parser=${files.length} profiles`,
    );
    expect(storm.internalErrors, 'INTERNAL answers during the storm').toEqual([]);
    expect(agentsMs).toBeLessThanOrEqual(CONVERGE_LIMIT_MS);
    expect(statusMs).toBeLessThanOrEqual(CONVERGE_LIMIT_MS);
  });
});
