import { Command, CommanderError } from 'commander';
import { registerValidate } from './commands/validate.js';
import { CliError, type CliIo } from './io.js';

export const KVMCTL_VERSION = '0.1.0';

/** Builds the command tree. Every command writes through `io` so tests can run it in-process. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('kvmctl')
    .description('kubectl-like CLI for KVMService: hosts, host policies, Cilium host policies, discovery, logs')
    .version(KVMCTL_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride();
  registerValidate(program, io);
  for (const command of program.commands) command.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs kvmctl with `argv` (without node and script) and returns the exit code. Never throws. */
export async function runKvmctl(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are exits with code 0; parse errors were already printed by commander.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CliError) {
      // An empty message means the command has already printed its own problem lines.
      if (e.message !== '') io.stderr(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`error: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}
