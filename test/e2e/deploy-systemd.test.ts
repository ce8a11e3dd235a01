/**
 * The systemd units: `systemd-analyze verify` (Debian's systemd) accepts both, in a throw-away root
 * holding the system's own unit tree and the installed executables; the environment file is
 * accepted by kvmservice's config reader as it stands.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveServiceConfig } from '../../apps/kvmservice/src/config/service-config.js';
import { repoRoot } from '../support/conformance.js';
import { requireTool } from '../support/tools.js';

const systemdDir = join(repoRoot, 'deploy', 'systemd');

/** A root with the distribution's units, our units in /etc/systemd/system and the executables they start. */
function unitRoot(units: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'systemd-root-'));
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  for (const [name, text] of Object.entries(units)) writeFileSync(join(root, 'etc/systemd/system', name), text);
  for (const bin of ['opt/kvmagent/bin/kvmagent', 'opt/kvmservice/bin/kvmservice']) {
    mkdirSync(join(root, bin, '..'), { recursive: true });
    writeFileSync(join(root, bin), '#!/bin/sh\n');
    chmodSync(join(root, bin), 0o755);
  }
  mkdirSync(join(root, 'etc/kvmservice'), { recursive: true });
  cpSync(join(systemdDir, 'kvmservice.env'), join(root, 'etc/kvmservice/kvmservice.env'));
  return root;
}

function verify(units: Record<string, string>) {
  const tool = requireTool('systemd-analyze', 'systemd');
  const root = unitRoot(units);
  return spawnSync(tool, ['verify', `--root=${root}`, ...Object.keys(units).map((n) => `/etc/systemd/system/${n}`)], { encoding: 'utf8', timeout: 60_000 });
}

const read = (name: string) => readFileSync(join(systemdDir, name), 'utf8');

describe('systemd units', () => {
  it('systemd-analyze verify accepts kvmservice.service and kvmagent.service without a warning', () => {
    const run = verify({ 'kvmservice.service': read('kvmservice.service'), 'kvmagent.service': read('kvmagent.service') });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('systemd-analyze verify in this set-up does refuse a broken unit (so the check above can fail)', () => {
    const broken = read('kvmagent.service').replace('Restart=always', 'Restart=always\nRestartSteps=5').replace('ExecStart=/opt/kvmagent/bin/kvmagent', 'ExecStart=/opt/kvmagent/bin/missing');
    const run = verify({ 'kvmagent.service': broken });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("Unknown key 'RestartSteps'");
    expect(run.stderr).toContain('/opt/kvmagent/bin/missing is not executable');
  });

  it('kvmagent.service keeps only the capabilities its loaders and collectors use, and always restarts', () => {
    const unit = read('kvmagent.service');
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!.split(/\s+/).sort();
    expect(caps).toEqual(['CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_MAC_ADMIN', 'CAP_SYSLOG']);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(read('kvmservice.service')).toMatch(/^CapabilityBoundingSet=$/m);
  });

  it("the environment file is accepted by kvmservice's config reader", () => {
    const env: Record<string, string> = {};
    for (const line of read('kvmservice.env').split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      env[m![1]!] = m![2]!;
    }
    const config = resolveServiceConfig([], env);
    expect(config).toMatchObject({ store: 'sqlite:/var/lib/kvmservice/kvmservice.db', dataDir: '/var/lib/kvmservice', tlsDir: '/var/lib/kvmservice/tls', grpcPort: 32770, httpPort: 9090 });
    // The commented HA lines are valid settings too, once uncommented.
    const ha: Record<string, string> = {};
    for (const m of read('kvmservice.env').matchAll(/^#(KVMSERVICE_[A-Z_]+)=(\S+)$/gm)) ha[m[1]!] = m[2]!;
    expect(Object.keys(ha)).toEqual(expect.arrayContaining(['KVMSERVICE_STORE', 'KVMSERVICE_ETCD_CA', 'KVMSERVICE_TLS_SAN', 'KVMSERVICE_ADVERTISE_ADDRESS']));
    expect(resolveServiceConfig([], { ...env, ...ha })).toMatchObject({ store: expect.stringMatching(/^etcd:\/\//), tlsSans: ['kvm.example.internal', '192.0.2.10'] });
  });
});
