/** Where a command reads and writes; the real process in `main.ts`, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The whole of standard input (read lazily: most commands never need it). */
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
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
