import { Command, CommanderError } from 'commander';
import { registerApply } from './commands/apply.js';
import { registerCompletion } from './commands/completion.js';
import { registerConfig } from './commands/config.js';
import { registerDelete } from './commands/delete.js';
import { registerDescribe } from './commands/describe.js';
import { registerDiscover } from './commands/discover.js';
import { registerGet } from './commands/get.js';
import { registerLabel } from './commands/label.js';
import { registerLogs } from './commands/logs.js';
import { registerParseLog } from './commands/parse-log.js';
import { registerRender } from './commands/render.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerToken } from './commands/token.js';
import { registerValidate } from './commands/validate.js';
import { registerVm } from './commands/vm.js';
import { complete } from './completion/complete.js';
import { CliError, type CliIo } from './io.js';

export const KVMCTL_VERSION = '0.1.0';

const ROOT_HELP = `
Examples:
  kvmctl vm add web-1 --labels env=prod        # a host and its join token
  kvmctl apply -f policies/                     # host policies, all or nothing
  kvmctl get kvm                                # hosts: connection and policy state
  kvmctl describe kvm web-1                     # per-policy result, recent alerts
  kvmctl label kvm web-1 tier=web               # move a host into policies
  kvmctl logs -f --type alert                   # alerts as they happen
  kvmctl snapshot save /backup/kvm.snap         # online backup of the store
  kvmctl render -f policy.yaml --lsm selinux    # offline: the LSM policy a host would get
  kvmctl discover --host web-1                  # policies from what web-1 did (--apply: in force)

Configuration (kubeconfig-like contexts), first found: --config FILE, $KVMCTL_CONFIG,
~/.kvmctl/config, ./data/kvmctl.yaml (written by kvmservice on first start).
Exit codes: 0 ok, 1 error, 2 usage. Run kvmctl COMMAND --help for a command's flags and examples.`;

/** Builds the command tree. Every command writes through `io` so tests can run it in-process. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('kvmctl')
    .description('kubectl-like CLI for KVMService: hosts, host policies, Cilium host policies, tokens, logs')
    .version(KVMCTL_VERSION)
    .option('--config <file>', 'kvmctl config file (default: $KVMCTL_CONFIG, ~/.kvmctl/config, ./data/kvmctl.yaml)')
    .option('--context <name>', 'the context of the config file to use')
    .option('--server <host:port>', 'kvmservice gRPC address (overrides the context)')
    .option('--token <token>', 'admin token (overrides the context)')
    .option('--certificate-authority <file>', 'CA certificate of the server (overrides the context)')
    .option('--insecure', 'plain-text gRPC (development servers started with --insecure)')
    .option('--tls-server-name <name>', 'name to check the server certificate against')
    .option('--request-timeout <duration>', 'give up on a call after this long (default 30s)')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride()
    .addHelpText('after', ROOT_HELP);
  registerGet(program, io);
  registerDescribe(program, io);
  registerApply(program, io);
  registerDelete(program, io);
  registerLabel(program, io);
  registerVm(program, io);
  registerToken(program, io);
  registerLogs(program, io);
  registerSnapshot(program, io);
  registerConfig(program, io);
  registerValidate(program, io);
  registerRender(program, io);
  registerParseLog(program, io);
  registerDiscover(program, io);
  registerCompletion(program, io);
  const configure = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError('(run with --help for usage)');
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/** Runs kvmctl with `argv` (without node and script) and returns the exit code. Never throws. */
export async function runKvmctl(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    if (argv[0] === '__complete') {
      const candidates = await complete(program, argv.slice(1), io);
      io.stdout(candidates.map((c) => `${c}\n`).join(''));
      return 0;
    }
    if (argv.length === 0) {
      io.stdout(program.helpInformation() + ROOT_HELP.replace(/^\n/, '\n') + '\n');
      return 0;
    }
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
