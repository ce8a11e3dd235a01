/**
 * The SELinux kernel run, planned on the host: for each upstream host scenario of host
 * kubearmor-dev (the kubearmor-dev-next ones are the same policies for another host name), the
 * module libs/selinux renders, linked on the host into Debian's refpolicy in a private copy of the
 * store, loaded in the VM with `load_policy` and its files relabelled with `restorecon`; then each
 * command from an unconfined login shell (`unconfined_t`), checked against upstream's result and
 * the AVC record the kernel logs. Scenarios whose results are left to the posture run again under
 * file posture `block`.
 */
import { readFileSync } from 'node:fs';
import { lookupFileContext, lookupOrder, parseFileContexts, renderSelinuxModule, type FileContextSpec } from '@kvmservice/selinux';
import type { GuestStep } from '../guest/plan.js';
import type { Outcome } from './apparmor-plan.js';
import { hostScenarios, type HostScenario } from '../../support/host-scenarios.js';

export type RenderedModule = ReturnType<typeof renderSelinuxModule>;

export type PlannedSelinuxStep = GuestStep | { kind: 'build-and-load'; id: string; rendered: RenderedModule; relabel: string[] };

export interface SelinuxCheck {
  section: 'scenario' | 'posture';
  name: string;
  command: string;
  expected: Outcome;
  /** The access and the rule (or its absence) that decides it, in policy terms. */
  decidingRule: string;
  policy?: string;
  runId: string;
  /** Type → policies (the renderer's typePolicies) of the module loaded when the command ran. */
  attribution: Record<string, string[]>;
  /** The AVC of the command's own access. */
  record: { scontextType: string; tcontextType: string; tclass: 'file'; perms: string[] };
  stdoutIncludes?: string;
}

export interface SelinuxLoadExpectation {
  id: string;
  label: string;
  /** Path → the type `restorecon` must have given it. */
  labels: Record<string, string>;
}

export interface SelinuxPlan {
  steps: PlannedSelinuxStep[];
  checks: SelinuxCheck[];
  loads: SelinuxLoadExpectation[];
  scenarios: HostScenario[];
  endMarkerRunId: string;
}

/** The shell's domain: an unconfined login. */
export const LOGIN_CONTEXT = 'unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023';
const LOGIN_TYPE = 'unconfined_t';
const BASE_FILE_CONTEXTS = '/etc/selinux/default/contexts/files/file_contexts';

/** Upstream's files with their first line (what a read prints). */
const FIRST_LINES: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash',
  '/etc/hostname': 'kubearmor-dev',
  '/etc/hosts': '127.0.0.1\tlocalhost',
  '/etc/default/useradd': '# Default values for useradd(8)',
};

export function planSelinuxRun(): SelinuxPlan {
  const base = parseFileContexts(readFileSync(BASE_FILE_CONTEXTS, 'utf8'), 'file_contexts').specs;
  const steps: PlannedSelinuxStep[] = [];
  const checks: SelinuxCheck[] = [];
  const loads: SelinuxLoadExpectation[] = [];
  const scenarios = hostScenarios().filter((s) => s.hostName === 'kubearmor-dev');
  let seq = 0;
  const id = (what: string): string => `${String(++seq).padStart(3, '0')}-${what}`;
  let previousRelabel: string[] = [];

  const pass = (s: HostScenario, posture: 'audit' | 'block'): void => {
    const rendered = renderSelinuxModule([s.policy], { name: s.hostName }, { posture: { file: posture } });
    if (rendered.problems.length > 0) throw new Error(`${s.policyFile}: SELinux problems ${JSON.stringify(rendered.problems)}`);
    const specs: FileContextSpec[] = lookupOrder(
      base,
      rendered.fileContexts.map((f, i) => ({ regex: f.pathRegex, context: f.context, origin: `module:${i}` })),
    );
    const typeOf = (path: string): string => {
      const t = lookupFileContext(path, specs)?.context.split(':')[2];
      if (!t) throw new Error(`${path} has no file context`);
      return t;
    };
    const relabel = [...new Set([...previousRelabel, ...rendered.relabelPaths])].sort();
    previousRelabel = rendered.relabelPaths;
    const loadId = id(`load-${s.test}-${posture}`);
    steps.push({ kind: 'build-and-load', id: loadId, rendered, relabel });
    loads.push({ id: loadId, label: `${s.test} (file posture ${posture})`, labels: Object.fromEntries(rendered.relabelPaths.map((p) => [p, typeOf(p)])) });

    // Debian's merged /usr: /bin/bash is /usr/bin/bash (the renderer applies the same alias).
    const source = s.policy.rules.flatMap((r): unknown[] => ('fromSource' in r ? r.fromSource : [])).find((p): p is string => typeof p === 'string');
    const subject = source ? typeOf(source.replace(/^\/bin\//, '/usr/bin/')).replace(/_exec_t$/, '_t') : LOGIN_TYPE;
    for (const c of s.commands) {
      const words = c.cmd.split(/\s+/);
      const program = words[0] === 'bash' && words[1] === '-c' ? words[2]! : words[0]!;
      const file = words.slice(1).find((w) => w.startsWith('/'));
      const object = c.operation === 'Process' ? `/usr/bin/${program}` : file!;
      const objectType = typeOf(object);
      const perm = c.operation === 'Process' ? 'execute' : 'read';
      const byPosture = c.result === 'default';
      const expected: Outcome =
        c.result === 'failed' || (byPosture && posture === 'block') ? 'blocked' : c.action === 'Audit' || (byPosture && posture === 'audit') ? 'audited' : 'allowed';
      const access = `${subject} ${objectType}:file ${perm}`;
      const decidingRule =
        expected === 'blocked'
          ? `no allow ${access} (${byPosture ? 'posture file=block' : `${c.action} rule`})`
          : expected === 'audited'
            ? `auditallow ${access} (${byPosture ? 'posture file=audit' : 'Audit rule'})`
            : c.action === 'Allow' && c.result === 'passed'
              ? `allow ${access} (Allow rule)`
              : `allow ${access} (not named by the policy)`;
      const runId = id(`run-${s.test}-${c.name}-${posture}`);
      steps.push({ kind: 'run', id: runId, argv: ['/usr/bin/bash', '-c', c.cmd] });
      checks.push({
        section: byPosture && posture === 'block' ? 'posture' : 'scenario',
        name: `${s.test} ${c.name}${posture === 'block' ? ' [file=block]' : ''}`,
        command: c.cmd,
        expected,
        decidingRule,
        ...(expected === 'allowed' ? {} : { policy: s.policy.name }),
        runId,
        attribution: rendered.typePolicies,
        record: { scontextType: subject, tcontextType: objectType, tclass: 'file', perms: [perm === 'execute' ? 'execute' : 'read', ...(perm === 'read' ? ['open'] : [])] },
        ...(expected !== 'blocked' && file && FIRST_LINES[file] ? { stdoutIncludes: FIRST_LINES[file] } : {}),
      });
    }
  };
  for (const s of scenarios) pass(s, 'audit');
  for (const s of scenarios.filter((x) => x.commands.some((c) => c.result === 'default'))) pass(s, 'block');
  const last = checks.findLast((c) => c.expected === 'blocked');
  if (!last) throw new Error('no blocked SELinux check to mark the end of the console log');
  const endMarkerRunId = id('end-marker');
  const lastStep = steps.find((st) => st.id === last.runId);
  if (lastStep?.kind !== 'run') throw new Error('end marker: no run step');
  steps.push({ ...lastStep, id: endMarkerRunId, awaitAudit: true });
  return { steps, checks, loads, scenarios, endMarkerRunId };
}
