/**
 * The agent installer end to end: a real kvmservice (TLS, SQLite) with the install HTTP controller,
 * the agent bundle built by scripts/bundle-agent.mjs, the script downloaded over HTTP and run with
 * `--root DIR --no-systemd`. The installed agent starts from DIR, joins and shows as connected; a
 * second run upgrades it in place; `--uninstall` stops it and leaves DIR empty. The token never
 * appears on a command line or in the installer's output.
 */
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { unary } from '@kvmservice/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthService } from '../../apps/kvmservice/src/auth/auth-service.js';
import { InstallController } from '../../apps/kvmservice/src/install/install.controller.js';
import { InstallService } from '../../apps/kvmservice/src/install/install.service.js';
import { startTestService, freePort, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { CONFIG, LOGGER, TLS } from '../../apps/kvmservice/src/tokens.js';
import { repoRoot } from '../support/conformance.js';
import { requireTool } from '../support/tools.js';

const HOST = 'vm-install';

/** The control plane's HTTP side for the installer, wired to a running test service. */
async function startInstallHttp(service: TestService): Promise<{ app: INestApplication; base: string }> {
  class InstallTestModule {}
  // The decorator as a call: test files are compiled without legacy decorators.
  Module({
    controllers: [InstallController],
    providers: [
      InstallService,
      { provide: CONFIG, useValue: service.config },
      { provide: TLS, useValue: service.tls },
      { provide: LOGGER, useValue: service.log },
      { provide: AuthService, useValue: service.app.get(AuthService) },
    ],
  })(InstallTestModule);
  const app = await NestFactory.create(InstallTestModule, { logger: false });
  const port = await freePort();
  await app.listen(port, '127.0.0.1');
  return { app, base: `http://127.0.0.1:${port}` };
}

/** Runs the installer as a separate process (asynchronously: the control plane answers from this process). */
function runInstaller(script: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { env: { PATH: process.env.PATH ?? '', TMPDIR: tmpdir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Repacks a bundle with one more file, so that it is a different release of the agent. */
function repack(tgz: string, out: string, marker: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kvmagent-repack-'));
  expect(spawnSync('tar', ['-xzf', tgz, '-C', dir]).status).toBe(0);
  writeFileSync(join(dir, 'kvmagent', 'BUILD'), `${marker}\n`);
  expect(spawnSync('sh', ['-c', 'tar -C "$1" -cf - kvmagent | gzip -n > "$2"', 'sh', dir, out]).status).toBe(0);
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe('agent installer (kvmagent.sh) against a local kvmservice', () => {
  let service: TestService;
  let http: { app: INestApplication; base: string };
  let work: string;
  let served: string;
  let builtBundle: string;
  const agents: ChildProcess[] = [];

  beforeAll(async () => {
    requireTool('apparmor_parser', 'apparmor');
    requireTool('curl', 'curl');
    work = mkdtempSync(join(tmpdir(), 'kvmagent-installer-'));
    const bundle = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bundle-agent.mjs'), '--out', join(work, 'bundle')], { encoding: 'utf8', timeout: 120_000 });
    expect(bundle.stderr).toBe('');
    expect(bundle.status).toBe(0);
    builtBundle = join(work, 'bundle', 'kvmagent.tgz');
    served = join(work, 'served', 'kvmagent.tgz');
    mkdirSync(join(work, 'served'));
    cpSync(builtBundle, served);
    process.env.KVMSERVICE_AGENT_BUNDLE = served;
    service = await startTestService();
    http = await startInstallHttp(service);
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
    await http?.app.close();
    await service?.close();
    delete process.env.KVMSERVICE_AGENT_BUNDLE;
  });

  async function connected(): Promise<boolean> {
    try {
      const got = await unary(service.control().get.bind(service.control()), { kind: 'KubeArmorVirtualMachine', name: HOST });
      return (JSON.parse(got.object) as { status?: { connected?: boolean } }).status?.connected === true;
    } catch {
      return false;
    }
  }

  async function waitConnected(agent: ChildProcess, log: () => string): Promise<void> {
    for (let i = 0; i < 150; i++) {
      if (await connected()) return;
      if (agent.exitCode !== null) throw new Error(`the agent exited with ${agent.exitCode}: ${log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the agent did not connect in 30 s: ${log()}`);
  }

  function startInstalledAgent(root: string): { agent: ChildProcess; log: () => string } {
    const agent = spawn(join(root, 'opt/kvmagent/bin/kvmagent'), ['--config', join(root, 'etc/kvmagent/config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    agents.push(agent);
    let out = '';
    agent.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    agent.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    return { agent, log: () => out };
  }

  async function stop(agent: ChildProcess): Promise<void> {
    if (agent.exitCode !== null) return;
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
  }

  it('installs into a directory, the agent joins and connects; a second run upgrades; --uninstall cleans the directory', async () => {
    const control = service.control();
    const created = await unary(control.createToken.bind(control), { hostname: HOST, labels: { env: 'installer-test' }, ttlSeconds: 600, description: 'installer e2e' });
    const token = created.secret;

    // The script, fetched as a host would (token in a header, not in the URL).
    const response = await fetch(`${http.base}/install.sh`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const script = join(work, 'install.sh');
    writeFileSync(script, await response.text());
    expect(readFileSync(script, 'utf8')).toContain(`KVM_TOKEN='${token}'`);

    // A bad token is refused before anything is installed.
    const bad = await fetch(`${http.base}/install.sh?token=zzzzzz.0123456789abcdef`);
    expect(bad.status).toBe(401);
    expect(await bad.text()).toBe('invalid, expired or already used bootstrap token\n');

    const root = join(work, 'root');
    const first = await runInstaller(script, ['--root', root, '--no-systemd', '--dry-run', '--lsm', 'apparmor']);
    expect(first.stderr).not.toContain(token);
    expect(first.stdout).not.toContain(token);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('kvmagent-install: installed the agent 0.1.0');
    const config = join(root, 'etc/kvmagent/config.yaml');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'etc/kvmagent')).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(root, 'etc/kvmagent/ca.crt'), 'utf8')).toBe(service.tls!.caCertPem.trimEnd() + '\n');
    expect(readFileSync(config, 'utf8')).toContain(`token: "${token}"`);
    const release1 = readlinkSync(join(root, 'opt/kvmagent/current'));

    const { agent, log } = startInstalledAgent(root);
    await waitConnected(agent, log);
    expect(cmdline(agent.pid!).join(' ')).not.toContain(token);
    expect(cmdline(agent.pid!)).toContain(join(root, 'opt/kvmagent/current/lib/main.js'));
    // It joined with the token's labels.
    const host = JSON.parse((await unary(control.get.bind(control), { kind: 'KubeArmorVirtualMachine', name: HOST })).object) as { metadata: { labels: Record<string, string> } };
    expect(host.metadata.labels).toMatchObject({ env: 'installer-test' });
    await stop(agent);

    // Running the same installer again changes nothing.
    const same = await runInstaller(script, ['--root', root, '--no-systemd', '--dry-run', '--lsm', 'apparmor']);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stderr).toContain('the agent is at 0.1.0 already');

    // A new agent release on the control plane; the host fetches a new script without a token
    // (it has its credential) and upgrades in place.
    repack(builtBundle, served, 'upgrade-test');
    const again = await fetch(`${http.base}/install.sh`);
    expect(again.status).toBe(200);
    const script2 = join(work, 'install2.sh');
    writeFileSync(script2, await again.text());
    expect(readFileSync(script2, 'utf8')).toContain("KVM_TOKEN=''");
    const second = await runInstaller(script2, ['--root', root, '--no-systemd', '--dry-run', '--lsm', 'apparmor']);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('kvmagent-install: upgraded the agent to 0.1.0');
    const release2 = readlinkSync(join(root, 'opt/kvmagent/current'));
    expect(release2).not.toBe(release1);
    expect(readFileSync(join(root, 'opt/kvmagent', release2, 'BUILD'), 'utf8')).toBe('upgrade-test\n');
    expect(readdirSync(join(root, 'opt/kvmagent/releases')).sort()).toEqual([release1, release2].map((r) => r.replace('releases/', '')).sort());
    expect(readFileSync(config, 'utf8')).not.toContain('token:');

    const upgraded = startInstalledAgent(root);
    await waitConnected(upgraded.agent, upgraded.log);

    // --uninstall stops the running agent and leaves the directory as it was (empty).
    const exited = new Promise((r) => upgraded.agent.once('exit', r));
    const removed = await runInstaller(script2, ['--uninstall', '--root', root, '--no-systemd']);
    expect(removed.status, removed.stderr).toBe(0);
    await exited;
    expect(readdirSync(root)).toEqual([]);
  }, 180_000);

  it('renders the installer for kvmctl vm getscript: bound to the host, with a new token that the API lists', async () => {
    const install = http.app.get(InstallService);
    const script = await install.scriptForHost({ hostname: 'vm-getscript', createToken: true, tokenTtlSeconds: 300 });
    expect(script).toContain("KVM_HOSTNAME='vm-getscript'");
    const token = /^KVM_TOKEN='([a-z0-9]{6})\.([a-z0-9]{16})'$/m.exec(script);
    expect(token).not.toBeNull();
    const control = service.control();
    const listed = (await unary(control.listTokens.bind(control), {})).tokens.find((t) => t.id === token![1]);
    expect(listed).toMatchObject({ hostname: 'vm-getscript', usedBy: '' });
    expect(Number(listed!.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);
    // Without a token: the host must bring one at run time or have its credential.
    expect(await install.scriptForHost({ hostname: 'vm-getscript', createToken: false })).toContain("KVM_TOKEN=''");
    await expect(install.scriptForHost({ hostname: '', createToken: true })).rejects.toThrow('hostname: is required');
  });

  it('passes shellcheck without a warning', () => {
    const shellcheck = requireTool('shellcheck', 'shellcheck');
    const run = spawnSync(shellcheck, ['-S', 'warning', join(repoRoot, 'deploy', 'install', 'kvmagent.sh')], { encoding: 'utf8' });
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
  });

  it('refuses a bundle whose sha256 differs, and a token on the command line, installing nothing', async () => {
    const root = join(work, 'refused');
    const script = join(work, 'install.sh');
    const wrong = await runInstaller(script, ['--root', root, '--no-systemd', '--dry-run', '--lsm', 'apparmor', '--bundle-sha256', '0'.repeat(64)]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/the bundle's sha256 is [0-9a-f]{64}, expected 0{64}: refusing to install it/);
    expect(existsSync(root)).toBe(false);
    const argvToken = await runInstaller(script, ['--root', root, '--no-systemd', '--token', 'abcdef.0123456789abcdef']);
    expect(argvToken.status).toBe(1);
    expect(argvToken.stderr).toContain('--token would show the secret in the process list');
    expect(argvToken.stderr).not.toContain('0123456789abcdef');
  });
});
