/** Running an AppArmor tool: always with a timeout, never throwing, output captured. */
import { execFile } from 'node:child_process';

export interface ToolRun {
  /** Exit code; undefined when the tool could not be started or was killed. */
  code?: number;
  stdout: string;
  stderr: string;
  /** Why the run did not finish normally (not found, timed out, killed). */
  failure?: string;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

export function runTool(command: string, args: readonly string[], timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
        if (typeof e.code === 'number') return resolve({ code: e.code, stdout, stderr });
        if (e.killed || e.signal) return resolve({ stdout, stderr, failure: `${command} timed out after ${timeoutMs} ms (killed)` });
        resolve({ stdout, stderr, failure: `${command} could not be run: ${e.message}` });
      },
    );
  });
}

/** One-line-per-problem text of a failed run, for reports. */
export function runMessage(run: ToolRun): string {
  const text = [run.failure, run.stderr.trim(), run.code !== undefined && run.code !== 0 && run.stderr.trim() === '' ? `exit code ${run.code}` : undefined]
    .filter((s): s is string => !!s && s !== '')
    .join('\n');
  return text === '' ? 'ok' : text;
}
