/** Where a command reads and writes; the real process in `main.ts`, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The whole of standard input (read lazily: most commands never need it). */
  readStdin: () => Promise<string>;
  /**
   * Standard input line by line, read as the lines are consumed, for inputs too large to hold
   * (`parse-log`). `beforeRead` runs before each read that may block (to flush output).
   * Absent in tests, which give stdin as one string.
   */
  stdinLines?: (beforeRead?: () => void) => Iterable<string>;
  /** Resolves when stdout has room again (pipe backpressure); absent = always room. */
  drain?: () => Promise<void>;
  env: Record<string, string | undefined>;
  /** Relative paths (`-f`, `--out`, `./data/kvmctl.yaml`) are resolved against this directory. */
  cwd: string;
  /** Aborted on SIGINT/SIGTERM: streaming commands (`get --watch`, `logs -f`) end cleanly with exit 0. */
  signal?: AbortSignal;
  /** Progress lines are drawn only on a terminal. */
  stderrIsTTY?: boolean;
}

/** A failure reported as one line on stderr, with kubectl's exit codes: 1 error, 2 usage. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** A usage error (exit code 2): wrong arguments or flags. */
export function usageError(message: string): CliError {
  return new CliError(message, 2);
}
