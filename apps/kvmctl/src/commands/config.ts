import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { KvmctlConfig, KvmctlContext } from '@kvmservice/api';
import { stringifyClientConfig } from '@kvmservice/api';
import { parseDocuments } from '@kvmservice/resources';
import { configCandidates, configTarget, loadConfig, saveConfig } from '../config/config-file.js';
import type { GlobalOptions } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { parseOutputFormat } from '../output/printers.js';
import { formatTable } from '../output/table.js';

const REDACTED = 'REDACTED';
const DATA_OMITTED = 'DATA+OMITTED';

/** The config as `config view` shows it: secrets and CA data hidden unless --raw. */
function viewOf(config: KvmctlConfig, raw: boolean): KvmctlConfig {
  if (raw) return config;
  return {
    ...config,
    contexts: config.contexts.map((c) => ({
      ...c,
      ...(c.token !== undefined ? { token: REDACTED } : {}),
      ...(c.certificateAuthorityData !== undefined ? { certificateAuthorityData: DATA_OMITTED } : {}),
    })),
  };
}

function loaded(globals: GlobalOptions, io: CliIo) {
  const found = loadConfig(globals.config, io, { mustExist: true });
  if (!found) throw new CliError(`no config file found (looked for ${configCandidates(globals.config, io).map((c) => c.path).join(', ')})`);
  return found;
}

/** `kvmctl config view|get-contexts|current-context|use-context|set-context|delete-context`. */
export function registerConfig(program: Command, io: CliIo): void {
  const config = program
    .command('config')
    .description('Show and change kvmctl contexts (server, CA, token), like kubectl config')
    .addHelpText(
      'after',
      `
The config file is the first of: --config FILE, $KVMCTL_CONFIG, ~/.kvmctl/config,
./data/kvmctl.yaml (written by kvmservice on its first start, e.g. by npm start).

Examples:
  kvmctl config view
  kvmctl config get-contexts
  kvmctl config use-context prod
  kvmctl config set-context prod --server kvm.example.com:32770 --certificate-authority ca.crt --token "$TOKEN"`,
    );

  config
    .command('view')
    .description('Print the config (tokens and CA data hidden unless --raw)')
    .option('--raw', 'show tokens and certificate data')
    .option('--minify', 'only the current context')
    .option('-o, --output <format>', 'yaml|json', 'yaml')
    .addHelpText('after', '\nExamples:\n  kvmctl config view\n  kvmctl config view --minify --raw > ci-kvmctl.yaml')
    .action((opts: { raw?: boolean; minify?: boolean; output: string }, command: Command) => {
      const format = parseOutputFormat(opts.output, ['yaml', 'json'] as const, 'yaml');
      const { config: cfg } = loaded(command.optsWithGlobals<GlobalOptions>(), io);
      const chosen = opts.minify ? { ...cfg, contexts: cfg.contexts.filter((c) => c.name === cfg.currentContext) } : cfg;
      const text = stringifyClientConfig(viewOf(chosen, opts.raw === true))
        // The placeholder is not base64; show it as written, as kubectl does.
        .replace(/certificate-authority-data: .*/g, (line) => (opts.raw ? line : `certificate-authority-data: ${DATA_OMITTED}`));
      io.stdout(format === 'json' ? `${JSON.stringify(parseDocuments(text, 'config')[0]?.object ?? {}, null, 2)}\n` : text);
    });

  config
    .command('get-contexts')
    .description('List the contexts; * marks the current one')
    .argument('[NAME]', 'only this context')
    .option('-o, --output <format>', 'name: print only the names')
    .addHelpText('after', '\nExamples:\n  kvmctl config get-contexts\n  kvmctl config get-contexts -o name')
    .action((name: string | undefined, opts: { output?: string }, command: Command) => {
      const { config: cfg } = loaded(command.optsWithGlobals<GlobalOptions>(), io);
      const contexts = name === undefined ? cfg.contexts : cfg.contexts.filter((c) => c.name === name);
      if (name !== undefined && contexts.length === 0) throw new CliError(`context "${name}" not found`);
      if (opts.output !== undefined) {
        parseOutputFormat(opts.output, ['name'] as const, 'name');
        io.stdout(contexts.map((c) => `${c.name}\n`).join(''));
        return;
      }
      const security = (c: KvmctlContext) => (c.insecure ? 'insecure' : c.certificateAuthorityData !== undefined ? 'tls (embedded CA)' : c.certificateAuthority !== undefined ? `tls (${c.certificateAuthority})` : 'tls (no CA)');
      io.stdout(formatTable(['CURRENT', 'NAME', 'SERVER', 'SECURITY', 'TOKEN'], contexts.map((c) => [c.name === cfg.currentContext ? '*' : ' ', c.name, c.server, security(c), c.token ? 'yes' : 'no'])));
    });

  config
    .command('current-context')
    .description('Print the name of the current context')
    .addHelpText('after', '\nExamples:\n  kvmctl config current-context')
    .action((_opts: unknown, command: Command) => {
      const { config: cfg, path } = loaded(command.optsWithGlobals<GlobalOptions>(), io);
      if (cfg.currentContext === '') throw new CliError(`current-context is not set in ${path}`);
      io.stdout(`${cfg.currentContext}\n`);
    });

  config
    .command('use-context')
    .description('Make a context the current one')
    .argument('<NAME>', 'context name')
    .addHelpText('after', '\nExamples:\n  kvmctl config use-context prod')
    .action((name: string, _opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const found = loaded(globals, io);
      if (!found.config.contexts.some((c) => c.name === name)) throw new CliError(`no context exists with the name: "${name}" in ${found.path}`);
      saveConfig(found.path, { ...found.config, currentContext: name });
      io.stdout(`Switched to context "${name}".\n`);
    });

  config
    .command('set-context')
    .description('Create or change a context; the global --server, --token, --certificate-authority, --insecure and --tls-server-name give its fields')
    .argument('[NAME]', 'context name (default: the current context)')
    .option('--current', 'change the current context')
    .option('--embed-certs', 'store the CA file content in the config (certificate-authority-data) instead of its path')
    .option('--use', 'also make it the current context')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl config set-context prod --server kvm.example.com:32770 --certificate-authority ./ca.crt --embed-certs --token "$TOKEN" --use
  kvmctl config set-context --current --token "$NEW_TOKEN"
  kvmctl config set-context dev --server 127.0.0.1:32770 --insecure`,
    )
    .action((nameArg: string | undefined, opts: { current?: boolean; embedCerts?: boolean; use?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const target = configTarget(globals.config, io);
      const existing = target.exists ? loadConfig(globals.config, io)!.config : { currentContext: '', contexts: [] };
      const name = nameArg ?? (opts.current ? existing.currentContext : '');
      if (name === '') throw usageError('give a context NAME or --current');
      if (nameArg !== undefined && opts.current && nameArg !== existing.currentContext) throw usageError('give NAME or --current, not both');
      const before = existing.contexts.find((c) => c.name === name);
      if (opts.current && !before) throw new CliError(`the current context "${name}" does not exist`);
      const next: KvmctlContext = { ...(before ?? { name, server: '' }) };
      if (globals.server !== undefined) next.server = globals.server;
      if (globals.token !== undefined) next.token = globals.token;
      if (globals.tlsServerName !== undefined) next.tlsServerName = globals.tlsServerName;
      if (globals.insecure !== undefined) {
        next.insecure = globals.insecure;
        if (globals.insecure) {
          delete next.certificateAuthority;
          delete next.certificateAuthorityData;
        }
      }
      if (globals.certificateAuthority !== undefined) {
        const path = resolve(io.cwd, globals.certificateAuthority);
        if (opts.embedCerts) {
          try {
            next.certificateAuthorityData = readFileSync(path, 'utf8');
          } catch (e) {
            throw new CliError(`--certificate-authority ${globals.certificateAuthority}: ${(e as Error).message}`);
          }
          delete next.certificateAuthority;
        } else {
          next.certificateAuthority = path;
          delete next.certificateAuthorityData;
        }
        delete next.insecure;
      }
      if (next.server === '') throw usageError(`context "${name}" needs a server: pass --server HOST:PORT`);
      const contexts = before ? existing.contexts.map((c) => (c.name === name ? next : c)) : [...existing.contexts, next];
      const currentContext = opts.use || existing.currentContext === '' ? name : existing.currentContext;
      saveConfig(target.path, { currentContext, contexts });
      io.stdout(`Context "${name}" ${before ? 'modified' : 'created'} in ${target.path}.\n`);
    });

  config
    .command('delete-context')
    .description('Remove a context')
    .argument('<NAME>', 'context name')
    .addHelpText('after', '\nExamples:\n  kvmctl config delete-context old-lab')
    .action((name: string, _opts: unknown, command: Command) => {
      const found = loaded(command.optsWithGlobals<GlobalOptions>(), io);
      if (!found.config.contexts.some((c) => c.name === name)) throw new CliError(`cannot delete context "${name}": not in ${found.path}`);
      const contexts = found.config.contexts.filter((c) => c.name !== name);
      saveConfig(found.path, { currentContext: found.config.currentContext === name ? '' : found.config.currentContext, contexts });
      if (found.config.currentContext === name) io.stderr(`warning: this removed the current context; set another with kvmctl config use-context\n`);
      io.stdout(`deleted context ${name} from ${found.path}\n`);
    });
}
