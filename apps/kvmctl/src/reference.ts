/**
 * docs/cli.md, generated from the command tree so that it never drifts from `--help`
 * (reference.test.ts checks it; KVMCTL_UPDATE_DOCS=1 rewrites it).
 */
import type { Command } from 'commander';
import { buildProgram } from './cli.js';
import type { CliIo } from './io.js';

const INTRO = `# kvmctl reference

\`kvmctl\` is the command-line client of KVMService. It follows \`kubectl\` (grammar, \`-o\`, \`-l\`,
short names, contexts, exit codes) and brings back karmor's VM commands (\`vm add\`, \`vm getscript\`,
\`logs\` with karmor's filters). This file is generated from the command tree
(\`KVMCTL_UPDATE_DOCS=1 npx vitest run apps/kvmctl/src/reference.test.ts\`); the help texts below are
exactly what \`kvmctl COMMAND --help\` prints.

## Configuration

kvmctl reads a kubeconfig-like file of named contexts (server address, CA, admin token):

\`\`\`yaml
apiVersion: kvmctl.kvmservice.io/v1
kind: Config
current-context: default
contexts:
- name: default
  context:
    server: 127.0.0.1:32770
    certificate-authority-data: LS0tLS1CRUdJTi...   # base64 PEM; or certificate-authority: ca.crt
    token: <admin token>
    # insecure: true               plain-text gRPC (kvmservice --insecure, development only)
    # tls-server-name: kvm.internal  name to check the server certificate against
\`\`\`

The file is the first of:

1. \`--config FILE\`
2. \`$KVMCTL_CONFIG\`
3. \`~/.kvmctl/config\`
4. \`./data/kvmctl.yaml\`: kvmservice writes this on its first start (admin token, CA, address), so
   after \`npm start\` in the repository \`kvmctl get kvm\` works as is.

A file named by 1 or 2 must exist (unless \`--server\` is given); 3 and 4 are used when they exist.
\`config set-context\`, \`use-context\` and \`delete-context\` write back to the file that was read
(or create \`~/.kvmctl/config\`), owner-readable only. The flags \`--context\`, \`--server\`, \`--token\`,
\`--certificate-authority\`, \`--insecure\` and \`--tls-server-name\` override one field each of the
chosen context, as in kubectl. A CA path in the file is relative to the file.

## Exit codes and errors

| code | meaning |
|---|---|
| 0 | success (also \`--help\`, \`--version\`, and Ctrl-C on \`get --watch\` / \`logs -f\`) |
| 1 | error: invalid input, object not found, server refused or unreachable |
| 2 | usage: unknown command or flag, missing argument, bad flag value |

Errors are one line on stderr. Invalid files are reported as \`FILE[#DOC] KIND/NAME: field: reason\`,
one line per problem, and nothing is sent (apply is all or nothing on the server as well). Errors
about the connection name the server and where it came from (\`context "default" of PATH\`,
\`--server\`). Commands working on several objects go on past a missing one and exit 1 at the end.

## Output

\`-o table\` (default), \`wide\` (more columns), \`yaml\`, \`json\`, \`name\`: tables as kubectl prints them
(NAME first, AGE in kubectl's short form, \`<none>\` for empty cells, \`--show-labels\`, \`--no-headers\`);
\`-o name\` prints \`kind.group/name\` (\`kubearmorhostpolicy.security.kubearmor.com/block-shadow\`); \`json\`
and \`yaml\` print a \`List\` (\`apiVersion: v1, items, kind: List\`) unless one object was asked for by
name. \`get -o yaml\` output can be fed back to \`apply -f -\`: it changes nothing.

Types and short names: \`kubearmorvirtualmachines\` (\`kvm\`, \`vm\`, \`host\`), \`kubearmorhostpolicies\`
(\`hsp\`), \`ciliumclusterwidenetworkpolicies\` (\`ccnp\`), \`ciliumnetworkpolicies\` (\`cnp\`),
\`discoveredpolicies\` (\`dsp\`), \`tokens\`. Kind names, singulars, \`TYPE/NAME\` and \`TYPE,TYPE\` work too.

Long operations (reading and validating many files, parsing a large log) draw a progress line on
stderr when it is a terminal (never in pipes; \`KVMCTL_NO_PROGRESS=1\` turns it off).

## Completion

\`source <(kvmctl completion bash)\` or \`source <(kvmctl completion zsh)\`. The scripts ask
\`kvmctl __complete\` for candidates: commands, flags, flag values, types, object and host names and
token ids (from the server of the current context, quietly none when it cannot be reached) and context names.
`;

function leafCommands(command: Command, prefix: string[] = []): { path: string[]; command: Command }[] {
  return command.commands.flatMap((c) => [{ path: [...prefix, c.name()], command: c }, ...leafCommands(c, [...prefix, c.name()])]);
}

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text.replace(/\s+$/, '');
}

/** The whole reference: intro, then every command's help. */
export function cliReference(): string {
  const io: CliIo = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', env: {}, cwd: '/' };
  const program = buildProgram(io);
  const all = [program, ...leafCommands(program).map((l) => l.command)];
  // A fixed width: the file must not depend on the terminal it was generated in.
  for (const c of all) c.configureHelp({ ...c.configureHelp(), helpWidth: 100 });
  // The global options are listed once, with the program; not again under every command.
  const withoutGlobals = (help: string) => help.replace(/\nGlobal Options:\n(?: .*\n)+/, '');
  const sections = leafCommands(program).map(({ path, command }) => `### kvmctl ${path.join(' ')}\n\n\`\`\`text\n${withoutGlobals(helpOf(command))}\n\`\`\`\n`);
  return `${INTRO}\n## Commands\n\n\`\`\`text\n${helpOf(program)}\n\`\`\`\n\n${sections.join('\n')}`;
}
