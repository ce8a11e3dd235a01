import type { Command } from 'commander';
import { BASH_COMPLETION, ZSH_COMPLETION } from '../completion/scripts.js';
import { usageError, type CliIo } from '../io.js';

/** `kvmctl completion bash|zsh`. */
export function registerCompletion(program: Command, io: CliIo): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh)')
    .argument('<SHELL>', 'bash or zsh')
    .addHelpText(
      'after',
      `
Examples:
  # this shell
  source <(kvmctl completion bash)
  source <(kvmctl completion zsh)
  # every new shell
  kvmctl completion bash > /etc/bash_completion.d/kvmctl
  kvmctl completion zsh > "\${fpath[1]}/_kvmctl"

Completes commands, flags, types, object and host names (from the server), token ids and contexts.`,
    )
    .action((shell: string) => {
      if (shell === 'bash') io.stdout(BASH_COMPLETION);
      else if (shell === 'zsh') io.stdout(ZSH_COMPLETION);
      else throw usageError(`unsupported shell ${JSON.stringify(shell)} (bash or zsh)`);
    });
}
