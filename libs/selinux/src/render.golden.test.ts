/**
 * Golden tests, one per mapping of the issue: file path Block, directory (recursive) Allow from a
 * source, readOnly, process Block, network and capabilities from a source, Audit → auditallow.
 * The expected modules live in `golden/*.cil` (reviewed by hand; `KVMS_UPDATE_GOLDEN=1` rewrites
 * them, never in CI). All golden modules are linked together against Debian's refpolicy in a
 * private store with neverallow checking on, and each case states its point as questions to the
 * linked policy (sesearch) and to libselinux's file-context lookup (matchpathcon).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { createPrivateStore, linkSelinuxModules, type PrivateStore } from './loader.js';
import { allowedPerms, matchPathContexts, openPolicyOracle, policyFile, type PolicyOracle } from './loader-query.js';
import { renderSelinuxModule, type RenderedSelinuxModule } from './render-selinux-module.js';
import type { SelinuxRenderOptions } from './render-options.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');

function hostPolicy(name: string, spec: Record<string, unknown>): NormalizedHostPolicy {
  const checked = validateResource({
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name },
    spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': '*' } }, ...spec },
  });
  if (!checked.valid) throw new Error(`test policy ${name} is invalid: ${JSON.stringify(checked.errors)}`);
  return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
}

interface GoldenCase {
  name: string;
  policies: NormalizedHostPolicy[];
  options?: SelinuxRenderOptions;
}

// Every case uses its own paths, so all modules can share one store and still be checked by path.
const CASES: GoldenCase[] = [
  {
    name: 'file-path-block',
    policies: [hostPolicy('hostname-block', { file: { matchPaths: [{ path: '/etc/hostname' }] }, action: 'Block' })],
  },
  {
    name: 'dir-recursive-allow-fromsource',
    policies: [
      hostPolicy('head-default', {
        file: { matchDirectories: [{ dir: '/etc/default/', recursive: true, fromSource: [{ path: '/usr/bin/head' }] }] },
        action: 'Allow',
      }),
    ],
    options: { posture: { file: 'block' } },
  },
  {
    name: 'read-only',
    policies: [
      hostPolicy('hosts-read-only', { file: { matchPaths: [{ path: '/etc/hosts', readOnly: true }] }, action: 'Block' }),
      hostPolicy('tail-issue', { file: { matchPaths: [{ path: '/etc/issue', readOnly: true, fromSource: [{ path: '/usr/bin/tail' }] }] }, action: 'Allow' }),
    ],
    options: { posture: { file: 'block' } },
  },
  {
    name: 'process-block',
    policies: [hostPolicy('diff-block', { process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' })],
  },
  {
    name: 'network-capabilities-fromsource',
    policies: [
      hostPolicy('ping-no-icmp', {
        network: { matchProtocols: [{ protocol: 'icmp', fromSource: [{ path: '/usr/bin/ping' }] }] },
        capabilities: { matchCapabilities: [{ capability: 'net_raw', fromSource: [{ path: '/usr/bin/ping' }] }] },
        action: 'Block',
      }),
      hostPolicy('curl-tcp-only', { network: { matchProtocols: [{ protocol: 'tcp', fromSource: [{ path: '/usr/bin/curl' }] }] }, action: 'Allow' }),
    ],
    options: { posture: { network: 'block' } },
  },
  {
    name: 'audit',
    policies: [
      hostPolicy('passwd-audit', { file: { matchPaths: [{ path: '/etc/passwd' }] }, action: 'Audit' }),
      hostPolicy('cat-group-audit', { file: { matchPaths: [{ path: '/etc/group', fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Audit' }),
    ],
  },
  {
    // Learning mode: sed has a domain of its own rules, nginx none; both become permissive allow-lists.
    name: 'learning',
    policies: [hostPolicy('sed-no-shadow', { file: { matchPaths: [{ path: '/etc/gshadow', fromSource: [{ path: '/usr/bin/sed' }] }] }, action: 'Block' })],
    options: { learning: { binaries: ['/usr/bin/sed', '/usr/sbin/nginx'] } },
  },
];

const rendered = new Map<string, RenderedSelinuxModule>(
  CASES.map((c) => [c.name, renderSelinuxModule(c.policies, { name: `golden-${c.name}` }, c.options)]),
);
const get = (name: string) => rendered.get(name)!;
/** The type a module gives to `path` (from its own file contexts). */
const typeOf = (r: RenderedSelinuxModule, path: string) => {
  const fc = r.fileContexts.find((f) => f.pathRegex === `${path.replace(/[.]/g, '\\.')}\\Q\\E`);
  if (!fc) throw new Error(`${r.moduleName} has no file context for ${path}`);
  return fc.context.split(':')[2]!;
};
const domainOf = (r: RenderedSelinuxModule, source: string) => typeOf(r, source).replace(/_exec_t$/, '_t');

describe('golden modules', () => {
  it.each(CASES.map((c) => c.name))('%s matches golden/%s.cil', (name) => {
    const r = get(name);
    expect(r.problems).toEqual([]);
    const file = join(goldenDir, `${name}.cil`);
    if (process.env.KVMS_UPDATE_GOLDEN === '1') writeFileSync(file, r.module);
    expect(existsSync(file), `${file} is missing (KVMS_UPDATE_GOLDEN=1 writes it)`).toBe(true);
    expect(r.module).toBe(readFileSync(file, 'utf8'));
  });
});

describe('golden modules linked against the refpolicy', () => {
  let store: PrivateStore;
  let policy: string;
  let oracle: PolicyOracle;
  const perms = (s: string, t: string, c: string) => oracle.perms(s, t, c);
  const audited = (s: string, t: string, c: string) => oracle.perms(s, t, c, 'auditallow');
  const label = async (path: string) => {
    const m = await matchPathContexts(store.root, [path]);
    if ('error' in m) throw new Error(m.error);
    return m.get(path)?.split(':')[2];
  };

  beforeAll(async () => {
    store = createPrivateStore({ checkNeverallow: true });
    const linked = await linkSelinuxModules([...rendered.values()], { root: store.root, timeoutMs: 600_000 });
    expect(linked.error).toBeUndefined();
    expect(linked.ok).toBe(true);
    policy = policyFile(store.root)!;
    oracle = await openPolicyOracle(policy);
  }, 600_000);
  afterAll(() => {
    oracle?.close();
    store?.dispose();
  });

  it('the policy oracle answers as the sesearch command does', async () => {
    const t = typeOf(get('file-path-block'), '/etc/hostname');
    for (const [s, c] of [['setfiles_t', 'file']] as const) {
      const cli = await allowedPerms(policy, s, t, c);
      if ('error' in cli) throw new Error(cli.error);
      expect(await oracle.perms(s, t, c)).toEqual(cli);
    }
  });

  it('file path Block: nobody reads or writes /etc/hostname, stat and relabelling stay possible', async () => {
    const r = get('file-path-block');
    const t = typeOf(r, '/etc/hostname');
    expect(await label('/etc/hostname')).toBe(t); // beats the base policy's exact entry (net_conf_t)
    for (const domain of ['unconfined_t', 'init_t', 'initrc_t']) {
      const p = await perms(domain, t, 'file');
      expect([...p].filter((x) => ['read', 'write', 'append', 'open', 'execute'].includes(x))).toEqual([]);
      expect(p.has('getattr')).toBe(true);
    }
    expect(await perms('setfiles_t', t, 'file')).toEqual(new Set(['getattr', 'relabelfrom', 'relabelto']));
  });

  it('directory recursive Allow from head (file posture block): head reads /etc/default/*, nothing else', async () => {
    const r = get('dir-recursive-allow-fromsource');
    const dir = typeOf(r, '/etc/default');
    const head = domainOf(r, '/usr/bin/head');
    expect(await label('/etc/default/useradd')).toBe(dir);
    expect(await label('/etc/default/sub/deeper')).toBe(dir);
    for (const caller of ['unconfined_t', 'init_t', 'initrc_t']) {
      expect(await oracle.transitions(caller, typeOf(r, '/usr/bin/head'))).toEqual([head]);
    }
    expect(await perms(head, dir, 'file')).toEqual(expect.objectContaining(new Set(['read', 'open', 'write'])));
    expect((await perms(head, 'net_conf_t', 'file')).has('read')).toBe(false); // /etc/hostname
    expect((await perms(head, 'etc_t', 'file')).has('read')).toBe(false);
    expect((await perms(head, 'lib_t', 'file')).has('read')).toBe(true); // it still starts
    expect((await perms('unconfined_t', dir, 'file')).has('read')).toBe(true); // others unchanged
  });

  it('readOnly: Block keeps reads and stops writes; Allow from tail grants only reads', async () => {
    const r = get('read-only');
    const hosts = typeOf(r, '/etc/hosts');
    const issue = typeOf(r, '/etc/issue');
    const tail = domainOf(r, '/usr/bin/tail');
    const u = await perms('unconfined_t', hosts, 'file');
    expect(u.has('read') && u.has('open')).toBe(true);
    expect(u.has('write') || u.has('append') || u.has('unlink')).toBe(false);
    const t = await perms(tail, issue, 'file');
    expect(t.has('read')).toBe(true);
    expect(t.has('write') || t.has('append')).toBe(false);
    expect((await perms(tail, hosts, 'file')).has('write')).toBe(false); // the global readOnly Block applies to tail too
  });

  it('process Block: nobody executes /usr/bin/diff, reading it stays possible', async () => {
    const r = get('process-block');
    const t = typeOf(r, '/usr/bin/diff');
    expect(await label('/usr/bin/diff')).toBe(t);
    const p = await perms('unconfined_t', t, 'file');
    expect(p.has('execute') || p.has('execute_no_trans')).toBe(false);
    expect(p.has('read')).toBe(true);
  });

  it('network and capabilities from a source: ping has no ICMP/raw sockets and no net_raw; curl only TCP', async () => {
    const r = get('network-capabilities-fromsource');
    const ping = domainOf(r, '/usr/bin/ping');
    const curl = domainOf(r, '/usr/bin/curl');
    expect((await perms(ping, ping, 'icmp_socket')).size).toBe(0);
    expect((await perms(ping, ping, 'rawip_socket')).size).toBe(0);
    expect((await perms(ping, ping, 'udp_socket')).has('create')).toBe(true);
    expect((await perms(ping, ping, 'capability')).has('net_raw')).toBe(false);
    expect((await perms(ping, ping, 'capability')).has('setuid')).toBe(true);
    expect((await perms(curl, curl, 'tcp_socket')).has('connect')).toBe(true);
    expect((await perms(curl, 'http_port_t', 'tcp_socket')).has('name_connect')).toBe(true);
    expect((await perms(curl, curl, 'udp_socket')).size).toBe(0); // network posture block
    expect((await perms(curl, curl, 'unix_stream_socket')).has('connect')).toBe(true); // not governed by the posture
  });

  it('Audit: accesses stay allowed and are audited (auditallow), for everyone or for the source', async () => {
    const r = get('audit');
    const passwd = typeOf(r, '/etc/passwd');
    const group = typeOf(r, '/etc/group');
    const cat = domainOf(r, '/usr/bin/cat');
    expect((await perms('unconfined_t', passwd, 'file')).has('read')).toBe(true);
    expect((await audited('unconfined_t', passwd, 'file')).has('read')).toBe(true);
    expect((await perms(cat, group, 'file')).has('read')).toBe(true);
    expect((await audited(cat, group, 'file')).has('read')).toBe(true);
    expect((await audited('unconfined_t', group, 'file')).size).toBe(0);
  });

  it('learning: the binaries\' domains are permissive allow-lists, entered from everywhere; nginx gets a domain', async () => {
    const r = get('learning');
    const sed = domainOf(r, '/usr/bin/sed');
    const nginx = domainOf(r, '/usr/sbin/nginx');
    expect(r.permissiveDomains).toEqual([nginx, sed].sort());
    expect(r.domainSources).toEqual({ [nginx]: '/usr/sbin/nginx', [sed]: '/usr/bin/sed' });
    const permissive = await oracle.permissiveTypes();
    expect(permissive).toEqual(expect.arrayContaining([sed, nginx]));
    // No other module's domain is permissive.
    expect(permissive.filter((t) => t.startsWith('kvms_'))).toEqual([nginx, sed].sort());
    for (const caller of ['unconfined_t', 'init_t', 'initrc_t']) {
      expect(await oracle.transitions(caller, typeOf(r, '/usr/sbin/nginx'))).toEqual([nginx]);
      expect(await oracle.transitions(caller, typeOf(r, '/usr/bin/sed'))).toEqual([sed]);
    }
    // Allow-lists: what they do is not granted (so it is logged, permissive=1), except what they need to start.
    for (const d of [sed, nginx]) {
      expect((await perms(d, 'etc_t', 'file')).has('read')).toBe(false);
      expect((await perms(d, 'user_home_t', 'file')).has('write')).toBe(false);
      expect((await perms(d, d, 'tcp_socket')).has('create')).toBe(false);
      expect((await perms(d, d, 'capability')).size).toBe(0);
      expect((await perms(d, 'lib_t', 'file')).has('read')).toBe(true);
      expect((await perms(d, d, 'unix_stream_socket')).has('connect')).toBe(true);
    }
    // sed's own Block rule stays in the policy (the denial is logged; permissive lets it pass).
    expect((await perms(sed, typeOf(r, '/etc/gshadow'), 'file')).has('read')).toBe(false);
  });
});
