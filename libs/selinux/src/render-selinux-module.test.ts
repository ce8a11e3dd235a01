/**
 * The renderer without SELinux tools: determinism, names, what is refused and why, how rules on
 * nested targets combine, path aliases, and that policy text cannot become a statement.
 * (Linking against the refpolicy: render.golden.test.ts, test/conformance, test/corpus.)
 */
import { describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { leaves, parseCil, type CilNode } from './cil-syntax.js';
import { renderSelinuxModule } from './render-selinux-module.js';
import { sha256Hex } from './render-names.js';
import { toByteString } from './render-path-regex.js';

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

const host = { name: 'web-01.example.com' };
const headBlock = hostPolicy('head-block', { file: { matchPaths: [{ path: '/etc/hostname', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Block' });
const diffBlock = hostPolicy('diff-block', { process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' });
const etcAudit = hostPolicy('etc-audit', { file: { matchDirectories: [{ dir: '/etc/', recursive: true }] }, action: 'Audit' });

const STATEMENTS = new Set(['classpermission', 'classpermissionset', 'type', 'roletype', 'typeattribute', 'typeattributeset', 'allow', 'auditallow', 'typetransition', 'filecon']);
const heads = (module: string) => (parseCil(module) as CilNode[][]).map((s) => (s[0] as { atom: string }).atom);

describe('renderSelinuxModule', () => {
  it('is deterministic and independent of policy order; sha256 is the module text hash', () => {
    const a = renderSelinuxModule([headBlock, diffBlock, etcAudit], host);
    const b = renderSelinuxModule([etcAudit, diffBlock, headBlock], host);
    expect(a.problems).toEqual([]);
    expect(b).toEqual(a);
    expect(a.sha256).toBe(sha256Hex(a.module));
  });

  it('names the module after the host, and types so that different hosts never clash', () => {
    const a = renderSelinuxModule([headBlock], host);
    const b = renderSelinuxModule([headBlock], { name: 'web-02.example.com' });
    expect(a.moduleName).toMatch(/^kvms_web_01_example_com_[0-9a-f]{6}$/);
    expect(b.moduleName).not.toBe(a.moduleName);
    const typesA = Object.keys(a.typePolicies);
    const typesB = Object.keys(b.typePolicies);
    expect(typesA.some((t) => typesB.includes(t))).toBe(false);
    expect(renderSelinuxModule([headBlock], { name: 'x'.repeat(300) }).moduleName.length).toBeLessThan(60);
  });

  it('declares every type once, with collision-free names for paths that slug alike', () => {
    const r = renderSelinuxModule(
      [hostPolicy('alike', { file: { matchPaths: [{ path: '/srv/a-b' }, { path: '/srv/a_b' }, { path: '/srv/a.b' }, { path: '/srv/A B' }] }, action: 'Block' })],
      host,
    );
    const declared = (parseCil(r.module) as CilNode[][]).filter((s) => (s[0] as { atom: string }).atom === 'type').map((s) => (s[1] as { atom: string }).atom);
    expect(new Set(declared).size).toBe(declared.length);
    expect(declared).toHaveLength(4);
    expect(new Set(r.fileContexts.map((f) => f.context)).size).toBe(4);
  });

  it('maps each type back to the policies it comes from', () => {
    const r = renderSelinuxModule([headBlock, diffBlock], host);
    const byPolicies = Object.entries(r.typePolicies).map(([t, p]) => [t.replace(/^kvms_[0-9a-f]+_/, ''), p]);
    expect(byPolicies).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^etc_hostname_[0-9a-f]+_t$/), ['head-block']],
        [expect.stringMatching(/^usr_bin_head_[0-9a-f]+_t$/), ['head-block']],
        [expect.stringMatching(/^usr_bin_head_[0-9a-f]+_exec_t$/), ['head-block']],
        [expect.stringMatching(/^usr_bin_diff_[0-9a-f]+_t$/), ['diff-block']],
      ]),
    );
  });

  it('gives a file inside a protected directory a type carrying the rules of both', () => {
    const etcBlock = hostPolicy('etc-block', { file: { matchDirectories: [{ dir: '/etc/', recursive: true }] }, action: 'Block' });
    const defaultAllow = hostPolicy('default-allow', {
      file: { matchDirectories: [{ dir: '/etc/default/', recursive: true, fromSource: [{ path: '/usr/bin/head' }] }] },
      action: 'Allow',
    });
    const r = renderSelinuxModule([etcBlock, defaultAllow], host);
    expect(r.problems).toEqual([]);
    const inner = r.fileContexts.find((f) => f.pathRegex === '/etc/default/.*\\Q\\E')!.context.split(':')[2]!;
    const outer = r.fileContexts.find((f) => f.pathRegex === '/etc/.*\\Q\\E')!.context.split(':')[2]!;
    expect(r.typePolicies[inner]).toEqual(['default-allow', 'etc-block']);
    expect(r.typePolicies[outer]).toEqual(['etc-block']);
    expect(r.relabelPaths).toEqual(['/etc', '/usr/bin/head']); // /etc/default is inside /etc
  });

  it('applies a pattern to the exact paths it matches that have types of their own', () => {
    const confBlock = hostPolicy('conf-block', { file: { matchPatterns: [{ pattern: '/srv/*.conf' }] }, action: 'Block' });
    const headConf = hostPolicy('head-conf', { file: { matchPaths: [{ path: '/srv/a.conf', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Allow' });
    const r = renderSelinuxModule([confBlock, headConf], host);
    const exact = r.fileContexts.find((f) => f.pathRegex === '/srv/a\\.conf\\Q\\E')!.context.split(':')[2]!;
    expect(r.typePolicies[exact]).toEqual(['conf-block', 'head-conf']);
    const other = r.fileContexts.find((f) => f.pathRegex === '/srv/[^/]*\\.conf\\Q\\E')!.context.split(':')[2]!;
    expect(r.typePolicies[other]).toEqual(['conf-block']);
  });

  it('rewrites paths under the policy\'s path aliases to the originals (/bin → /usr/bin)', () => {
    const p = hostPolicy('bash-date', {
      process: { matchPaths: [{ path: '/bin/date', fromSource: [{ path: '/bin/bash' }] }, { path: '/usr/bin/date', fromSource: [{ path: '/usr/bin/bash' }] }] },
      action: 'Allow',
    });
    const r = renderSelinuxModule([p], host);
    expect(r.fileContexts.map((f) => f.pathRegex).sort()).toEqual(['/usr/bin/bash\\Q\\E', '/usr/bin/date\\Q\\E']);
    expect(Object.keys(r.typePolicies).filter((t) => t.endsWith('_exec_t'))).toHaveLength(1); // one domain for both spellings
    const custom = renderSelinuxModule([p], host, { pathAliases: [] });
    expect(custom.fileContexts.map((f) => f.pathRegex)).toContain('/bin/bash\\Q\\E');
  });

  it('copies home-directory entries to HOME_ROOT so the generated home contexts do not shadow them', () => {
    const r = renderSelinuxModule([hostPolicy('home', { file: { matchDirectories: [{ dir: '/home/vagrant/data/', recursive: true }] }, action: 'Block' })], host);
    expect(r.fileContexts.map((f) => f.pathRegex)).toEqual(
      expect.arrayContaining(['/home/vagrant/data/.*\\Q\\E', 'HOME_ROOT/vagrant/data/.*\\Q\\E', '/home/vagrant/data\\Q\\E']),
    );
  });

  it('uses the postures only for a source with Allow rules of that class', () => {
    const allow = hostPolicy('head-allow', { file: { matchPaths: [{ path: '/etc/issue', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Allow' });
    const audit = renderSelinuxModule([allow], host);
    const block = renderSelinuxModule([allow], host, { posture: { file: 'block' } });
    const open = renderSelinuxModule([allow], host, { posture: { file: 'allow' } });
    const otherRead = /^\(allow (kvms_\w+_usr_bin_head_\w+_t) \1_read kvms_\w+_read_perms\)$/m;
    expect(audit.module).toMatch(otherRead);
    expect(audit.module).toMatch(/^\(auditallow (kvms_\w+_usr_bin_head_\w+_t) \1_read_audited kvms_\w+_read_perms\)$/m);
    expect(block.module).not.toMatch(otherRead);
    expect(open.module).toMatch(otherRead);
    expect(open.module).not.toMatch(/auditallow/);
    const noAllow = renderSelinuxModule([headBlock], host, { posture: { file: 'block' } });
    expect(noAllow.module).toMatch(otherRead); // Block-only sources keep everything else
  });

  it('refuses what SELinux cannot express, naming the field, and renders nothing then', () => {
    const cases: [NormalizedHostPolicy, string, RegExp][] = [
      [hostPolicy('owner', { file: { matchPaths: [{ path: '/etc/x', ownerOnly: true }] }, action: 'Block' }), 'spec.file.matchPaths[0].ownerOnly', /owner/],
      [hostPolicy('pts', { process: { matchPaths: [{ path: '/usr/bin/x', pts: true }] }, action: 'Block' }), 'spec.process.matchPaths[0].pts', /terminal/],
      [hostPolicy('args', { process: { matchPaths: [{ path: '/usr/bin/x', allowedArgs: ['-v'] }] }, action: 'Block' }), 'spec.process.matchPaths[0].allowedArgs', /arguments/],
      [hostPolicy('execname', { process: { matchPaths: [{ execname: 'nc' }] }, action: 'Block' }), 'spec.process.matchPaths[0].execname', /absolute path/],
      [hostPolicy('dns', { network: { matchDNSQueries: [{ domain: 'example.com' }] }, action: 'Block' }), 'spec.network.matchDNSQueries[0].domain', /DNS/],
      [hostPolicy('sys', { syscalls: { matchSyscalls: [{ syscall: ['unlink'] }] } }), 'spec.syscalls.matchSyscalls[0]', /syscall/],
      [hostPolicy('usb', { device: { matchDevice: [{ class: 'HID' }] }, action: 'Block' }), 'spec.device.matchDevice[0].class', /USB/],
      [hostPolicy('aa', { apparmor: 'deny /x r,', file: { matchPaths: [{ path: '/etc/x' }] } }), 'spec.apparmor', /AppArmor/],
      [hostPolicy('macov', { capabilities: { matchCapabilities: [{ capability: 'mac_override', fromSource: [{ path: '/usr/bin/x' }] }] }, action: 'Allow' }), 'spec.capabilities.matchCapabilities[0].capability', /neverallow/],
      [hostPolicy('root', { file: { matchDirectories: [{ dir: '/', recursive: true }] }, action: 'Block' }), 'spec.file.matchDirectories[0].dir', /whole file system/],
      [hostPolicy('rootglob', { file: { matchPatterns: [{ pattern: '/*/secret' }] }, action: 'Block' }), 'spec.file.matchPatterns[0].pattern', /literal directory/],
      [hostPolicy('dots', { file: { matchPaths: [{ path: '/tmp/../etc/shadow' }] }, action: 'Block' }), 'spec.file.matchPaths[0].path', /canonical/],
    ];
    for (const [policy, field, reason] of cases) {
      const r = renderSelinuxModule([policy, diffBlock], host);
      expect(r.problems, policy.name).toEqual([expect.objectContaining({ policy: policy.name, field, reason: expect.stringMatching(reason) })]);
      expect(r.module).toBe('');
      expect(r.fileContexts).toEqual([]);
    }
  });

  it('refuses Allow without fromSource only when the file posture would make it a host-wide allow-list', () => {
    const globalAllow = hostPolicy('global-allow', { file: { matchPaths: [{ path: '/etc/motd' }] }, action: 'Allow' });
    expect(renderSelinuxModule([globalAllow], host).problems).toEqual([]);
    expect(renderSelinuxModule([globalAllow], host, { posture: { file: 'block' } }).problems).toEqual([
      expect.objectContaining({ field: 'spec.file.matchPaths[0].action' }),
    ]);
  });

  it('refuses network and capability rules without fromSource, and bad postures', () => {
    const base = hostPolicy('net', { network: { matchProtocols: [{ protocol: 'udp', fromSource: [{ path: '/usr/bin/x' }] }] }, action: 'Block' });
    const unsourced: NormalizedHostPolicy = { ...base, rules: base.rules.map((r) => ({ ...r, fromSource: [] })) as NormalizedHostPolicy['rules'] };
    expect(renderSelinuxModule([unsourced], host).problems).toEqual([expect.objectContaining({ field: 'spec.network.matchProtocols[0].fromSource' })]);
    expect(renderSelinuxModule([base], host, { posture: { file: 'deny' as never } }).problems).toEqual([expect.objectContaining({ field: 'options.posture.file' })]);
  });

  it('refuses a pattern that partly overlaps another target (one type per file)', () => {
    const r = renderSelinuxModule(
      [
        hostPolicy('default-dir', { file: { matchDirectories: [{ dir: '/etc/default/', recursive: true }] }, action: 'Block' }),
        hostPolicy('any-x', { file: { matchPatterns: [{ pattern: '/etc/*/x' }] }, action: 'Audit' }),
      ],
      host,
    );
    expect(r.problems).toEqual([expect.objectContaining({ policy: 'any-x', field: 'spec.file.matchPatterns[0]', reason: expect.stringMatching(/partly overlaps spec.file.matchDirectories\[0\]/) })]);
  });

  it('refuses text a validated policy cannot contain when given an unvalidated one', () => {
    const bad: NormalizedHostPolicy = {
      ...diffBlock,
      rules: [{ ...diffBlock.rules[0]!, target: { kind: 'path', path: '/tmp/a") (allow x y (file (read))) ("' } } as NormalizedHostPolicy['rules'][number]],
    };
    const r = renderSelinuxModule([bad], host);
    expect(r.problems).toEqual([expect.objectContaining({ field: 'spec.process.matchPaths[0].path', reason: expect.stringMatching(/double quote/) })]);
    expect(r.module).toBe('');
  });

  it('keeps policy text inside filecon strings: parentheses, semicolons and regex characters cannot add a statement', () => {
    const nasty = [
      '/tmp/a) (allow unconfined_t shadow_t (file (read))',
      '/srv/x; (type evil_t)',
      '/srv/.*[({|+?^$',
      '/srv/a b/c',
      '/srv/ünïcode',
    ];
    const r = renderSelinuxModule(
      [
        hostPolicy('nasty', {
          file: { matchPaths: nasty.map((path) => ({ path, fromSource: [{ path: '/usr/bin/x (y)' }] })) },
          process: { matchPatterns: [{ pattern: '/opt/{a,b(c)}/*.sh' }] },
          action: 'Block',
        }),
      ],
      { name: 'host; (type evil_t)\n(allow' },
    );
    expect(r.problems).toEqual([]);
    const parsed = parseCil(r.module);
    expect(Array.isArray(parsed)).toBe(true);
    const statements = parsed as CilNode[][];
    expect(heads(r.module)).toContain('filecon');
    for (const s of statements) {
      expect(STATEMENTS.has((s[0] as { atom: string }).atom)).toBe(true);
      const strings = leaves(s).filter((l): l is { string: string } => 'string' in l);
      if ((s[0] as { atom: string }).atom === 'filecon') expect(strings).toHaveLength(1);
      else expect(strings).toEqual([]);
      for (const l of leaves(s)) if ('atom' in l) expect(l.atom).toMatch(/^[A-Za-z0-9_]+$/);
    }
    // Every path is one filecon string, matched by that string and nothing else of the policy.
    for (const path of nasty) {
      const fc = r.fileContexts.filter((f) => new RegExp(`^(?:${f.pathRegex.replace(/\\Q\\E$/, '')})$`).test(toByteString(path)));
      expect(fc, path).toHaveLength(1);
    }
    expect(r.fileContexts.every((f) => /^[\x21-\x7e]+$/.test(f.pathRegex))).toBe(true); // file_contexts lines must be ASCII
    expect(r.module).not.toMatch(/^\(type evil_t\)/m);
  });
});

describe('renderSelinuxModule learning mode', () => {
  it('makes the learning binaries\' domains permissive, giving a binary without rules a domain of its own', () => {
    const plain = renderSelinuxModule([headBlock], host);
    expect(plain.permissiveDomains).toEqual([]);
    expect(heads(plain.module)).not.toContain('typepermissive');
    const r = renderSelinuxModule([headBlock], host, { learning: { binaries: ['/usr/bin/head', '/bin/curl'] } });
    expect(r.problems).toEqual([]);
    // /bin is an alias of /usr/bin: the domain is for the path the policy labels.
    expect(Object.values(r.domainSources).sort()).toEqual(['/usr/bin/curl', '/usr/bin/head']);
    expect(r.permissiveDomains).toEqual(Object.keys(r.domainSources).sort());
    const permissive = (parseCil(r.module) as CilNode[][]).filter((st) => (st[0] as { atom: string }).atom === 'typepermissive').map((st) => (st[1] as { atom: string }).atom);
    expect(permissive.sort()).toEqual(r.permissiveDomains);
    expect(r.fileContexts.some((f) => f.pathRegex === '/usr/bin/curl\\Q\\E')).toBe(true);
    expect(r.typePolicies[r.permissiveDomains.find((d) => r.domainSources[d] === '/usr/bin/curl')!]).toEqual([]);
    // Nothing else changes for head but permissiveness and its allow-list.
    expect(plain.domainSources).toEqual({ [Object.keys(plain.domainSources)[0]!]: '/usr/bin/head' });
  });

  it('refuses learning binaries that are not absolute binary paths, naming them', () => {
    const r = renderSelinuxModule([headBlock], host, { learning: { binaries: ['/ok', 'relative', '/dir/', '/x"y'] } });
    expect(r.module).toBe('');
    expect(r.problems.map((p) => p.field)).toEqual(['spec.learning.binaries[1]', 'spec.learning.binaries[2]', 'spec.learning.binaries[3]']);
  });

  it('is deterministic whatever the order of the binaries', () => {
    const a = renderSelinuxModule([headBlock, diffBlock], host, { learning: { binaries: ['/usr/bin/b', '/usr/bin/a'] } });
    const b = renderSelinuxModule([diffBlock, headBlock], host, { learning: { binaries: ['/usr/bin/a', '/usr/bin/b'] } });
    expect(b).toEqual(a);
  });
});
