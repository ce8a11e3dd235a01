import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { compileAppArmorFiles } from './loader-compile.js';
import { parsePostures, resolvePostures } from './postures.js';
import { renderAppArmorProfiles } from './render.js';
import type { AppArmorRender } from './render-types.js';

const host = { name: 'web-1' };

function hostPolicy(name: string, spec: Record<string, unknown>, resourceVersion?: string): NormalizedHostPolicy {
  const object = {
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'web-1' } }, ...spec },
  };
  const checked = validateResource(object);
  if (!checked.valid) throw new Error(`test policy ${name} is invalid: ${JSON.stringify(checked.errors)}`);
  return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
}

/** Rule lines of a profile without their provenance comments. */
function ruleLines(render: AppArmorRender, profile: string): string[] {
  const artifact = render.artifacts.find((a) => a.name === profile);
  if (!artifact) throw new Error(`no profile ${profile} in ${render.artifacts.map((a) => a.name).join(', ')}`);
  return artifact.content
    .split('\n')
    .map((l) => l.replace(/ {2}# .*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function profileLine(render: AppArmorRender, profile: string): string | undefined {
  return ruleLines(render, profile).find((l) => l.startsWith('profile '));
}

const work = mkdtempSync(join(tmpdir(), 'apparmor-render-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function expectCompiles(render: AppArmorRender): Promise<void> {
  const dir = mkdtempSync(join(work, 'set-'));
  const files = render.artifacts.map((a) => {
    writeFileSync(join(dir, a.fileName), a.content);
    return join(dir, a.fileName);
  });
  const results = await compileAppArmorFiles(files);
  expect(results.filter((r) => !r.ok)).toEqual([]);
}

const headBlock = hostPolicy('head-block', { file: { matchPaths: [{ path: '/etc/hostname', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Block' }, '41');
const diffBlock = hostPolicy('diff-block', { process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' }, '7');
const catAllow = hostPolicy('cat-allow', { file: { matchDirectories: [{ dir: '/srv/', recursive: true, fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Allow' });

describe('renderAppArmorProfiles', () => {
  it('is deterministic and independent of the order of the policies', () => {
    const a = renderAppArmorProfiles([headBlock, diffBlock, catAllow], host);
    const b = renderAppArmorProfiles([catAllow, headBlock, diffBlock], host);
    const c = renderAppArmorProfiles([diffBlock, catAllow, headBlock], host);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.artifacts.map((x) => x.name)).toEqual(['kubearmor.host', 'kubearmor_usrbincat', 'kubearmor_usrbinhead']);
  });

  it('names the policies and their resourceVersions in each header, and hashes the content', () => {
    const render = renderAppArmorProfiles([headBlock, diffBlock], host);
    const head = render.artifacts.find((a) => a.name === 'kubearmor_usrbinhead')!;
    expect(head.content).toContain('#   diff-block resourceVersion=7\n#   head-block resourceVersion=41\n');
    expect(head.content).toContain('# host: web-1\n');
    expect(head.policies).toEqual([{ name: 'diff-block', resourceVersion: '7' }, { name: 'head-block', resourceVersion: '41' }]);
    for (const a of render.artifacts) expect(a.sha256).toBe(createHash('sha256').update(a.content).digest('hex'));
    expect(render.profilePolicies).toEqual({ 'kubearmor.host': ['diff-block'], kubearmor_usrbinhead: ['diff-block', 'head-block'] });
  });

  it('renders Block as audit deny and Audit as audit, never a plain deny', () => {
    const audit = hostPolicy('passwd-audit', { file: { matchPaths: [{ path: '/etc/passwd' }] }, action: 'Audit' });
    const render = renderAppArmorProfiles([diffBlock, audit, headBlock], host);
    expect(ruleLines(render, 'kubearmor.host')).toEqual(expect.arrayContaining(['audit deny "/usr/bin/diff" x,', 'audit "/etc/passwd" klmrw,']));
    expect(ruleLines(render, 'kubearmor_usrbinhead')).toContain('audit deny "/etc/hostname" klmrw,');
    for (const a of render.artifacts) expect(a.content).not.toMatch(/^\s*deny /m);
  });

  it('attaches fromSource profiles to the source binary itself (daemons started by systemd are confined)', () => {
    const render = renderAppArmorProfiles([headBlock], host);
    expect(profileLine(render, 'kubearmor_usrbinhead')).toBe('profile kubearmor_usrbinhead "/usr/bin/head" flags=(attach_disconnected,mediate_deleted) {');
    expect(ruleLines(render, 'kubearmor.host')).toContain('"/usr/bin/head" px,');
  });

  it('copies global rules into fromSource profiles unless the source overrides the key or a directory covers it', () => {
    const global = hostPolicy('global', {
      file: { matchPaths: [{ path: '/etc/hostname' }, { path: '/etc/shadow' }, { path: '/srv/a/b.txt' }, { path: '/srv/x.txt' }] },
      action: 'Block',
    });
    const own = hostPolicy('own', {
      file: {
        matchPaths: [{ path: '/etc/hostname', fromSource: [{ path: '/usr/bin/head' }], action: 'Allow' }],
        matchDirectories: [{ dir: '/srv/', fromSource: [{ path: '/usr/bin/head' }], action: 'Allow' }],
      },
    });
    const lines = ruleLines(renderAppArmorProfiles([global, own], host), 'kubearmor_usrbinhead');
    expect(lines).toContain('"/etc/hostname" klmrw,');
    expect(lines).not.toContain('audit deny "/etc/hostname" klmrw,');
    expect(lines).toContain('audit deny "/etc/shadow" klmrw,');
    // /srv/ non-recursive covers /srv/x.txt but not /srv/a/b.txt (upstream checkIfGlobalRuleToBeAdded).
    expect(lines).not.toContain('audit deny "/srv/x.txt" klmrw,');
    expect(lines).toContain('audit deny "/srv/a/b.txt" klmrw,');
  });

  it('makes only the profile with Allow rules an allow-list under posture block', async () => {
    const bashOnlyDate = hostPolicy('bash-date', { process: { matchPaths: [{ path: '/usr/bin/date', fromSource: [{ path: '/usr/bin/bash' }] }] }, action: 'Allow' });
    const render = renderAppArmorProfiles([bashOnlyDate, headBlock], host, { postures: { file: 'block' } });
    expect(ruleLines(render, 'kubearmor.host')).toContain('file,');
    expect(ruleLines(render, 'kubearmor_usrbinhead')).toContain('file,');
    const bash = ruleLines(render, 'kubearmor_usrbinbash');
    expect(bash).not.toContain('file,');
    // The allowed program runs under the host-wide dispatcher rules, not bash's allow-list.
    expect(bash).toContain('"/usr/bin/date" px -> kubearmor.host,');
    // bash may not start head here: no blanket, no rule for it.
    expect(bash.some((l) => l.includes('kubearmor_usrbinhead'))).toBe(false);
    await expectCompiles(render);
  });

  it('keeps exec transitions free of conflicts (literals, globs, sources, owner-only) so the set compiles', async () => {
    const mixed = hostPolicy('mixed', {
      process: {
        matchPaths: [
          { path: '/usr/bin/head', fromSource: [{ path: '/usr/bin/bash' }], action: 'Allow' },
          { path: '/usr/bin/bash', fromSource: [{ path: '/usr/bin/bash' }], action: 'Allow' },
          { path: '/usr/bin/ls', fromSource: [{ path: '/usr/bin/bash' }], action: 'Audit' },
          { path: '/usr/bin/ls', fromSource: [{ path: '/usr/bin/bash' }], action: 'Allow', ownerOnly: true },
          { execname: 'python3', fromSource: [{ path: '/usr/bin/bash' }], action: 'Allow' },
          { path: '/usr/bin/head', action: 'Audit' },
          { path: '/usr/bin/head', ownerOnly: true, action: 'Block' },
        ],
        matchDirectories: [{ dir: '/usr/local/bin/', recursive: true, fromSource: [{ path: '/usr/bin/bash' }], action: 'Allow' }],
        matchPatterns: [{ pattern: '/usr/bin/h*', action: 'Allow' }, { pattern: '/usr/bin/l{s,n}', action: 'Audit' }],
      },
      file: { matchPaths: [{ path: '/tmp/x', fromSource: [{ path: '/usr/bin/head' }], action: 'Block' }] },
    });
    for (const file of ['allow', 'audit', 'block'] as const) {
      const render = renderAppArmorProfiles([mixed], host, { postures: { file } });
      const dispatcher = ruleLines(render, 'kubearmor.host');
      // An Audit rule on a source binary audits the hand-over itself, unless the global Allow
      // pattern made the dispatcher an allow-list (then Audit rules never render).
      const handOver = file === 'block' ? '"/usr/bin/head" px,' : 'audit "/usr/bin/head" px,';
      expect(dispatcher).toContain(handOver);
      expect(dispatcher.includes('file,')).toBe(file !== 'block');
      await expectCompiles(render);
    }
  });

  it('quotes every path and escapes glob characters of literal paths', async () => {
    const odd = hostPolicy('odd-paths', {
      file: {
        matchPaths: [
          { path: '/srv/a b,c#d', action: 'Block' },
          { path: '/srv/star*{x,y}[z]?', action: 'Block' },
          { path: '/srv/ünï', action: 'Block', fromSource: [{ path: '/opt/my app/bin*' }] },
        ],
        matchPatterns: [{ pattern: '/srv/**/[a-c]*.{log,txt}', action: 'Audit' }],
      },
    });
    const render = renderAppArmorProfiles([odd], host);
    const lines = ruleLines(render, 'kubearmor.host');
    expect(lines).toContain('audit deny "/srv/a b,c#d" klmrw,');
    expect(lines).toContain('audit deny "/srv/star\\*\\{x,y\\}\\[z\\]\\?" klmrw,');
    expect(lines).toContain('audit "/srv/**/[a-c]*.{log,txt}" klmrw,');
    expect(lines).toContain('"/opt/my app/bin\\*" px,');
    expect(profileLine(render, 'kubearmor_optmyappbin')).toBe('profile kubearmor_optmyappbin "/opt/my app/bin\\*" flags=(attach_disconnected,mediate_deleted) {');
    await expectCompiles(render);
  });

  it('refuses and reports text that would break out of a quoted string, even from an unvalidated caller', () => {
    const evil: NormalizedHostPolicy = {
      name: 'evil',
      nodeSelector: { a: 'b' },
      action: 'Block',
      rules: [
        { class: 'file', policy: 'evil', field: 'spec.file.matchPaths[0]', action: 'Block', tags: [], target: { kind: 'path', path: '/tmp/x" r,\n/kvm-marker rw,\n"' }, fromSource: [], readOnly: false, ownerOnly: false, pts: false },
        { class: 'file', policy: 'evil', field: 'spec.file.matchPatterns[0]', action: 'Block', tags: [], target: { kind: 'pattern', pattern: '/tmp/{x}' }, fromSource: [], readOnly: false, ownerOnly: false, pts: false },
        { class: 'file', policy: 'evil', field: 'spec.file.matchPaths[1]', action: 'Block', tags: [], target: { kind: 'path', path: '/etc/passwd' }, fromSource: ['/usr/bin/x\nkvm-marker'], readOnly: false, ownerOnly: false, pts: false },
        { class: 'network', policy: 'evil', field: 'spec.network.matchProtocols[0]', action: 'Block', tags: [], protocol: 'tcp, /kvm-marker' as never, fromSource: ['/usr/bin/nc'] },
      ],
    };
    const render = renderAppArmorProfiles([evil], host);
    expect(render.artifacts).toEqual([]);
    expect(render.unenforceable.map((u) => u.field)).toEqual([
      'spec.file.matchPaths[0].path',
      'spec.file.matchPatterns[0].pattern',
      'spec.file.matchPaths[1].fromSource[0].path',
      'spec.network.matchProtocols[0]',
    ]);
    expect(render.unenforceable[0]!.reason).toBe('refused: must not contain control characters (found U+000a)');
    expect(render.unenforceable[1]!.reason).toContain('single alternative');
  });

  it('refuses "." and ".." path components, which the kernel never reports (the rule would silently never apply)', () => {
    const dots: NormalizedHostPolicy = {
      name: 'dots',
      nodeSelector: { a: 'b' },
      action: 'Block',
      rules: [
        { class: 'file', policy: 'dots', field: 'spec.file.matchPaths[0]', action: 'Block', tags: [], target: { kind: 'path', path: '/etc/../etc/shadow' }, fromSource: [], readOnly: false, ownerOnly: false, pts: false },
        { class: 'file', policy: 'dots', field: 'spec.file.matchDirectories[0]', action: 'Block', tags: [], target: { kind: 'dir', dir: '/srv/./data/', recursive: true }, fromSource: [], readOnly: false, ownerOnly: false, pts: false },
        { class: 'file', policy: 'dots', field: 'spec.file.matchPaths[1]', action: 'Block', tags: [], target: { kind: 'path', path: '/etc/..hidden' }, fromSource: [], readOnly: false, ownerOnly: false, pts: false },
      ],
    };
    const render = renderAppArmorProfiles([dots], host);
    expect(render.unenforceable.map((u) => `${u.field}: ${u.reason.slice(0, 48)}`)).toEqual([
      'spec.file.matchPaths[0].path: refused: must not contain "." or ".." components',
      'spec.file.matchDirectories[0].dir: refused: must not contain "." or ".." components',
    ]);
    expect(render.artifacts.map((a) => a.content).join('\n')).toContain('"/etc/..hidden"');
  });

  it('reports what AppArmor cannot express instead of dropping it', () => {
    const policy = hostPolicy('mixed-classes', {
      syscalls: { matchSyscalls: [{ syscall: ['unlink'] }] },
      device: { matchDevice: [{ class: 'HID' }] },
      network: {
        matchDNSQueries: [{ domain: 'example.com' }],
        matchProtocols: [{ protocol: 'icmpv6,sctp,dccp,tcp', fromSource: [{ path: '/usr/bin/ping' }] }],
      },
      process: { matchPaths: [{ path: '/usr/bin/sudo', allowedArgs: ['-l'], pts: true }] },
      apparmor: 'deny /etc/shadow r,',
      action: 'Block',
    });
    const render = renderAppArmorProfiles([policy], host);
    const byField = render.unenforceable.map((u) => `${u.field}: ${u.reason.split(';')[0]}`);
    expect(byField).toEqual([
      'spec.process.matchPaths[0].pts: AppArmor cannot tell whether a process runs on a terminal',
      'spec.process.matchPaths[0].allowedArgs: AppArmor cannot match arguments',
      'spec.network.matchProtocols[0]: AppArmor 3.0 has no name for ICMPv6 (upstream renders it as "icmp", which matches IPv4 ICMP instead)',
      'spec.network.matchProtocols[0]: AppArmor 3.0 has no name for the SCTP protocol',
      'spec.network.matchProtocols[0]: AppArmor 3.0 has no name for the DCCP protocol',
      'spec.network.matchDNSQueries[0]: AppArmor cannot match DNS queries',
      'spec.syscalls.matchSyscalls[0]: AppArmor cannot mediate individual system calls',
      'spec.device.matchDevice[0]: AppArmor cannot mediate USB devices',
      'spec.apparmor: native AppArmor rules are rendered only with allowNativeRules (they bypass every check)',
    ]);
    expect(ruleLines(render, 'kubearmor_usrbinping')).toContain('audit deny network tcp,');
    expect(ruleLines(render, 'kubearmor.host')).toContain('audit deny "/usr/bin/sudo" x,');
    expect(render.artifacts.map((a) => a.content).join('\n')).not.toContain('/etc/shadow');
  });

  it('renders spec.apparmor into the dispatcher only with allowNativeRules', async () => {
    const policy = hostPolicy('native', { apparmor: 'deny /etc/shadow r,\n  audit /etc/gshadow r,', process: { matchPaths: [{ path: '/usr/bin/su' }] } });
    const render = renderAppArmorProfiles([policy], host, { allowNativeRules: true });
    expect(render.unenforceable).toEqual([]);
    expect(ruleLines(render, 'kubearmor.host')).toEqual(expect.arrayContaining(['deny /etc/shadow r,', 'audit /etc/gshadow r,']));
    await expectCompiles(render);
  });

  it('renders nothing when nothing is enforceable', () => {
    expect(renderAppArmorProfiles([], host)).toEqual({ artifacts: [], profilePolicies: {}, profileSources: {}, complainProfiles: [], unenforceable: [] });
    const syscallsOnly = hostPolicy('sys', { syscalls: { matchSyscalls: [{ syscall: ['unlink'] }] } });
    const render = renderAppArmorProfiles([syscallsOnly], host);
    expect(render.artifacts).toEqual([]);
    expect(render.unenforceable).toHaveLength(1);
  });

  it('gives colliding source names a hash suffix, independent of order', () => {
    const a = hostPolicy('a', { file: { matchPaths: [{ path: '/x', fromSource: [{ path: '/usr/bin/head' }, { path: '/usr/binhead' }, { path: '/usr/bin/ls' }] }] } });
    const names = renderAppArmorProfiles([a], host).artifacts.map((x) => x.name);
    expect(names).toHaveLength(4);
    expect(names).toContain('kubearmor_usrbinls');
    expect(names.filter((n) => /^kubearmor_usrbinhead_[0-9a-f]{8}$/.test(n))).toHaveLength(2);
  });
});

describe('learning mode', () => {
  const flagsOf = (render: AppArmorRender, profile: string) => /flags=\(([^)]*)\)/.exec(profileLine(render, profile) ?? '')?.[1];

  it('switches an existing fromSource profile to complain mode without its blankets, keeping its rules', async () => {
    const catOwn = hostPolicy('cat-own', { file: { matchPaths: [{ path: '/etc/motd', fromSource: [{ path: '/usr/bin/cat' }] }] }, network: { matchProtocols: [{ protocol: 'tcp', fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Block' });
    const before = renderAppArmorProfiles([catOwn, headBlock], host);
    const render = renderAppArmorProfiles([catOwn, headBlock], host, { learning: { binaries: ['/usr/bin/cat'] } });
    expect(flagsOf(before, 'kubearmor_usrbincat')).toBe('attach_disconnected,mediate_deleted');
    expect(flagsOf(render, 'kubearmor_usrbincat')).toBe('attach_disconnected,mediate_deleted,complain');
    const cat = ruleLines(render, 'kubearmor_usrbincat');
    expect(cat).toEqual(expect.arrayContaining(['audit deny "/etc/motd" klmrw,', 'audit deny network tcp,', '"/usr/bin/head" px,']));
    for (const blanket of ['file,', 'network,', 'capability,']) {
      expect(ruleLines(before, 'kubearmor_usrbincat')).toContain(blanket);
      expect(cat).not.toContain(blanket);
    }
    // Other profiles are untouched.
    for (const name of ['kubearmor.host', 'kubearmor_usrbinhead']) {
      expect(render.artifacts.find((a) => a.name === name)!.content).toBe(before.artifacts.find((a) => a.name === name)!.content);
    }
    expect(render.complainProfiles).toEqual(['kubearmor_usrbincat']);
    expect(before.complainProfiles).toEqual([]);
    await expectCompiles(render);
  });

  it('gives a binary without a profile a minimal complain-mode profile on its path, handed over by the dispatcher', async () => {
    const render = renderAppArmorProfiles([headBlock, diffBlock], host, { learning: { binaries: ['/usr/sbin/nginx'] } });
    expect(render.artifacts.map((a) => a.name)).toEqual(['kubearmor.host', 'kubearmor_usrbinhead', 'kubearmor_usrsbinnginx']);
    expect(profileLine(render, 'kubearmor_usrsbinnginx')).toBe('profile kubearmor_usrsbinnginx "/usr/sbin/nginx" flags=(attach_disconnected,mediate_deleted,complain) {');
    const nginx = ruleLines(render, 'kubearmor_usrsbinnginx');
    // Nothing but the base abstraction, its own executable, hand-overs and the privileged rules.
    expect(nginx.filter((l) => !['include <tunables/global>', 'include <abstractions/base>', 'mount,', 'umount,', 'signal,', 'unix,', 'ptrace,', 'dbus,', '}'].includes(l) && !l.startsWith('profile '))).toEqual([
      '"/usr/sbin/nginx" mr,',
      '"/usr/sbin/nginx" ix,',
      '"/usr/bin/head" px,',
      '/lib/x86_64-linux-gnu/{*,**} rm,',
    ]);
    expect(ruleLines(render, 'kubearmor.host')).toContain('"/usr/sbin/nginx" px,');
    expect(ruleLines(render, 'kubearmor_usrbinhead')).toContain('"/usr/sbin/nginx" px,');
    expect(render.profileSources).toEqual({ kubearmor_usrbinhead: '/usr/bin/head', kubearmor_usrsbinnginx: '/usr/sbin/nginx' });
    expect(render.profilePolicies.kubearmor_usrsbinnginx).toEqual([]);
    expect(render.artifacts.find((a) => a.name === 'kubearmor_usrsbinnginx')!.policies).toEqual([]);
    await expectCompiles(render);
  });

  it('renders learning profiles alone when no policy selects the host (no dispatcher: shells stay unconfined)', async () => {
    const render = renderAppArmorProfiles([], host, { learning: { binaries: ['/usr/bin/curl', '/usr/bin/python3.11'] } });
    expect(render.artifacts.map((a) => a.name)).toEqual(['kubearmor_usrbincurl', 'kubearmor_usrbinpython311']);
    expect(render.complainProfiles).toEqual(['kubearmor_usrbincurl', 'kubearmor_usrbinpython311']);
    expect(ruleLines(render, 'kubearmor_usrbincurl')).toContain('"/usr/bin/python3.11" px,');
    expect(render.unenforceable).toEqual([]);
    await expectCompiles(render);
    expect(renderAppArmorProfiles([], host, { learning: { binaries: [] } }).artifacts).toEqual([]);
  });

  it('renders Audit rules in a learning profile even under posture block (nothing is blocked there)', async () => {
    const catAudit = hostPolicy('cat-audit', {
      file: { matchPaths: [{ path: '/etc/issue', fromSource: [{ path: '/usr/bin/cat' }], action: 'Audit' }, { path: '/etc/motd', fromSource: [{ path: '/usr/bin/cat' }], action: 'Allow' }] },
    });
    const enforced = renderAppArmorProfiles([catAudit], host, { postures: { file: 'block' } });
    expect(enforced.unenforceable.map((u) => u.field)).toEqual(['spec.file.matchPaths[0]']);
    const learning = renderAppArmorProfiles([catAudit], host, { postures: { file: 'block' }, learning: { binaries: ['/usr/bin/cat'] } });
    expect(learning.unenforceable).toEqual([]);
    expect(ruleLines(learning, 'kubearmor_usrbincat')).toEqual(expect.arrayContaining(['audit "/etc/issue" klmrw,', '"/etc/motd" klmrw,']));
    await expectCompiles(learning);
  });

  it('reports learning binaries a profile cannot attach to, and renders no profile for them', () => {
    const render = renderAppArmorProfiles([], host, { learning: { binaries: ['/usr/bin/ok', 'relative', '/x"\n  /etc/shadow rw,', '/dir/'] } });
    expect(render.artifacts.map((a) => a.name)).toEqual(['kubearmor_usrbinok']);
    expect(render.unenforceable.map((u) => u.field)).toEqual(['spec.learning.binaries[1]', 'spec.learning.binaries[2]', 'spec.learning.binaries[3]']);
    expect(render.artifacts[0]!.content).not.toContain('shadow');
  });

  it('is deterministic whatever the order of the binaries', () => {
    const a = renderAppArmorProfiles([headBlock], host, { learning: { binaries: ['/usr/bin/b', '/usr/bin/a', '/usr/bin/head'] } });
    const b = renderAppArmorProfiles([headBlock], host, { learning: { binaries: ['/usr/bin/head', '/usr/bin/a', '/usr/bin/b'] } });
    expect(b).toEqual(a);
  });
});

describe('postures', () => {
  it('defaults every class to audit, as upstream', () => {
    expect(resolvePostures(undefined)).toEqual({ file: 'audit', network: 'audit', capabilities: 'audit' });
    expect(resolvePostures({ network: 'block' })).toEqual({ file: 'audit', network: 'block', capabilities: 'audit' });
  });

  it('refuses a value outside allow|audit|block', () => {
    expect(() => resolvePostures({ file: 'deny' as never })).toThrow('posture file must be one of allow, audit, block, not "deny"');
  });

  it('parses the CLI form and names what is wrong', () => {
    expect(parsePostures('file=block, network=audit,capabilities=allow')).toEqual({ postures: { file: 'block', network: 'audit', capabilities: 'allow' } });
    expect(parsePostures('')).toEqual({ postures: {} });
    expect(parsePostures('file=deny')).toEqual({ error: 'posture "file=deny": value must be one of allow, audit, block' });
    expect(parsePostures('disk=block')).toEqual({ error: 'posture "disk=block": class must be one of file, network, capabilities' });
    expect(parsePostures('file')).toEqual({ error: 'posture "file": expected CLASS=VALUE' });
    expect(parsePostures('file=block,file=audit')).toEqual({ error: 'posture "file" is given twice' });
  });
});
