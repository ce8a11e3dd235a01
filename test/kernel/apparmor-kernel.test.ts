/**
 * AppArmor enforcement in a real kernel: Debian's `linux-image-amd64` kernel under qemu (TCG), an
 * initramfs built from this Debian machine, the profiles our renderer produced for the upstream
 * host scenarios (compiled by the agent's loader, and loaded through it for R7), each scenario
 * command run from the login shell, the console's audit records read by libs/auditlog and
 * attributed by the control plane's AttributionService. See docs/kernel-tests.md.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipprotoName } from '@kvmservice/auditlog';
import { PINNED_FEATURES_FILE } from '@kvmservice/apparmor';
import type { ApplyResult, ReplayResult } from './guest/plan.js';
import { alertPolicy } from './support/alerts.js';
import { buildAppArmorInitramfs } from './support/apparmor-image.js';
import { planAppArmorRun, PROBES, type Check, type Outcome } from './support/apparmor-plan.js';
import type { ConsoleEvent } from './support/console-events.js';
import { ensureDebianKernel, type DebianKernel } from './support/debian-kernel.js';
import { featureLeaves, missingLeaves } from './support/feature-abi.js';
import { printTable } from './support/table.js';
import { commandOutcome, consoleTail, dropImage, runResult, runVm, scratchDir, VM_TIMEOUT_MS, type VmRun } from './support/vm-run.js';

const APPEND = 'console=ttyS0 lsm=landlock,lockdown,yama,apparmor apparmor=1 panic=-1';

const plan = planAppArmorRun();

interface Observation {
  observed: Outcome | string;
  /** The kernel's records of the command's own access. */
  records: ConsoleEvent[];
  /** Other denials of the same process (e.g. a shell under an allow-list opening /dev/tty). */
  incidental: ConsoleEvent[];
  alertPolicy: string;
  problems: string[];
}

let kernel: DebianKernel;
let vm: VmRun;
let workDir: string;
const timings: Record<string, number> = {};
const observations = new Map<Check, Observation>();

/** Whether a console event is the kernel's record of the check's own access. */
function recordMatches(check: Check, e: ConsoleEvent): boolean {
  const lsm = e.event.lsm;
  if (!check.record || lsm?.aaOperation !== check.record.operation) return false;
  if (check.record.profile !== undefined && lsm.profile !== check.record.profile) return false;
  if (check.record.name !== undefined && e.event.resource !== check.record.name) return false;
  if (check.probe) {
    const probe = PROBES[check.probe]!;
    if (check.record.operation === 'capable') return e.event.capability === 'net_raw';
    const net = e.event.network;
    return net?.family === probe.family && net.sockType === probe.type && net.protocol === ipprotoName(probe.protocol);
  }
  return true;
}

/** The profile a run printed from /proc/…/attr/current (`name (mode)`). */
function attachedProfile(runId: string): string {
  const run = runResult(vm, runId);
  return run?.status === 0 ? run.stdout.trim().replace(/ \([a-z]+\)$/, '') : `error (exit ${run?.status}: ${run?.stderr.trim().slice(0, 80)})`;
}

/** Errno values a probe reports when the LSM refused the call (EACCES, EPERM). */
const LSM_ERRNOS = new Set(['13', '1']);

function observe(check: Check): Observation {
  const problems: string[] = [];
  const run = runResult(vm, check.runId);
  if (!run) return { observed: 'not run', records: [], incidental: [], alertPolicy: '', problems: [`no result for ${check.runId}`] };
  let observed: Outcome | string;
  if (check.probe) {
    const line = (run.output ?? '').split('\n').find((l) => l.startsWith(`PROBE ${check.probe} `));
    const errno = line?.split(' ')[3];
    observed = !line ? `no probe output (exit ${run.status}: ${run.stderr.trim().slice(0, 120)})` : LSM_ERRNOS.has(errno!) ? 'blocked' : 'allowed';
  } else observed = commandOutcome(run);

  const all = run.pid !== undefined ? (vm.console.byPid.get(run.pid) ?? []) : [];
  const records = all.filter((e) => recordMatches(check, e));
  const denied = records.filter((e) => e.event.action === 'Block');
  const audited = records.filter((e) => e.event.action === 'Audit');
  if (observed === 'allowed' && audited.length > 0) observed = 'audited';
  const incidental = all.filter((e) => e.event.action === 'Block' && !records.includes(e));

  // A block or an audit is the kernel's: its record must be on the console, and the alert made
  // from it (AuditStream event → wire event → AttributionService) must name the policy.
  const evidence = observed === 'blocked' ? denied : observed === 'audited' ? audited : [];
  if ((observed === 'blocked' || observed === 'audited') && evidence.length === 0) {
    problems.push(`${observed}, but no ${observed === 'blocked' ? 'DENIED' : 'AUDIT'} record of pid ${run.pid} for ${JSON.stringify(check.record)} on the console`);
  }
  const alert = evidence.length > 0 ? alertPolicy(evidence[0]!.event, check.attribution) : '';
  if (check.policy && observed === check.expected && alert !== check.policy) problems.push(`the alert names ${JSON.stringify(alert)}, expected ${check.policy}`);
  if (observed === 'allowed' && denied.length > 0) problems.push(`allowed, yet denied: ${denied.map((e) => e.line).join(' | ')}`);
  if (check.stdoutIncludes !== undefined && observed !== 'blocked' && !run.stdout.includes(check.stdoutIncludes)) problems.push(`stdout ${JSON.stringify(run.stdout.slice(0, 80))} lacks ${JSON.stringify(check.stdoutIncludes)}`);
  return { observed, records, incidental, alertPolicy: alert, problems };
}

describe('AppArmor in a real kernel (Debian linux-image-amd64 under qemu TCG)', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    kernel = ensureDebianKernel();
    timings.kernelFetchMs = kernel.fetchMs;
    workDir = scratchDir('apparmor');
    const t1 = Date.now();
    const initrd = await buildAppArmorInitramfs(workDir, plan);
    timings.initramfsMs = Date.now() - t1;
    vm = await runVm(kernel, initrd, APPEND, workDir, 'kubearmor-dev');
    for (const c of plan.checks) observations.set(c, observe(c));
    timings.totalMs = Date.now() - t0;
  }, VM_TIMEOUT_MS + 180_000);

  afterAll(() => {
    if (!vm) return;
    const rows = plan.checks.map((c) => {
      const o = observations.get(c)!;
      const verdict = o.observed === c.documented && o.problems.length === 0 ? (c.documented === c.expected ? 'ok' : 'NOT ENFORCED (documented)') : 'FAIL';
      return [c.name, c.expected, String(o.observed), c.decidingRule, o.alertPolicy || '-', verdict];
    });
    printTable(['scenario', 'expected', 'observed', 'deciding rule', 'policy named by the alert', 'verdict'], rows);
    printTable(
      ['program', 'profile meant', 'profile observed', 'verdict'],
      plan.attachments.map((a) => {
        const seen = attachedProfile(a.runId);
        return [a.name, a.expected, seen, seen === a.documented ? (a.documented === a.expected ? 'ok' : `DIFFERS (documented: ${a.why})`) : 'FAIL'];
      }),
    );
    // Denials of the commands' processes that no check is about (counted once per record).
    const own = new Set([...observations.values()].flatMap((o) => o.records.map((r) => r.line)));
    const incidental = new Set([...observations.values()].flatMap((o) => o.incidental.map((r) => r.line)).filter((l) => !own.has(l))).size;
    const count = (section: Check['section']) => {
      const mine = plan.checks.filter((c) => c.section === section);
      const ok = mine.filter((c) => {
        const o = observations.get(c)!;
        return o.observed === c.documented && o.problems.length === 0;
      });
      const enforced = mine.filter((c) => observations.get(c)!.observed === c.expected);
      return `${section} ${ok.length}/${mine.length}${section === 'network' || section === 'capability' ? ` (enforced as asked ${enforced.length}/${mine.length})` : ''}`;
    };
    const attached = plan.attachments.filter((a) => attachedProfile(a.runId) === a.documented).length;
    const failing =
      plan.checks.filter((c) => {
        const o = observations.get(c)!;
        return o.observed !== c.documented || o.problems.length > 0;
      }).length +
      plan.attachments.length -
      attached;
    process.stdout.write(
      `kernel-tier apparmor: ${failing === 0 ? 'PASS' : 'FAIL'} ${plan.checks.length + plan.attachments.length - failing}/${plan.checks.length + plan.attachments.length} checks — ${(['scenario', 'posture', 'r7', 'network', 'capability'] as const).map(count).join(', ')}, attachment ${attached}/${plan.attachments.length}; ` +
        `${incidental} other denials of the same processes; kernel ${kernel.packageName} ${kernel.version}; boot to /init ${vm.bootToInitS}s, driver done at ${vm.endUptime}s (guest clock); ` +
        `VM wall ${(vm.boot.wallMs / 1000).toFixed(1)}s, initramfs ${(timings.initramfsMs! / 1000).toFixed(1)}s, kernel fetch ${(timings.kernelFetchMs! / 1000).toFixed(1)}s, total ${(timings.totalMs! / 1000).toFixed(1)}s; ` +
        `console ${vm.boot.console.length} lines, ${vm.console.auditLines.length} LSM records; logs in ${workDir}\n`,
    );
    if (failing === 0) dropImage(workDir);
  });

  it('boots the kernel with AppArmor enabled and runs the whole plan', () => {
    expect(vm.boot.timedOut, `VM timed out after ${VM_TIMEOUT_MS} ms; console tail:\n${consoleTail(vm)}`).toBe(false);
    expect(kernel.config.get('CONFIG_SECURITY_APPARMOR')).toBe('y');
    expect(vm.env, `no env result; console tail:\n${consoleTail(vm)}`).toBeDefined();
    expect(vm.env!.lsm.split(',')).toContain('apparmor');
    expect(vm.env!.apparmorEnabled).toBe('Y');
    expect(vm.endUptime, `the driver did not finish; console tail:\n${consoleTail(vm)}`).toBeGreaterThan(0);
    expect(plan.steps.filter((s) => !vm.results.has(s.id)).map((s) => s.id)).toEqual([]);
  });

  it('the running kernel offers every feature of the ABI the agent compiles against (Debian 12 pinned, parser.conf)', () => {
    const pinned = featureLeaves(readFileSync(PINNED_FEATURES_FILE, 'utf8'));
    const running = featureLeaves(vm.env!.features);
    expect(pinned.size).toBeGreaterThan(100);
    expect(missingLeaves(pinned, running)).toEqual([]);
    process.stdout.write(`kernel-tier apparmor: features the running kernel has beyond the pinned ABI: ${missingLeaves(running, pinned).join(' ')}\n`);
  });

  it('reads every kernel audit record on the console into an event (libs/auditlog)', () => {
    expect(vm.console.auditLines.length).toBeGreaterThan(plan.checks.length / 2);
    expect(vm.console.auditLinesWithoutEvent).toEqual([]);
    // the last command's record is there: the console log is complete up to the end of the plan
    expect(runResult(vm, plan.endMarkerRunId)?.auditSeen).toBe(true);
  });

  it.each(plan.applies.map((a) => ({ ...a, title: `${a.label}: ${a.ok ? 'applied' : 'refused, previous set kept'}` })))('$title', (a) => {
    const r = vm.results.get(a.id);
    expect(r?.kind === 'apply' || r?.kind === 'replay', `${a.id}: no result`).toBe(true);
    const applied = r as ApplyResult | ReplayResult;
    const ours = applied.loaded.filter((p) => p.startsWith('kubearmor') || p.startsWith('kvmkernel_'));
    expect(ours).toEqual(a.loaded);
    if (applied.kind === 'replay') {
      // every parser command the loader would run succeeded
      expect(applied.commands.filter((c) => c.status !== 0)).toEqual([]);
      expect(Object.keys(applied.files).sort()).toEqual(a.loaded);
      return;
    }
    expect(applied.error).toBeUndefined();
    expect(applied.report?.ok, JSON.stringify(applied.report?.results)).toBe(a.ok);
    expect(applied.report!.mode).toBe('kernel');
    if (a.filesUnchanged) expect(applied.files).toEqual(a.filesUnchanged);
    if (a.messageIncludes) expect(applied.report!.results.map((x) => x.message).join('\n')).toContain(a.messageIncludes);
    if (a.removed) expect(applied.report!.removed.filter((x) => x.status === 'removed').map((x) => x.fileName).sort()).toEqual(a.removed);
  });

  it.each(plan.attachments.map((a) => ({ a, title: `${a.name} runs under ${a.documented}` })))('$title', ({ a }) => {
    expect(attachedProfile(a.runId)).toBe(a.documented);
  });

  it.each(plan.checks.map((c) => ({ c, title: `${c.name}: ${c.command} → ${c.documented}` })))('$title', ({ c }) => {
    const o = observations.get(c)!;
    expect({ observed: o.observed, problems: o.problems }).toEqual({ observed: c.documented, problems: [] });
  });
});
