import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKvmctl } from '../cli.js';
import type { CliIo } from '../io.js';

export interface KvmctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KvmctlRunOptions {
  stdin?: string;
  env?: Record<string, string | undefined>;
  /** Default: an empty directory of its own, so that no `./data/kvmctl.yaml` of the checkout is found. */
  cwd?: string;
  signal?: AbortSignal;
  stderrIsTTY?: boolean;
  /** Called with everything written so far to stdout, after every write (to wait for watch output). */
  onStdout?: (stdoutSoFar: string) => void;
}

let emptyDir: string | undefined;

/** Runs kvmctl in-process with captured output (for tests). */
export async function kvmctl(argv: string[], stdinOrOptions: string | KvmctlRunOptions = '', env: Record<string, string | undefined> = {}): Promise<KvmctlRun> {
  const options: KvmctlRunOptions = typeof stdinOrOptions === 'string' ? { stdin: stdinOrOptions, env } : stdinOrOptions;
  let stdout = '';
  let stderr = '';
  emptyDir ??= mkdtempSync(join(tmpdir(), 'kvmctl-cwd-'));
  const io: CliIo = {
    stdout: (s) => {
      stdout += s;
      options.onStdout?.(stdout);
    },
    stderr: (s) => (stderr += s),
    readStdin: async () => options.stdin ?? '',
    env: options.env ?? {},
    cwd: options.cwd ?? emptyDir,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.stderrIsTTY ? { stderrIsTTY: true } : {}),
  };
  const code = await runKvmctl(argv, io);
  return { code, stdout, stderr };
}
