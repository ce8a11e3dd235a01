/**
 * One kernel-tier VM run: boot, collect the driver's results by step id, read the console into
 * events. Shared by the AppArmor and SELinux tests.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/conformance.js';
import type { EnvResult, GuestResult, RunResult } from '../guest/plan.js';
import { readConsole, type ConsoleEvents } from './console-events.js';
import type { DebianKernel } from './debian-kernel.js';
import { bootVm, type BootResult } from './qemu.js';

export const VM_TIMEOUT_MS = Number(process.env.KVMSERVICE_KERNEL_VM_TIMEOUT_MS ?? 420_000);

export interface VmRun {
  boot: BootResult;
  results: Map<string, GuestResult>;
  env?: EnvResult;
  /** Guest uptime when the driver finished (undefined: it did not). */
  endUptime?: number;
  console: ConsoleEvents;
  /** Guest clock when the kernel started /init. */
  bootToInitS: number;
}

/**
 * A fresh scratch directory under the git-ignored tmp/ (kept for inspection until the next run of
 * the same test; earlier ones are removed so images do not pile up).
 */
export function scratchDir(name: string): string {
  const base = join(repoRoot, 'tmp', 'kernel-tests');
  mkdirSync(base, { recursive: true });
  for (const old of readdirSync(base)) if (old.startsWith(`${name}-`)) rmSync(join(base, old), { recursive: true, force: true });
  return mkdtempSync(join(base, `${name}-`));
}

/** After a passing run: drop the image and its tree, keep the console, results and plan. */
export function dropImage(workDir: string): void {
  if (process.env.KVMSERVICE_KERNEL_KEEP) return;
  for (const entry of ['root', 'initrd.cpio']) rmSync(join(workDir, entry), { recursive: true, force: true });
}

export async function runVm(kernel: DebianKernel, initrd: string, append: string, workDir: string, hostName: string): Promise<VmRun> {
  const boot = await bootVm({
    kernel: kernel.vmlinuz,
    initrd,
    append,
    workDir,
    timeoutMs: VM_TIMEOUT_MS,
    onConsoleLine: process.env.KVMSERVICE_KERNEL_VERBOSE ? (l) => process.stderr.write(`vm| ${l}\n`) : undefined,
  });
  writeFileSync(join(workDir, 'console.log'), boot.console.join('\n'));
  const results = new Map<string, GuestResult>();
  let env: EnvResult | undefined;
  let endUptime: number | undefined;
  for (const line of boot.results) {
    try {
      const r = JSON.parse(line) as GuestResult;
      if (r.kind === 'env') env = r;
      else if (r.kind === 'end') endUptime = r.uptime;
      else results.set(r.id, r);
    } catch {
      // a torn last line after a timeout: the missing results fail their checks
    }
  }
  const init = boot.console.find((l) => l.includes('Run /init as init process'));
  return { boot, results, env, endUptime, console: readConsole(boot.console, hostName), bootToInitS: init ? Number(/\[\s*([\d.]+)\]/.exec(init)?.[1]) : NaN };
}

export function runResult(run: VmRun, id: string): RunResult | undefined {
  const r = run.results.get(id);
  return r?.kind === 'run' ? r : undefined;
}

/** What a command showed: exit 0 = allowed; "Permission denied" = blocked; anything else is an error. */
export function commandOutcome(r: RunResult): string {
  if (r.status === 0) return 'allowed';
  if (r.stderr.includes('Permission denied')) return 'blocked';
  return `error (exit ${r.status}: ${r.stderr.trim().slice(0, 120)})`;
}

export function consoleTail(run: VmRun, n = 30): string {
  return run.boot.console.slice(-n).join('\n');
}
