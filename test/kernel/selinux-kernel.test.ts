/**
 * SELinux enforcement in a real kernel: the same Debian kernel booted with `lsm=…,selinux`,
 * Debian's refpolicy with the module libs/selinux rendered for each upstream host scenario (linked
 * on the host into a private copy of the store), loaded with `load_policy`, files relabelled with
 * `restorecon`, enforcing; each command from an unconfined login shell. AVC records from the
 * console are read by libs/auditlog and attributed by the control plane's AttributionService with
 * the renderer's typePolicies. See docs/kernel-tests.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SelinuxLoadResult } from './guest/plan.js';
import { alertPolicy } from './support/alerts.js';
import type { Outcome } from './support/apparmor-plan.js';
import type { ConsoleEvent } from './support/console-events.js';
import { ensureDebianKernel, type DebianKernel } from './support/debian-kernel.js';
import { buildSelinuxInitramfs, buildSelinuxPolicies, type BuiltPolicies } from './support/selinux-image.js';
import { LOGIN_CONTEXT, planSelinuxRun, type SelinuxCheck } from './support/selinux-plan.js';
import { printTable } from './support/table.js';
import { commandOutcome, consoleTail, dropImage, runResult, runVm, scratchDir, VM_TIMEOUT_MS, type VmRun } from './support/vm-run.js';

const APPEND = 'console=ttyS0 lsm=landlock,lockdown,yama,selinux panic=-1';

const plan = planSelinuxRun();

interface Observation {
  observed: Outcome | string;
  records: ConsoleEvent[];
  /** Other denials of the same process. */
  incidental: ConsoleEvent[];
  alertPolicy: string;
  problems: string[];
}

let kernel: DebianKernel;
let vm: VmRun;
let workDir: string;
let policies: BuiltPolicies;
const timings: Record<string, number> = {};
const observations = new Map<SelinuxCheck, Observation>();

/** Whether an AVC is the kernel's record of the check's own access. */
function recordMatches(check: SelinuxCheck, e: ConsoleEvent): boolean {
  const lsm = e.event.lsm;
  return (
    lsm?.scontextType === check.record.scontextType &&
    lsm.tcontextType === check.record.tcontextType &&
    lsm.tclass === check.record.tclass &&
    (lsm.permissions ?? []).some((p) => check.record.perms.includes(p))
  );
}

function observe(check: SelinuxCheck): Observation {
  const problems: string[] = [];
  const run = runResult(vm, check.runId);
  if (!run) return { observed: 'not run', records: [], incidental: [], alertPolicy: '', problems: [`no result for ${check.runId}`] };
  let observed: Outcome | string = commandOutcome(run);
  const all = run.pid !== undefined ? (vm.console.byPid.get(run.pid) ?? []) : [];
  const records = all.filter((e) => recordMatches(check, e));
  const denied = records.filter((e) => e.event.action === 'Block');
  const audited = records.filter((e) => e.event.action === 'Audit');
  if (observed === 'allowed' && audited.length > 0) observed = 'audited';
  const incidental = all.filter((e) => e.event.action === 'Block' && !records.includes(e));
  const evidence = observed === 'blocked' ? denied : observed === 'audited' ? audited : [];
  if ((observed === 'blocked' || observed === 'audited') && evidence.length === 0) {
    problems.push(`${observed}, but no AVC ${observed === 'blocked' ? 'denied' : 'granted'} of pid ${run.pid} for ${JSON.stringify(check.record)} on the console`);
  }
  const alert = evidence.length > 0 ? alertPolicy(evidence[0]!.event, check.attribution) : '';
  if (check.policy && observed === check.expected && alert !== check.policy) problems.push(`the alert names ${JSON.stringify(alert)}, expected ${check.policy}`);
  if (observed === 'allowed' && denied.length > 0) problems.push(`allowed, yet denied: ${denied.map((e) => e.line).join(' | ')}`);
  if (check.stdoutIncludes !== undefined && observed !== 'blocked' && !run.stdout.includes(check.stdoutIncludes)) problems.push(`stdout ${JSON.stringify(run.stdout.slice(0, 80))} lacks ${JSON.stringify(check.stdoutIncludes)}`);
  return { observed, records, incidental, alertPolicy: alert, problems };
}

describe('SELinux in a real kernel (Debian linux-image-amd64 under qemu TCG, Debian refpolicy)', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    kernel = ensureDebianKernel();
    workDir = scratchDir('selinux');
    policies = await buildSelinuxPolicies(plan, workDir);
    const t1 = Date.now();
    const initrd = await buildSelinuxInitramfs(workDir, plan, policies);
    timings.initramfsMs = Date.now() - t1;
    vm = await runVm(kernel, initrd, APPEND, workDir, 'kubearmor-dev');
    for (const c of plan.checks) observations.set(c, observe(c));
    timings.totalMs = Date.now() - t0;
  }, VM_TIMEOUT_MS + 600_000);

  afterAll(() => {
    if (!vm) return;
    const rows = plan.checks.map((c) => {
      const o = observations.get(c)!;
      return [c.name, c.expected, String(o.observed), c.decidingRule, o.alertPolicy || '-', o.observed === c.expected && o.problems.length === 0 ? 'ok' : 'FAIL'];
    });
    printTable(['scenario (SELinux)', 'expected', 'observed', 'deciding rule', 'policy named by the alert', 'verdict'], rows);
    const failing = plan.checks.filter((c) => {
      const o = observations.get(c)!;
      return o.observed !== c.expected || o.problems.length > 0;
    }).length;
    // Denials of the commands' processes that no check is about (counted once per record).
    const own = new Set([...observations.values()].flatMap((o) => o.records.map((r) => r.line)));
    const incidental = new Set([...observations.values()].flatMap((o) => o.incidental.map((r) => r.line)).filter((l) => !own.has(l))).size;
    process.stdout.write(
      `kernel-tier selinux: ${failing === 0 ? 'PASS' : 'FAIL'} ${plan.checks.length - failing}/${plan.checks.length} checks (${plan.scenarios.length} scenarios of host kubearmor-dev, ${plan.loads.length} policies); ` +
        `${incidental} other denials of the same processes; policies linked ${policies.linked} in ${(policies.ms / 1000).toFixed(1)}s (rest cached); boot to /init ${vm.bootToInitS}s, driver done at ${vm.endUptime}s (guest clock); ` +
        `VM wall ${(vm.boot.wallMs / 1000).toFixed(1)}s, initramfs ${(timings.initramfsMs! / 1000).toFixed(1)}s, total ${(timings.totalMs! / 1000).toFixed(1)}s; ` +
        `console ${vm.boot.console.length} lines, ${vm.console.auditLines.length} LSM records; logs in ${workDir}\n`,
    );
    if (failing === 0) dropImage(workDir);
  });

  it('boots the kernel with SELinux, enforcing, the driver in the login domain, and runs the whole plan', () => {
    expect(vm.boot.timedOut, `VM timed out after ${VM_TIMEOUT_MS} ms; console tail:\n${consoleTail(vm)}`).toBe(false);
    expect(kernel.config.get('CONFIG_SECURITY_SELINUX')).toBe('y');
    expect(vm.env, `no env result; console tail:\n${consoleTail(vm)}`).toBeDefined();
    expect(vm.env!.lsm.split(',')).toContain('selinux');
    expect(vm.env!.context).toBe(LOGIN_CONTEXT);
    const enforce = vm.results.get('000-enforce');
    expect(enforce?.kind === 'write' && enforce.ok, JSON.stringify(enforce)).toBe(true);
    expect(vm.endUptime, `the driver did not finish; console tail:\n${consoleTail(vm)}`).toBeGreaterThan(0);
    expect(plan.steps.filter((s) => !vm.results.has(s.id)).map((s) => s.id)).toEqual([]);
  });

  it('reads every AVC on the console into an event (libs/auditlog)', () => {
    expect(vm.console.auditLines.length).toBeGreaterThan(plan.checks.length / 2);
    expect(vm.console.auditLinesWithoutEvent).toEqual([]);
    expect(runResult(vm, plan.endMarkerRunId)?.auditSeen).toBe(true);
  });

  it.each(plan.loads.map((l) => ({ ...l, title: `${l.label}: load_policy and restorecon, enforcing` })))('$title', (l) => {
    const r = vm.results.get(l.id) as SelinuxLoadResult | undefined;
    expect(r?.kind).toBe('selinux-load');
    expect(r!.commands.filter((c) => c.status !== 0)).toEqual([]);
    expect(r!.enforce).toBe('1');
    for (const [path, type] of Object.entries(l.labels)) expect(r!.labels[path]?.split(':')[2], path).toBe(type);
  });

  it.each(plan.checks.map((c) => ({ c, title: `${c.name}: ${c.command} → ${c.expected}` })))('$title', ({ c }) => {
    const o = observations.get(c)!;
    expect({ observed: o.observed, problems: o.problems }).toEqual({ observed: c.expected, problems: [] });
  });
});
