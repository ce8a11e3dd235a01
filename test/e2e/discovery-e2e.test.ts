/**
 * Discovery end to end with real processes: kvmservice (SQLite) and one kvmagent (dry-run: real
 * apparmor_parser, compile only) tailing an audit log this test writes — recorded Linux-audit
 * syscall records (file reads, a connect, an exec) and complain-mode AppArmor records of a binary
 * in learning mode. Through kvmctl (in-process, against the real server):
 * `discover start` → the host's profile for the binary is rendered in complain mode and compiled
 * in the agent's state dir; `discover --host` → the expected KubeArmorHostPolicy, equal to what
 * the offline `--from-log` path finds in the same log; `--apply` → DiscoveredPolicy Active and the
 * policy in the agent's desired state and compiled profile; `discover stop` → enforce mode again.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocuments, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { kvmctl } from '../../apps/kvmctl/src/testing/run.js';
import { requireTool } from '../support/tools.js';
import { Agent, ControlPlane, dumpOnFailure, killAll, requireBuilt, tempDir, waitFor } from './agent-harness.js';
import { FETCHER, FETCHER_PROFILE, fetcherAuditLog } from '../support/fetcher-audit-log.js';

const HOST = 'fetch-1';
const BINARY = FETCHER;
const PROFILE = FETCHER_PROFILE;

/** What the host's audit log records while fetcher learns. */
const recordedLog = (): string => `${fetcherAuditLog(500, 600).join('\n')}\n`;

describe('discovery end to end (kvmservice, kvmagent, kvmctl)', () => {
  let cp: ControlPlane;
  let agent: Agent;
  let log: string;
  let env: Record<string, string>;
  const k = (argv: string[]) => kvmctl(argv, '', env);
  const desired = () => JSON.parse(readFileSync(join(agent.stateDir, 'desired.json'), 'utf8')) as { policies: { name: string }[]; learningBinaries: string[]; artifacts: { name: string; content: string }[] };
  const compiledProfile = () => (agent.compiled().includes(PROFILE) ? agent.profile(PROFILE) : undefined);

  beforeAll(async () => {
    requireTool('apparmor_parser', 'apparmor');
    requireBuilt();
    cp = await ControlPlane.start();
    env = { KVMCTL_CONFIG: join(cp.dataDir, 'kvmctl.yaml') };
    log = join(tempDir('discovery-e2e-log-'), 'audit.log');
    writeFileSync(log, '');
    agent = new Agent({ name: HOST, server: cp, token: await cp.token(HOST), logSource: log });
    await agent.waitLog('reconciled');
  }, 90_000);

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    cp?.close();
    killAll();
  });

  const dump = () => dumpOnFailure(() => [{ name: 'kvmservice', output: cp.output }, { name: 'agent', output: agent.output }]);

  it('discover start: the binary\'s profile is rendered in complain mode and compiled by the agent, visibility on', { timeout: 60_000 }, async () => {
    dump();
    const started = await k(['discover', 'start', '--host', HOST, '--binary', BINARY, '--duration', '10m']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(new RegExp(`^kubearmorvirtualmachine.security.kubearmor.com/${HOST} learning until \\S+Z: ${BINARY} recorded in complain mode`));
    const profile = await waitFor('the complain-mode profile compiled in the state dir', () => compiledProfile(), 30_000, 200);
    expect(profile).toContain(`profile ${PROFILE} "${BINARY}" flags=(attach_disconnected,mediate_deleted,complain) {`);
    expect(desired().learningBinaries).toEqual([BINARY]);
    expect((await cp.host(HOST)).spec.learning).toMatchObject({ binaries: [BINARY] });
  });

  it('discover --host: the recorded log, uploaded by the agent, gives the expected policy (as the offline path finds it)', { timeout: 60_000 }, async () => {
    dump();
    // The agent has applied the learning state (visibility included) before the records are written.
    await waitFor('the agent to apply the learning state', async () => {
      const s = (await cp.host(HOST)).status;
      return s?.applied && s.desired && s.applied.revision === s.desired.revision && s.applied.hash === s.desired.hash ? true : undefined;
    }, 30_000, 200);
    appendFileSync(log, recordedLog());
    await waitFor('six records uploaded', async () => ((await cp.events(HOST)).length >= 6 ? true : undefined), 30_000, 250);

    const server = await k(['discover', '--host', HOST, '--kind', 'KubeArmorHostPolicy']);
    expect(server.code).toBe(0);
    const objects = parseDocuments(server.stdout, '-').map((d) => d.object as KubeArmorHostPolicy);
    expect(objects).toHaveLength(1);
    const hsp = objects[0]!;
    expect(validateResource(hsp).valid).toBe(true);
    expect(hsp.metadata.name).toMatch(/^autopol-host-fetch-1-usr-local-bin-fetcher-[0-9a-f]{8}$/);
    expect(hsp.spec.nodeSelector.matchLabels).toEqual({ 'kubearmor.io/hostname': HOST });
    const from = [{ path: BINARY }];
    expect(hsp.spec.process?.matchPaths).toEqual([{ path: '/usr/bin/tar', fromSource: from }]);
    expect(hsp.spec.file?.matchPaths).toEqual([
      { path: '/etc/fetcher/config.yaml', readOnly: true, ownerOnly: true, fromSource: from },
      { path: '/etc/hosts', readOnly: true, ownerOnly: true, fromSource: from },
      { path: '/var/lib/fetcher/state.json', ownerOnly: true, fromSource: from },
    ]);
    expect(hsp.spec.capabilities?.matchCapabilities).toEqual([{ capability: 'net_bind_service', fromSource: from }]);

    const offline = await k(['discover', '--from-log', log, '--hostname', HOST, '--kind', 'KubeArmorHostPolicy']);
    expect(offline.stdout).toBe(server.stdout);

    const firewall = await k(['discover', '--host', HOST, '--kind', 'ccnp', '-o', 'json']);
    const ccnp = JSON.parse(firewall.stdout).items[0];
    expect(ccnp.spec.egress).toEqual(expect.arrayContaining([{ toCIDR: ['203.0.113.7/32'], toPorts: [{ ports: [{ port: '443', protocol: 'ANY' }] }] }]));
  });

  it('discover --apply: the DiscoveredPolicy is Active and the policy is enforced by the agent', { timeout: 60_000 }, async () => {
    dump();
    const applied = await k(['discover', '--host', HOST, '--kind', 'KubeArmorHostPolicy', '--apply']);
    expect(applied.code).toBe(0);
    const [dspLine, hspLine] = applied.stdout.trim().split('\n');
    const name = /^discoveredpolicy\.security\.kubearmor\.com\/(\S+) configured$/.exec(dspLine ?? '')?.[1];
    expect(name, applied.stdout).toMatch(/^autopol-host-fetch-1-usr-local-bin-fetcher-[0-9a-f]{8}$/);
    expect(hspLine).toBe(`kubearmorhostpolicy.security.kubearmor.com/${name} created`);
    const dsps = await k(['get', 'dsp', name!, '-o', 'json']);
    expect(JSON.parse(dsps.stdout).spec.status).toBe('Active');

    await waitFor('the policy in the agent\'s desired state', () => desired().policies.some((p) => p.name === name) || undefined, 30_000, 200);
    const profile = await waitFor('the compiled profile with the discovered rules', () => (compiledProfile()?.includes('/etc/fetcher/config.yaml') ? compiledProfile() : undefined), 30_000, 200);
    expect(profile).toContain('"/etc/fetcher/config.yaml" klr,');
    expect(profile).toContain('"/usr/bin/tar"');
    // Still learning: complain mode, until stop.
    expect(profile).toContain('complain');
  });

  it('discover stop: the profile is enforced again', { timeout: 60_000 }, async () => {
    dump();
    const stopped = await k(['discover', 'stop', '--host', HOST]);
    expect(stopped).toEqual({ code: 0, stdout: `kubearmorvirtualmachine.security.kubearmor.com/${HOST} learning stopped\n`, stderr: '' });
    const profile = await waitFor('the profile out of complain mode', () => {
      const p = compiledProfile();
      return p && !p.includes('complain') ? p : undefined;
    }, 30_000, 200);
    expect(profile).toContain(`profile ${PROFILE} "${BINARY}" flags=(attach_disconnected,mediate_deleted) {`);
    expect(profile).toContain('"/etc/fetcher/config.yaml" klr,');
    expect(desired().learningBinaries).toEqual([]);
    expect((await cp.host(HOST)).spec?.learning).toBeUndefined();
    expect((await k(['discover', 'stop', '--host', HOST])).stdout).toBe(`kubearmorvirtualmachine.security.kubearmor.com/${HOST} was not learning\n`);
  });
});
