/**
 * Boots a kernel + initramfs under `qemu-system-x86_64 -accel tcg` (this machine's /dev/kvm is a
 * nested PVM device a stock kernel cannot boot on), with no network device. The first serial port
 * is the kernel console (printk, where audit records go without auditd); the second carries the
 * guest driver's results, so kernel lines and results never interleave. The VM is always killed:
 * on timeout, when the test process exits, and after a normal power-off if it lingers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from '../../support/tools.js';

export interface BootOptions {
  readonly kernel: string;
  readonly initrd: string;
  /** Kernel command line. */
  readonly append: string;
  /** Where the results port is written. */
  readonly workDir: string;
  readonly memoryMb?: number;
  /** Hard limit for the whole run; the VM is SIGKILLed after it. */
  readonly timeoutMs: number;
  /** Called with every console line as it arrives (progress output). */
  readonly onConsoleLine?: (line: string) => void;
}

export interface BootResult {
  /** Console (ttyS0) lines, carriage returns removed. */
  readonly console: string[];
  /** Results port (ttyS1) lines. */
  readonly results: string[];
  readonly wallMs: number;
  readonly timedOut: boolean;
  readonly exitCode: number | null;
  readonly stderr: string;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
});

export function bootVm(options: BootOptions): Promise<BootResult> {
  const qemu = requireTool('qemu-system-x86_64', 'qemu-system-x86');
  const resultsFile = join(options.workDir, 'results.ttyS1');
  const args = [
    '-accel', 'tcg',
    '-cpu', 'max',
    '-smp', '1',
    '-m', String(options.memoryMb ?? 1024),
    '-display', 'none',
    '-monitor', 'none',
    '-no-reboot',
    '-nic', 'none',
    '-serial', 'stdio',
    '-serial', `file:${resultsFile}`,
    '-kernel', options.kernel,
    '-initrd', options.initrd,
    '-append', options.append,
  ];
  const started = Date.now();
  const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const consoleLines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const raw of parts) {
      const line = raw.replace(/\r/g, '');
      consoleLines.push(line);
      options.onConsoleLine?.(line);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (stderr.length < 65536) stderr += chunk;
  });
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      if (partial !== '') consoleLines.push(partial.replace(/\r/g, ''));
      const results = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8').replace(/\r/g, '').split('\n').filter((l) => l !== '') : [];
      resolve({ console: consoleLines, results, wallMs: Date.now() - started, timedOut, exitCode: code, stderr });
    });
  });
}
