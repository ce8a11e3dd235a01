/**
 * Golden tests: the three upstream examples reconstructed in design/upstream/kubearmor.md §b, and
 * network, capability, ownerOnly, readOnly and Audit cases. The expected text lives in
 * `golden/*.apparmor` (reviewed by hand); every golden set also compiles with apparmor_parser.
 * `KVM_UPDATE_GOLDEN=1` rewrites them (never in CI).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { compileAppArmorFiles } from './loader-compile.js';
import { renderAppArmorProfiles } from './render.js';
import type { AppArmorRender, RenderOptions } from './render-types.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');

function hostPolicy(name: string, spec: Record<string, unknown>, resourceVersion?: string): NormalizedHostPolicy {
  const object = {
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'kubearmor-dev' } }, ...spec },
  };
  const checked = validateResource(object);
  if (!checked.valid) throw new Error(`test policy ${name} is invalid: ${JSON.stringify(checked.errors)}`);
  return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
}

function asText(render: AppArmorRender): string {
  const parts = render.artifacts.map((a) => `#### file ${a.fileName}\n${a.content}`);
  parts.push(`#### profilePolicies\n${JSON.stringify(render.profilePolicies, null, 2)}\n`);
  parts.push(`#### unenforceable\n${JSON.stringify(render.unenforceable, null, 2)}\n`);
  return parts.join('\n');
}

interface GoldenCase {
  name: string;
  policies: NormalizedHostPolicy[];
  options?: RenderOptions;
  /** Lines that must appear in the named profile: the point of the case, stated outright. */
  expect: Record<string, string[]>;
  /** Lines that must not appear anywhere. */
  absent?: string[];
}

const CASES: GoldenCase[] = [
  {
    // Upstream example 1: data/example-hsp__hsp-k8s-kubearmor-dev-proc-path-block.yaml
    name: 'upstream-1-proc-path-block',
    policies: [hostPolicy('hsp-kubearmor-dev-proc-path-block', { severity: 5, process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' })],
    expect: { 'kubearmor.host': ['file,', 'network,', 'capability,', 'audit deny "/usr/bin/diff" x,'] },
  },
  {
    // Upstream example 2: file.matchPaths /etc/hostname fromSource /usr/bin/head, Block.
    name: 'upstream-2-file-path-block-fromsource',
    policies: [
      hostPolicy('hsp-kubearmor-dev-file-path-block-fromsource', {
        severity: 5,
        file: { matchPaths: [{ path: '/etc/hostname', fromSource: [{ path: '/usr/bin/head' }] }] },
        action: 'Block',
      }),
    ],
    expect: {
      'kubearmor.host': ['"/usr/bin/head" px,', 'file,'],
      kubearmor_usrbinhead: ['profile kubearmor_usrbinhead "/usr/bin/head" flags=(attach_disconnected,mediate_deleted) {', 'file,', 'audit deny "/etc/hostname" klmrw,'],
    },
  },
  {
    // Upstream example 3: file.matchDirectories /etc/default/ recursive fromSource head, Allow, file posture block.
    name: 'upstream-3-file-dir-allow-fromsource-posture-block',
    policies: [
      hostPolicy('hsp-kubearmor-dev-file-dir-allow-fromsource', {
        severity: 5,
        file: { matchDirectories: [{ dir: '/etc/default/', recursive: true, fromSource: [{ path: '/usr/bin/head' }] }] },
        action: 'Allow',
      }),
    ],
    options: { postures: { file: 'block' } },
    expect: {
      // Deliberate difference: upstream also drops the dispatcher's `file,` here (every shell loses files).
      'kubearmor.host': ['file,', '"/usr/bin/head" px,'],
      kubearmor_usrbinhead: ['"/usr/bin/head" mr,', '"/etc/default/{,**}" klmrw,', 'network,', 'capability,'],
    },
  },
  {
    name: 'network-allow-block',
    policies: [
      hostPolicy('net-ping-block-icmp', { network: { matchProtocols: [{ protocol: 'ICMP', fromSource: [{ path: '/usr/bin/ping' }] }] }, action: 'Block' }),
      hostPolicy('net-curl-allow-tcp', { network: { matchProtocols: [{ protocol: 'tcp,udp', fromSource: [{ path: '/usr/bin/curl' }] }] }, action: 'Allow' }),
      hostPolicy('net-nc-block-all', { network: { matchProtocols: [{ protocol: 'all', fromSource: [{ path: '/usr/bin/nc' }] }] }, action: 'Block' }),
    ],
    options: { postures: { network: 'block' } },
    expect: {
      kubearmor_usrbinping: ['audit deny network icmp,', 'network,'],
      kubearmor_usrbincurl: ['network tcp,', 'network udp,', 'file,'],
      kubearmor_usrbinnc: ['audit deny network,'],
    },
  },
  {
    name: 'capabilities-allow-block',
    policies: [
      hostPolicy('cap-ping-block-net-raw', { capabilities: { matchCapabilities: [{ capability: 'net_raw', fromSource: [{ path: '/usr/bin/ping' }] }] }, action: 'Block' }),
      hostPolicy('cap-nginx-allow-bind', { capabilities: { matchCapabilities: [{ capability: 'net_bind_service,setuid', fromSource: [{ path: '/usr/sbin/nginx' }] }] }, action: 'Allow' }),
    ],
    options: { postures: { capabilities: 'block' } },
    expect: {
      kubearmor_usrbinping: ['audit deny capability net_raw,', 'capability,'],
      kubearmor_usrsbinnginx: ['capability net_bind_service,', 'capability setuid,', 'file,', 'network,'],
    },
    absent: [],
  },
  {
    name: 'owner-only-read-only',
    policies: [
      hostPolicy('files-owner-read', {
        file: {
          matchPaths: [
            { path: '/srv/secret.key', ownerOnly: true, readOnly: true, action: 'Block' },
            { path: '/srv/owned.db', ownerOnly: true, action: 'Block' },
            { path: '/etc/resolv.conf', readOnly: true, action: 'Block' },
            { path: '/srv/report.txt', readOnly: true, ownerOnly: true, action: 'Allow', fromSource: [{ path: '/usr/bin/cat' }] },
            { path: '/srv/data.txt', ownerOnly: true, action: 'Allow', fromSource: [{ path: '/usr/bin/cat' }] },
            { path: '/srv/notes.txt', readOnly: true, action: 'Allow', fromSource: [{ path: '/usr/bin/cat' }] },
          ],
        },
        process: { matchPaths: [{ path: '/usr/local/bin/tool', ownerOnly: true, action: 'Block' }] },
      }),
    ],
    expect: {
      'kubearmor.host': [
        'audit deny owner "/srv/secret.key" klw,',
        'audit deny other "/srv/secret.key" klmrw,',
        'owner "/srv/owned.db" klmrw,',
        'audit deny other "/srv/owned.db" klmrw,',
        'audit deny "/etc/resolv.conf" klw,',
        'owner "/usr/local/bin/tool" ix,',
        'audit deny other "/usr/local/bin/tool" x,',
      ],
      kubearmor_usrbincat: ['owner "/srv/report.txt" klr,', 'owner "/srv/data.txt" klmrw,', '"/srv/notes.txt" klr,', 'audit deny "/etc/resolv.conf" klw,'],
    },
  },
  {
    name: 'audit-rules',
    policies: [
      hostPolicy('audit-passwd', { severity: 5, file: { matchPaths: [{ path: '/etc/passwd' }] }, action: 'Audit' }),
      hostPolicy('audit-hosts-cat', { file: { matchPaths: [{ path: '/etc/hosts', fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Audit' }),
      hostPolicy('audit-exec-curl', { process: { matchPaths: [{ path: '/usr/bin/curl' }] }, action: 'Audit' }),
      hostPolicy('audit-net-udp', { network: { matchProtocols: [{ protocol: 'udp', fromSource: [{ path: '/usr/bin/dig' }] }] }, action: 'Audit' }),
      hostPolicy('audit-cap-chown', { capabilities: { matchCapabilities: [{ capability: 'chown', fromSource: [{ path: '/usr/bin/chown' }] }] }, action: 'Audit' }),
      // Under file posture block, head's profile is an allow-list: its Audit rule must not grant.
      hostPolicy('head-allow-default', { file: { matchDirectories: [{ dir: '/etc/default/', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Allow' }),
      hostPolicy('head-audit-shadow', { file: { matchPaths: [{ path: '/etc/shadow', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Audit' }),
    ],
    options: { postures: { file: 'block' } },
    expect: {
      'kubearmor.host': ['audit "/etc/passwd" klmrw,', 'audit "/usr/bin/curl" ix,'],
      kubearmor_usrbincat: ['audit "/etc/hosts" klmrw,', 'audit "/etc/passwd" klmrw,'],
      kubearmor_usrbindig: ['audit network udp,'],
      kubearmor_usrbinchown: ['audit capability chown,'],
      kubearmor_usrbinhead: ['"/etc/default/{,*}" klmrw,'],
    },
    absent: ['audit "/etc/shadow" klmrw,'],
  },
];

describe('golden profiles', () => {
  const work = mkdtempSync(join(tmpdir(), 'apparmor-golden-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(CASES)('$name', async ({ name, policies, options, expect: wanted, absent }) => {
    const render = renderAppArmorProfiles(policies, { name: 'kubearmor-dev' }, options);
    const text = asText(render);
    const file = join(goldenDir, `${name}.apparmor`);
    if (process.env.KVM_UPDATE_GOLDEN === '1' && !process.env.CI) writeFileSync(file, text);
    expect(text).toBe(readFileSync(file, 'utf8'));

    for (const [profile, lines] of Object.entries(wanted)) {
      const artifact = render.artifacts.find((a) => a.name === profile);
      expect(artifact, `profile ${profile}`).toBeDefined();
      const body = artifact!.content.split('\n').map((l) => l.replace(/ {2}# .*$/, '').trim());
      for (const line of lines) expect(body, `${profile} has ${line}`).toContain(line);
    }
    for (const line of absent ?? []) {
      for (const a of render.artifacts) expect(a.content.split('\n').map((l) => l.replace(/ {2}# .*$/, '').trim())).not.toContain(line);
    }

      const dir = mkdtempSync(join(work, `${name}-`));
    const files = render.artifacts.map((a) => {
      writeFileSync(join(dir, a.fileName), a.content);
      return join(dir, a.fileName);
    });
    const compiled = await compileAppArmorFiles(files);
    expect(compiled.filter((c) => !c.ok)).toEqual([]);
  });
});

describe('many fromSource binaries on one host', () => {
  it('compiles with 40 source profiles (named transitions would hit the parser limit of 12)', async () => {
    const binaries = Array.from({ length: 40 }, (_, i) => `/usr/local/bin/tool${i}`);
    const policy = {
      apiVersion: 'security.kubearmor.com/v1',
      kind: 'KubeArmorHostPolicy',
      metadata: { name: 'many-sources' },
      spec: {
        nodeSelector: { matchLabels: { a: 'b' } },
        file: { matchPaths: binaries.map((b, i) => ({ path: `/var/lib/tool${i}/state`, fromSource: [{ path: b }], action: 'Allow' })) },
        process: { matchPaths: [{ path: '/usr/bin/nc', action: 'Block' }] },
      },
    };
    const checked = validateResource(policy);
    if (!checked.valid) throw new Error(JSON.stringify(checked.errors));
    const render = renderAppArmorProfiles([normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy)], { name: 'h' });
    expect(render.artifacts).toHaveLength(41);
    const dir = mkdtempSync(join(tmpdir(), 'aa-many-'));
    try {
      const files = render.artifacts.map((a) => {
        const path = join(dir, a.fileName);
        writeFileSync(path, a.content);
        return path;
      });
      const compiled = await compileAppArmorFiles(files);
      expect(compiled.filter((c) => !c.ok)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
