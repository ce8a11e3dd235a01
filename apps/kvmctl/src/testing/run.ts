import { runKvmctl } from '../cli.js';

export interface KvmctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kvmctl in-process with captured output (for tests). */
export async function kvmctl(argv: string[], stdin = '', env: Record<string, string | undefined> = {}): Promise<KvmctlRun> {
  let stdout = '';
  let stderr = '';
  const code = await runKvmctl(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readStdin: async () => stdin,
    env,
  });
  return { code, stdout, stderr };
}
