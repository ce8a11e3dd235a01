/**
 * Upstream's k8s host scenarios (`test-k8s-host-scenario__<test>__…` in ../shared/conformance/
 * kubearmor): the policy, and per command its source host, command line, expected result and
 * operation/condition/action; plus, per command, the rendered rule that decides it.
 *
 * DECIDING_RULES is checked on the host by test/conformance/apparmor-scenarios.test.ts (an evaluator
 * of the rendered profiles) and against the kernel by test/kernel.
 */
import { readdirSync } from 'node:fs';
import { checkDocuments, normalizeHostPolicy, parseDocuments, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { conformanceDir, readConformanceFile } from './conformance.js';

export interface Decision {
  profile: string;
  line: string;
}

/** Per scenario test, per command: the rendered rule that decides it (without its comment). */
export const DECIDING_RULES: Record<string, Record<string, Decision>> = {
  test_01: { cmd1: { profile: 'kubearmor.host', line: 'audit deny "/usr/bin/diff" x,' } },
  test_02: {
    cmd1: { profile: 'kubearmor.host', line: 'audit "/etc/passwd" klmrw,' },
    cmd2: { profile: 'kubearmor.host', line: 'audit "/etc/passwd" klmrw,' },
  },
  test_03: { cmd1: { profile: 'kubearmor.host', line: 'audit deny "/etc/hostname" klmrw,' } },
  test_04: {
    cmd1: { profile: 'kubearmor_usrbinbash', line: 'audit deny "/usr/bin/date" x,' },
    cmd2: { profile: 'kubearmor_usrbinbash', line: 'file,' },
  },
  test_05: {
    cmd1: { profile: 'kubearmor_usrbinbash', line: '"/usr/bin/date" px -> kubearmor.host,' },
    cmd2: { profile: 'kubearmor_usrbinbash', line: 'file,' },
  },
  test_06: {
    cmd1: { profile: 'kubearmor_usrbinhead', line: 'audit deny "/etc/hostname" klmrw,' },
    cmd2: { profile: 'kubearmor_usrbinhead', line: 'file,' },
  },
  test_07: {
    cmd1: { profile: 'kubearmor_usrbinhead', line: '"/etc/hostname" klmrw,' },
    cmd2: { profile: 'kubearmor_usrbinhead', line: 'file,' },
  },
  test_08: {
    cmd1: { profile: 'kubearmor_usrbinhead', line: '"/etc/default/{,**}" klmrw,' },
    cmd2: { profile: 'kubearmor_usrbinhead', line: 'file,' },
  },
  test_09: {
    cmd1: { profile: 'kubearmor_usrbinhead', line: 'audit deny "/etc/default/{,*}" klmrw,' },
    cmd2: { profile: 'kubearmor_usrbinhead', line: 'file,' },
  },
};

export interface ScenarioCommand {
  /** `cmd1`, `cmd2`, … */
  name: string;
  /** The host upstream runs the command on (`kubearmor-dev`). */
  source: string;
  cmd: string;
  /** `failed` (denied), `passed` (allowed), `default` (left to the posture). */
  result: 'failed' | 'passed' | 'default';
  operation: string;
  condition: string;
  action: string;
}

export interface HostScenario {
  /** e.g. `kubearmor-dev-next_test_04` */
  test: string;
  /** e.g. `test_04`, the DECIDING_RULES key */
  key: string;
  policyFile: string;
  policy: NormalizedHostPolicy;
  /** The host the policy selects (its `kubernetes.io/hostname`). */
  hostName: string;
  commands: ScenarioCommand[];
}

/** Every upstream host scenario, sorted by test name. Throws naming the file on a bad vector. */
export function hostScenarios(): HostScenario[] {
  const dir = conformanceDir('kubearmor');
  const byTest = new Map<string, { policyFile: string; commands: ScenarioCommand[] }>();
  for (const file of readdirSync(dir).filter((f) => f.startsWith('test-k8s-host-scenario__')).sort()) {
    const [, test, leaf] = file.split('__') as [string, string, string];
    const entry = byTest.get(test) ?? { policyFile: '', commands: [] };
    byTest.set(test, entry);
    if (leaf.startsWith('hsp-')) {
      entry.policyFile = file;
      continue;
    }
    const docs = parseDocuments(readConformanceFile(dir, file), file).map((d) => d.object as Record<string, unknown>);
    const [first, second] = docs;
    const result = String(first?.result ?? '').trim();
    if (!first || !second || !['failed', 'passed', 'default'].includes(result)) throw new Error(`${file}: expected source/cmd/result then operation/condition/action`);
    entry.commands.push({
      name: leaf.replace(/\.expect\.yaml$/, ''),
      source: String(first.source),
      cmd: String(first.cmd),
      result: result as ScenarioCommand['result'],
      operation: String(second.operation),
      condition: String(second.condition),
      action: String(second.action),
    });
  }
  return [...byTest.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([test, { policyFile, commands }]) => {
      if (policyFile === '') throw new Error(`scenario ${test} has no hsp-*.yaml`);
      const checked = checkDocuments(readConformanceFile(dir, policyFile), policyFile);
      const first = checked[0];
      if (checked.length !== 1 || !first?.result.valid) throw new Error(`${policyFile}: not one valid KubeArmorHostPolicy`);
      const policy = normalizeHostPolicy((first.result as { resource: unknown }).resource as KubeArmorHostPolicy);
      const hostName = Object.values(policy.nodeSelector)[0];
      if (!hostName) throw new Error(`${policyFile}: no nodeSelector label naming the host`);
      return { test, key: test.replace(/^kubearmor-dev(-next)?_/, ''), policyFile, policy, hostName, commands: commands.sort((a, b) => (a.name < b.name ? -1 : 1)) };
    });
}
