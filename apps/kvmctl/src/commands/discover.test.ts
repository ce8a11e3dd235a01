/**
 * `kvmctl discover` without a server: --from-log on a recorded audit log (Linux-audit syscall
 * records and complain-mode AppArmor records), Hubble flows, output formats, the flags that shape
 * the policies, and usage errors (exit 2) before anything is read or sent. The server side
 * (--host, --apply, start/stop) is tested end to end in test/e2e/discovery-e2e.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocuments, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { kvmctl } from '../testing/run.js';
import { fetcherAuditLog } from '../../../../test/support/fetcher-audit-log.js';

/** The recorded learning session, and a line that is not an audit record. */
const auditLog = (): string => `${[...fetcherAuditLog(100, 200), 'this line is not an audit record'].join('\n')}\n`;

function workdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmctl-discover-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const documents = (yaml: string) => parseDocuments(yaml, '-').map((d) => d.object as Record<string, unknown>);

describe('kvmctl discover --from-log', () => {
  const cwd = workdir({ 'audit.log': auditLog(), 'empty.log': '' });

  it('discovers the binary\'s policy and the host firewall from a recorded audit log', async () => {
    const r = await kvmctl(['discover', '--from-log', 'audit.log', '--hostname', 'web-1'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('1 of 20 log lines unparsed (not audit records)\n');
    const objects = documents(r.stdout);
    expect(objects.map((o) => o.kind)).toEqual(['KubeArmorHostPolicy', 'CiliumClusterwideNetworkPolicy']);
    for (const o of objects) expect(validateResource(o).valid).toBe(true);
    const hsp = objects[0] as unknown as KubeArmorHostPolicy;
    expect(hsp.metadata.name).toMatch(/^autopol-host-web-1-usr-local-bin-fetcher-[0-9a-f]{8}$/);
    expect(hsp.spec.nodeSelector.matchLabels).toEqual({ 'kubearmor.io/hostname': 'web-1' });
    expect(hsp.spec.action).toBe('Allow');
    const from = [{ path: '/usr/local/bin/fetcher' }];
    expect(hsp.spec.process?.matchPaths).toEqual([{ path: '/usr/bin/tar', fromSource: from }]);
    expect(hsp.spec.file?.matchPaths).toEqual([
      { path: '/etc/fetcher/config.yaml', readOnly: true, ownerOnly: true, fromSource: from },
      { path: '/etc/hosts', readOnly: true, ownerOnly: true, fromSource: from },
      // From the complain-mode records of its learning profile (kubearmor_usrlocalbinfetcher), read and written.
      { path: '/var/lib/fetcher/state.json', ownerOnly: true, fromSource: from },
    ]);
    expect(hsp.spec.capabilities?.matchCapabilities).toEqual([{ capability: 'net_bind_service', fromSource: from }]);
    const ccnp = objects[1] as { spec: { nodeSelector: unknown; egress: { toCIDR?: string[]; toPorts: unknown }[] } };
    expect(ccnp.spec.nodeSelector).toEqual({ matchLabels: { 'kubernetes.io/hostname': 'web-1' } });
    expect(ccnp.spec.egress[0]).toEqual({ toCIDR: ['203.0.113.7/32'], toPorts: [{ ports: [{ port: '443', protocol: 'ANY' }] }] });
    // What it prints, kvmctl apply takes.
    const applied = await kvmctl(['apply', '-f', '-', '--dry-run=client'], r.stdout);
    expect(applied.code).toBe(0);
    expect(applied.stdout.split('\n').filter((l) => l.endsWith('valid (dry run)'))).toHaveLength(2);
  });

  it('shapes the output: --kind, --single, --binary, -o json, stdin', async () => {
    const json = await kvmctl(['discover', '--from-log', 'audit.log', '--hostname', 'web-1', '--kind', 'KubeArmorHostPolicy', '-o', 'json'], { cwd });
    const list = JSON.parse(json.stdout) as { kind: string; items: { kind: string }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.kind)).toEqual(['KubeArmorHostPolicy']);
    const single = documents((await kvmctl(['discover', '--from-log', 'audit.log', '--hostname', 'web-1', '--kind', 'hsp', '--single'], { cwd })).stdout);
    expect(single).toHaveLength(1);
    expect((single[0]!.metadata as { name: string }).name).toMatch(/^autopol-host-web-1-[0-9a-f]{8}$/);
    const other = await kvmctl(['discover', '--from-log', 'audit.log', '--kind', 'hsp', '--binary', '/usr/sbin/nginx'], { cwd });
    expect(other.stdout).toBe('');
    expect(other.stderr).toContain('no policies discovered');
    const stdin = await kvmctl(['discover', '--from-log', '-', '--kind', 'ccnp'], { cwd, stdin: auditLog() });
    expect(documents(stdin.stdout).map((o) => [o.kind, (o.spec as { nodeSelector: unknown }).nodeSelector])).toEqual([
      ['CiliumClusterwideNetworkPolicy', { matchLabels: { 'kubernetes.io/hostname': 'localhost' } }],
    ]);
  });

  it('adds workload policies with HTTP rules from Hubble flows', async () => {
    const flow = (path: string) => ({
      flow: {
        time: '2024-05-18T03:00:00Z',
        verdict: 'FORWARDED',
        IP: { source: '10.0.1.5', destination: '10.0.1.9' },
        l4: { TCP: { source_port: 40000, destination_port: 8080 } },
        source: { labels: ['k8s:app=frontend', 'k8s:io.kubernetes.pod.namespace=shop'], namespace: 'shop', pod_name: 'frontend-1' },
        destination: { labels: ['k8s:app=cart', 'k8s:io.kubernetes.pod.namespace=shop'], namespace: 'shop', pod_name: 'cart-1' },
        Type: 'L7',
        l7: { type: 'REQUEST', http: { method: 'GET', url: `http://cart:8080${path}` } },
      },
    });
    const dir = workdir({ 'audit.log': auditLog(), 'flows.json': [flow('/items'), flow('/health')].map((f) => JSON.stringify(f)).join('\n') });
    const r = await kvmctl(['discover', '--from-log', 'audit.log', '--hubble', 'flows.json', '--kind', 'CiliumNetworkPolicy'], { cwd: dir });
    expect(r.code).toBe(0);
    const objects = documents(r.stdout);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.kind).toBe('CiliumNetworkPolicy');
      expect(validateResource(o).valid).toBe(true);
    }
    expect(r.stdout).toContain('/items');
  });

  it('refuses bad flags with exit 2 and unreadable input with one line, before printing anything', async () => {
    const usage = [
      ['discover'],
      ['discover', '--host', 'web-1', '--from-log', 'audit.log'],
      ['discover', '--from-log', 'audit.log', '--apply'],
      ['discover', '--host', 'web-1', '--hubble', 'flows.json'],
      ['discover', '--from-log', 'audit.log', '--kind', 'Pod'],
      ['discover', '--host', 'web-1', '--kind', 'CiliumNetworkPolicy'],
      ['discover', '--from-log', 'audit.log', '--binary', 'fetcher'],
      ['discover', '--from-log', 'audit.log', '--binary', '/usr/bin/*'],
      ['discover', '--from-log', 'audit.log', '--directory-threshold', '0'],
      ['discover', '--from-log', 'audit.log', '-o', 'table'],
      ['discover', '--from-log', 'audit.log', '--hostname', 'Not_A_Host'],
      ['discover', '--host', 'web-1', '--apply', '-o', 'json'],
      ['discover', 'start'],
      ['discover', 'start', '--host', 'web-1', '--duration', 'soon'],
      ['discover', 'start', '--host', 'web-1', '--duration', '31d'],
      ['discover', 'start', '--host', 'web-1', '--binary', 'relative'],
      ['discover', 'start', '--host', 'web-1', '--binary', '/usr/bin/a', '--binary', '/usr/bin/a'],
      ['discover', 'stop'],
    ];
    for (const argv of usage) {
      const r = await kvmctl(argv, { cwd });
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
    }
    const missing = await kvmctl(['discover', '--from-log', 'nope.log'], { cwd });
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'error: nope.log: no such file or directory\n' });
    const empty = await kvmctl(['discover', '--from-log', 'empty.log'], { cwd });
    expect(empty).toEqual({ code: 0, stdout: '', stderr: 'no policies discovered (0 events in 0 log lines)\n' });
  });
});
