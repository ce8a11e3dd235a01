/**
 * A corrupted state dir never makes a crash loop: a garbage desired-state file is moved aside
 * with one clear error and the control plane's state replaces it; a truncated credential is moved
 * aside and the host joins again with a fresh token — or, when the only token was spent, the agent
 * says so once, keeps enforcing what it has, and joins as soon as a new token is in its config
 * (SIGHUP). Settings and state problems that a restart cannot fix exit with code 2.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../support/tools.js';
import { Agent, ControlPlane, dumpOnFailure, hostPolicy, killAll, requireBuilt, tempDir, waitFor } from './agent-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kvmagent with a corrupted state dir', () => {
  let cp: ControlPlane;
  const agents: Agent[] = [];
  const dump = () => dumpOnFailure(() => [{ name: 'kvmservice', output: cp.output }, ...agents.map((a, i) => ({ name: `agent ${i}`, output: a.output }))]);

  beforeAll(async () => {
    requireTool('apparmor_parser', 'apparmor');
    requireBuilt();
    cp = await ControlPlane.start();
    await cp.apply(hostPolicy('guard', { env: 'lab' }, '/srv/lab/secret.key'));
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    await cp?.stop().catch(() => undefined);
    cp?.close();
    killAll();
  });

  async function joined(name: string): Promise<Agent> {
    const agent = new Agent({ name, server: cp, token: await cp.token(name), labels: { env: 'lab' } });
    agents.push(agent);
    await waitFor(`${name} to compile guard`, () => agent.compiled().length > 0);
    await waitFor(`${name} to be applied`, async () => {
      const s = (await cp.host(name)).status;
      return s?.applied?.revision === s?.desired?.revision && s?.applied?.revision > 0;
    });
    expect(await agent.stop()).toBe(0);
    return agent;
  }

  it('moves a garbage desired-state file aside and takes the control plane\'s', { timeout: 120_000 }, async () => {
    dump();
    const agent = await joined('corrupt-desired');
    writeFileSync(join(agent.stateDir, 'desired.json'), '{"revision": 12, "artifacts": [ \u0000\u0001 garbage');
    agent.restart({ token: undefined });
    await agent.waitLog('is corrupt');
    const [error] = agent.logs('desired state file');
    expect(error).toMatchObject({ level: 'error' });
    expect(error!.msg).toMatch(/desired state file .*desired\.json is corrupt \(not valid JSON .*\); moved to .*desired\.json\.corrupt-/);
    await waitFor('a fresh desired state on disk', () => {
      try {
        return JSON.parse(readFileSync(join(agent.stateDir, 'desired.json'), 'utf8')).revision > 0;
      } catch {
        return false;
      }
    });
    expect(readdirSync(agent.stateDir).some((f) => f.startsWith('desired.json.corrupt-'))).toBe(true);
    await agent.waitLog('reconciled');
    expect(agent.running).toBe(true);
    expect(agent.logs('is corrupt')).toHaveLength(1);
  });

  it('joins again with a fresh token after the credential was truncated', { timeout: 120_000 }, async () => {
    dump();
    const agent = await joined('corrupt-cred');
    const file = join(agent.stateDir, 'credential.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    agent.restart({ token: await cp.token('corrupt-cred') });
    await agent.waitLog('joined');
    expect(agent.logs('credential file')[0]!.msg).toMatch(/credential file .*credential\.json is corrupt \(not valid JSON .*\); moved to .*; the host must join again/);
    await waitFor('connected again', async () => (await cp.host('corrupt-cred')).status?.connected === true);
    expect(JSON.parse(readFileSync(file, 'utf8')).hostname).toBe('corrupt-cred');
    expect(agent.running).toBe(true);
  });

  it('with only a spent token: says so once, keeps enforcing, joins after a new token and SIGHUP', { timeout: 120_000 }, async () => {
    dump();
    const first = await joined('spent-token');
    const spent = first.options.token!;
    const file = join(first.stateDir, 'credential.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
    // The token comes from a config file, as an installer writes it.
    const config = join(tempDir('kvmagent-e2e-config-'), 'config.yaml');
    writeFileSync(config, `token: ${spent}\n`);
    first.restart({ token: undefined, extra: ['--config', config] });
    await first.waitLog('join refused');
    expect(first.logs('join refused')[0]!.msg).toMatch(/join refused by 127\.0\.0\.1:\d+: invalid, expired or already used bootstrap token; create a new token \(kvmctl token create --hostname spent-token\)/);
    // Meanwhile the last desired state is enforced from disk, and nothing loops.
    await first.waitLog('re-applying the last desired state from disk');
    await sleep(3000);
    expect(first.running).toBe(true);
    expect(first.logs('joining')).toHaveLength(1);
    expect(first.logs('join refused')).toHaveLength(1);

    writeFileSync(config, `token: ${await cp.token('spent-token')}\n`);
    first.signal('SIGHUP');
    await first.waitLog('joined');
    await waitFor('connected again', async () => (await cp.host('spent-token')).status?.connected === true);
    expect(existsSync(file)).toBe(true);
  });

  it('exits with code 2 and one line when a restart cannot help', { timeout: 60_000 }, async () => {
    dump();
    // No credential and no token.
    const lost = new Agent({ name: 'no-token', server: cp });
    agents.push(lost);
    expect((await lost.exited()).code).toBe(2);
    expect(lost.output.join('\n')).toMatch(/kvmagent: no credential \(.*credential\.json\) and no bootstrap token: pass --token TOKEN/);

    // The state dir of a running agent.
    const running = new Agent({ name: 'busy', server: cp, token: await cp.token('busy') });
    agents.push(running);
    await running.waitLog('joined');
    const second = new Agent({ name: 'busy', server: cp, stateDir: running.stateDir });
    agents.push(second);
    expect((await second.exited()).code).toBe(2);
    expect(second.output.join('\n')).toMatch(/state dir .* is in use by another kvmagent \(pid \d+\)/);
    expect(running.running).toBe(true);

    // A bad flag.
    const bad = new Agent({ name: 'bad', server: cp, token: 'x', extra: ['--visibility', 'everything'] });
    agents.push(bad);
    expect((await bad.exited()).code).toBe(2);
    expect(bad.output[0]).toBe('kvmagent: --visibility: "everything" is not one of process, file, network, capabilities');
  });
});
