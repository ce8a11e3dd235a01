/**
 * Upstream's k8s host scenarios (`test-k8s-host-scenario__<test>__cmdN.expect.yaml`: source,
 * command, result; operation, condition, action): for every command, the table below states which
 * rendered rule decides the outcome. A small evaluator of the rendered profiles walks each command
 * (a login shell execs the command's binaries, which then read files) and must reach the same
 * deciding rule and the expected result. The kernel proves the mapping in the kernel-VM tier.
 *
 * Evaluator model (AppArmor's, for the rule forms our renderer emits): the shell attaches to the
 * profile whose attachment matches `/usr/bin/bash` (an exact attachment wins over a glob); an exec
 * is decided by a matching `deny … x` rule, then an exact exec rule, then a wildcard exec rule,
 * then the blanket `file,` (inherit); a file read by `deny … r`, then any rule granting `r`, then
 * `file,`; nothing matching means denied by the posture. Owner qualifiers are taken as matching.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocuments, checkDocuments, hostLabels, hostSelectorMatches, normalizeHostPolicy, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { renderAppArmorProfiles, type AppArmorArtifact } from '@kvmservice/apparmor';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';
import { DECIDING_RULES, type Decision } from '../support/host-scenarios.js';

// --- A tiny evaluator of the profiles our renderer writes --------------------------------------

interface Rule {
  audit: boolean;
  deny: boolean;
  path: RegExp;
  exact: boolean;
  perms: string;
  target?: string;
  line: string;
}

interface Profile {
  name: string;
  attachment: RegExp;
  exactAttachment: boolean;
  blanketFile: boolean;
  rules: Rule[];
}

/** AppArmor glob → RegExp (the subset our renderer emits). */
function aareToRegExp(aare: string): { re: RegExp; exact: boolean } {
  let out = '';
  let exact = true;
  for (let i = 0; i < aare.length; i++) {
    const c = aare[i]!;
    if (c === '\\') {
      out += aare[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '*' || c === '?') {
      exact = false;
      if (c === '?') out += '[^/]';
      else if (aare[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else if (c === '{') out += '(?:';
    else if (c === '}') out += ')';
    else if (c === ',') out += '|';
    else if (c === '[') {
      const end = aare.indexOf(']', i);
      out += aare.slice(i, end + 1);
      i = end;
      exact = false;
    } else out += c.replace(/[.+^$()|/]/g, '\\$&');
  }
  return { re: new RegExp(`^${out}$`), exact };
}

function parseProfiles(artifacts: AppArmorArtifact[]): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const a of artifacts) {
    let current: Profile | undefined;
    for (const raw of a.content.split('\n')) {
      const line = raw.replace(/ {2}# .*$/, '').trim();
      const head = /^profile (\S+) ("[^"]+"|\S+) flags=\(.*\) \{$/.exec(line);
      if (head) {
        const attach = aareToRegExp(head[2]!.replace(/^"|"$/g, ''));
        current = { name: head[1]!, attachment: attach.re, exactAttachment: attach.exact, blanketFile: false, rules: [] };
        profiles.set(current.name, current);
        continue;
      }
      if (!current || line === '' || line.startsWith('#')) continue;
      if (line === 'file,') current.blanketFile = true;
      const rule = /^(audit )?(deny )?(?:owner |other )?"([^"]+)" ([a-z]+)(?: -> (\S+))?,$/.exec(line);
      if (rule) {
        const { re, exact } = aareToRegExp(rule[3]!);
        current.rules.push({ audit: !!rule[1], deny: !!rule[2], path: re, exact, perms: rule[4]!, target: rule[5], line });
      }
    }
  }
  return profiles;
}

interface Outcome {
  allowed: boolean;
  decision: Decision;
  /** The profile the process ends up in. */
  profile: string;
}

function exec(profiles: Map<string, Profile>, from: string, path: string): Outcome {
  const p = profiles.get(from)!;
  const matching = p.rules.filter((r) => r.path.test(path) && r.perms.includes('x'));
  const deny = matching.find((r) => r.deny);
  if (deny) return { allowed: false, decision: { profile: from, line: deny.line }, profile: from };
  const allow = matching.find((r) => r.exact) ?? matching[0];
  if (allow) {
    if (allow.perms.includes('p') && allow.target === undefined) {
      // `px` without a name: the profile attached to the path; none means the kernel refuses the exec.
      const attached = attach(profiles, path);
      if (!attached) return { allowed: false, decision: { profile: from, line: allow.line }, profile: from };
      return { allowed: true, decision: { profile: from, line: allow.line }, profile: attached };
    }
    return { allowed: true, decision: { profile: from, line: allow.line }, profile: allow.target ?? from };
  }
  if (p.blanketFile) return { allowed: true, decision: { profile: from, line: 'file,' }, profile: from };
  return { allowed: false, decision: { profile: from, line: '(posture)' }, profile: from };
}

function read(profiles: Map<string, Profile>, from: string, path: string): Outcome {
  const p = profiles.get(from)!;
  const matching = p.rules.filter((r) => r.path.test(path) && r.perms.includes('r'));
  const deny = matching.find((r) => r.deny);
  if (deny) return { allowed: false, decision: { profile: from, line: deny.line }, profile: from };
  const allow = matching[0];
  if (allow) return { allowed: true, decision: { profile: from, line: allow.line }, profile: from };
  if (p.blanketFile) return { allowed: true, decision: { profile: from, line: 'file,' }, profile: from };
  return { allowed: false, decision: { profile: from, line: '(posture)' }, profile: from };
}

/**
 * Where an exec of `path` lands by attachment. As Debian's 6.1 kernel does it (test/kernel, "Attachment
 * of shells"): when the dispatcher's glob matches, the dispatcher wins even over an exact
 * attachment; otherwise the exact attachment.
 */
function attach(profiles: Map<string, Profile>, path: string): string | undefined {
  const candidates = [...profiles.values()].filter((p) => p.attachment.test(path));
  return (candidates.find((p) => p.name === 'kubearmor.host') ?? candidates.find((p) => p.exactAttachment) ?? candidates[0])?.name;
}

/** Runs a scenario command: binaries resolve to /usr/bin (Debian's merged /usr). */
function run(profiles: Map<string, Profile>, cmd: string): Outcome {
  const words = cmd.split(/\s+/);
  const shell = attach(profiles, '/usr/bin/bash');
  if (!shell) throw new Error('the login shell is not confined by any rendered profile');
  const steps: { op: 'exec' | 'read'; path: string }[] = [{ op: 'exec', path: `/usr/bin/${words[0]}` }];
  if (words[0] === 'bash' && words[1] === '-c') steps.push({ op: 'exec', path: `/usr/bin/${words[2]}` });
  const file = words.slice(1).find((w) => w.startsWith('/'));
  if (file) steps.push({ op: 'read', path: file });
  let current = shell;
  let last: Outcome | undefined;
  for (const step of steps) {
    last = step.op === 'exec' ? exec(profiles, current, step.path) : read(profiles, current, step.path);
    if (!last.allowed) return last;
    current = last.profile;
  }
  return last!;
}

// --- The scenarios -------------------------------------------------------------------------------

interface Scenario {
  dir: string;
  test: string;
  policyFile: string;
  commands: { name: string; source: string; cmd: string; result: string; operation: string; action: string }[];
}

function scenarios(): Scenario[] {
  const dir = conformanceDir('kubearmor');
  const files = readdirSync(dir).filter((f) => f.startsWith('test-k8s-host-scenario__'));
  const byTest = new Map<string, Scenario>();
  for (const file of files) {
    const [, testDir, leaf] = file.split('__') as [string, string, string];
    const s = byTest.get(testDir) ?? { dir, test: testDir, policyFile: '', commands: [] };
    if (leaf.startsWith('hsp-')) s.policyFile = file;
    else {
      const [first, second] = parseDocuments(readConformanceFile(dir, file), file).map((d) => d.object as Record<string, string>);
      s.commands.push({ name: leaf.replace(/\.expect\.yaml$/, ''), source: first!.source!, cmd: first!.cmd!, result: String(first!.result).trim(), operation: second!.operation!, action: second!.action! });
    }
    byTest.set(testDir, s);
  }
  return [...byTest.values()].sort((a, b) => (a.test < b.test ? -1 : 1));
}

describe('upstream host scenarios: which rendered rule decides each command', () => {
  const all = scenarios();

  it('covers all 18 scenario tests and their 32 commands', () => {
    expect(all).toHaveLength(18);
    expect(all.flatMap((s) => s.commands)).toHaveLength(32);
    for (const s of all) expect(s.policyFile, s.test).not.toBe('');
  });

  it.each(all.flatMap((s) => s.commands.map((c) => ({ ...c, scenario: s, id: `${s.test} ${c.name}: ${c.cmd} → ${c.result}` }))))('$id', ({ scenario, name, cmd, result, action }) => {
    const checked = checkDocuments(readConformanceFile(scenario.dir, scenario.policyFile), scenario.policyFile);
    expect(checked.map((c) => c.result.valid)).toEqual([true]);
    const policy = normalizeHostPolicy((checked[0]!.result as { resource: unknown }).resource as KubeArmorHostPolicy);
    // Render for the host the policy selects (upstream runs each scenario on kubearmor-dev[-next]).
    const hostName = Object.values(policy.nodeSelector)[0]!;
    expect(hostSelectorMatches(policy.nodeSelector, hostLabels(hostName, {}))).toBe(true);
    const render = renderAppArmorProfiles([policy], { name: hostName });
    const profiles = parseProfiles(render.artifacts);

    const key = scenario.test.replace(/^kubearmor-dev(-next)?_/, '');
    const expected = DECIDING_RULES[key]?.[name];
    expect(expected, `no table entry for ${scenario.test} ${name}`).toBeDefined();
    // The stated rule is really in the rendered profile…
    const artifact = render.artifacts.find((a) => a.name === expected!.profile);
    expect(artifact, expected!.profile).toBeDefined();
    expect(artifact!.content.split('\n').map((l) => l.replace(/ {2}# .*$/, '').trim())).toContain(expected!.line);
    // …and it is the one that decides the command.
    const outcome = run(profiles, cmd);
    expect(outcome.decision).toEqual(expected);
    // result: failed = denied; passed = allowed; default = left to the (audit) posture: the blanket rule.
    if (result === 'failed') expect(outcome.allowed).toBe(false);
    else expect(outcome.allowed).toBe(true);
    if (result === 'default') expect(outcome.decision.line).toBe('file,');
    if (action === 'Audit') expect(outcome.decision.line.startsWith('audit ')).toBe(true);
    if (action === 'Block' && result === 'failed') expect(outcome.decision.line.startsWith('audit deny ')).toBe(true);
  });
});
