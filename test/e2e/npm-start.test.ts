/**
 * `npm start` on a fresh data directory: kvmservice on SQLite and a local agent; `kvmctl get kvm`
 * shows this machine connected; Ctrl-C (SIGINT) stops both.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../apps/kvmservice/src/testing/service-harness.js';
import { repoRoot } from '../support/conformance.js';

describe('npm start', () => {
  it('runs kvmservice with a local agent that kvmctl shows, and stops on Ctrl-C', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'npm-start-'));
    const env = { ...process.env, KVMSERVICE_DATA_DIR: dataDir, KVMSERVICE_GRPC_PORT: String(await freePort()), KVMSERVICE_HTTP_PORT: String(await freePort()) };
    const npm = spawn('npm', ['start', '--silent'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    npm.stdout.on('data', (d) => (output += d));
    npm.stderr.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    try {
      await expect.poll(() => output.includes('npm start: ready'), { timeout: 60_000, interval: 200 }).toBe(true);
      expect(output).toMatch(/kvmagent for this machine \(.+\): (this kernel has no AppArmor or SELinux|.+ is active)/);
      const me = hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-');
      const kvmctl = (args: string[]) =>
        promisify(execFile)(process.execPath, [join(repoRoot, 'apps/kvmctl/bin/kvmctl.js'), ...args], { cwd: repoRoot, env: { ...process.env, KVMCTL_CONFIG: join(dataDir, 'kvmctl.yaml') } });
      await expect
        .poll(async () => (await kvmctl(['get', 'kvm', me, '-o', 'json'])).stdout, { timeout: 30_000, interval: 500 })
        .toMatch(/"connected": true/);
      const table = (await kvmctl(['get', 'kvm'])).stdout;
      expect(table.split('\n')[0]).toMatch(/^NAME\s+STATUS/);
      expect(table).toMatch(new RegExp(`^${me.replace(/\./g, '\\.')}\\s+Connected`, 'm'));
    } finally {
      // Ctrl-C reaches the whole foreground process group: npm and its children.
      process.kill(-npm.pid!, 'SIGINT');
    }
    await exited;
    // Both children stopped: nothing answers on the HTTP port any more.
    await expect
      .poll(
        async () => {
          try {
            await fetch(`http://127.0.0.1:${env.KVMSERVICE_HTTP_PORT}/healthz`);
            return 'still serving';
          } catch {
            return 'stopped';
          }
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe('stopped');
    // And no process of this run (they all name the data directory) is left.
    const left = await promisify(execFile)('pgrep', ['-f', dataDir]).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    expect(left).toBe('');
  }, 120_000);
});
