/**
 * kvmservice and three kvmagent processes (dry-run, separate state dirs, different labels), real
 * gRPC over TLS on loopback, real apparmor_parser: a policy lands, compiled, in exactly the state
 * dirs of the hosts it selects; the control plane's status says applied with the revision;
 * deleting the policy removes the artifacts; a label change moves it. Then an outage: kvmservice
 * stopped, agents restarted → they re-apply from disk; kvmservice back, a change → they converge.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../support/tools.js';
import { Agent, ControlPlane, dumpOnFailure, freePort, hostPolicy, killAll, requireBuilt, waitFor } from './agent-harness.js';

describe('kvmagent fleet', () => {
  let cp: ControlPlane;
  const agents: Record<string, Agent> = {};

  beforeAll(async () => {
    requireTool('apparmor_parser', 'apparmor');
    requireBuilt();
    cp = await ControlPlane.start();
  });

  afterAll(async () => {
    await Promise.all(Object.values(agents).map((a) => a.stop().catch(() => undefined)));
    await cp?.stop().catch(() => undefined);
    cp?.close();
    killAll();
  });

  /** The host's status once its applied revision is the desired one. */
  async function converged(name: string) {
    return waitFor(`${name} to apply its desired state`, async () => {
      const host = await cp.host(name);
      const s = host.status;
      return s?.connected && s.desired && s.applied && s.applied.revision === s.desired.revision && s.applied.hash === s.desired.hash ? s : undefined;
    }, 30_000, 200);
  }

  const profilesWith = (a: Agent, path: string) => a.compiled().filter((f) => a.profile(f).includes(path));
  const dump = () => dumpOnFailure(() => [{ name: 'kvmservice', output: cp.output }, ...Object.entries(agents).map(([name, a]) => ({ name, output: a.output }))]);

  it('places, removes and moves policies by label, and reports them applied', { timeout: 150_000 }, async () => {
    dump();
    const hosts = { 'web-1': { env: 'prod', role: 'web' }, 'web-2': { env: 'prod', role: 'web' }, 'db-1': { env: 'prod', role: 'db' } };
    // web-1 lists a server that is down first: it tries the next one.
    const down = `127.0.0.1:${await freePort()}`;
    for (const [name, labels] of Object.entries(hosts)) {
      agents[name] = new Agent({ name, server: cp, token: await cp.token(name), labels, ...(name === 'web-1' ? { serversBefore: [down] } : {}) });
    }
    for (const name of Object.keys(hosts)) await converged(name);
    expect((await cp.host('db-1')).metadata.labels).toMatchObject({ env: 'prod', role: 'db' });
    expect(agents['web-1']!.logs('join failed; retrying').some((l) => l.server === down)).toBe(true);
    expect(agents['web-1']!.logs('joined')[0]).toMatchObject({ server: cp.address });

    // A policy for role=web lands in exactly web-1's and web-2's state dirs, compiled.
    await cp.apply(hostPolicy('web-secrets', { role: 'web' }, '/srv/web/secret.key'));
    for (const name of ['web-1', 'web-2']) {
      await waitFor(`${name} to compile web-secrets`, () => profilesWith(agents[name]!, '/srv/web/secret.key').length > 0);
      const status = await converged(name);
      expect(status.desired.policies.map((p: { name: string }) => p.name)).toEqual(['web-secrets']);
      expect(status.applied.artifacts.length).toBeGreaterThan(0);
      for (const a of status.applied.artifacts) {
        expect(a).toMatchObject({ lsm: 'apparmor', state: 'COMPILED', policies: expect.arrayContaining(['web-secrets']) });
        expect(a.message).toMatch(/compiled with apparmor_parser.*dry-run/);
      }
      expect(agents[name]!.compiled().length).toBe(status.applied.artifacts.length);
      // Applied with the revision, honestly not enforced.
      expect(status.conditions.find((c: { type: string }) => c.type === 'PolicyApplied')).toMatchObject({ status: 'False', reason: 'Unenforced' });
    }
    const db = await converged('db-1');
    expect(db.desired.policies).toEqual([]);
    expect(agents['db-1']!.compiled()).toEqual([]);

    // Deleting the policy removes the artifacts.
    await cp.delete('hsp', 'web-secrets');
    for (const name of ['web-1', 'web-2']) {
      await waitFor(`${name} to remove web-secrets`, () => agents[name]!.compiled().length === 0);
      expect((await converged(name)).applied.artifacts).toEqual([]);
    }

    // A label change moves a policy: web-2 leaves role=web, db-1 joins it.
    await cp.apply(hostPolicy('web-secrets', { role: 'web' }, '/srv/web/secret.key'));
    await waitFor('web-2 to compile web-secrets again', () => profilesWith(agents['web-2']!, '/srv/web/secret.key').length > 0);
    await cp.label('web-2', { role: 'batch' });
    await cp.label('db-1', { role: 'web' });
    await waitFor('db-1 to get web-secrets', () => profilesWith(agents['db-1']!, '/srv/web/secret.key').length > 0);
    await waitFor('web-2 to lose web-secrets', () => agents['web-2']!.compiled().length === 0);
    expect(profilesWith(agents['web-1']!, '/srv/web/secret.key').length).toBeGreaterThan(0);
    for (const name of Object.keys(hosts)) await converged(name);
  });

  it('re-applies from disk while the control plane is down, and converges when it is back', { timeout: 150_000 }, async () => {
    dump();
    await cp.stop();
    for (const a of Object.values(agents)) expect(await a.stop()).toBe(0);
    // As after a reboot: what was loaded is gone; the state dir keeps the last desired state.
    for (const a of Object.values(agents)) rmSync(join(a.stateDir, 'apparmor', 'compiled'), { recursive: true, force: true });
    for (const a of Object.values(agents)) a.restart({ token: undefined });
    for (const name of ['web-1', 'db-1']) {
      const a = agents[name]!;
      await a.waitLog('re-applying the last desired state from disk');
      await waitFor(`${name} to re-apply web-secrets from disk`, () => profilesWith(a, '/srv/web/secret.key').length > 0);
      await waitFor(`${name} to log the reconcile from disk`, () => a.logs('reconciled').some((l) => l.from === 'disk'));
    }
    await agents['web-2']!.waitLog('reconciled');
    expect(agents['web-2']!.compiled()).toEqual([]);
    // Still no control plane: every agent keeps running and retrying.
    await waitFor('reconnect attempts', () => Object.values(agents).every((a) => a.logs('disconnected from the control plane').length > 0 || a.logs('connecting').length > 1));
    expect(Object.values(agents).every((a) => a.running)).toBe(true);

    await cp.restart();
    await cp.apply(hostPolicy('prod-keys', { env: 'prod' }, '/srv/prod/keys.pem'));
    for (const name of Object.keys(agents)) {
      await waitFor(`${name} to compile prod-keys`, () => profilesWith(agents[name]!, '/srv/prod/keys.pem').length > 0, 40_000);
      const status = await converged(name);
      expect(status.desired.policies.map((p: { name: string }) => p.name)).toContain('prod-keys');
    }
    expect(profilesWith(agents['web-2']!, '/srv/web/secret.key')).toEqual([]);
    expect(profilesWith(agents['db-1']!, '/srv/web/secret.key').length).toBeGreaterThan(0);
    expect(existsSync(join(agents['web-1']!.stateDir, 'credential.json'))).toBe(true);
  });
});
