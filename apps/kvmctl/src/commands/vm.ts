import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { unary } from '@kvmservice/api';
import { NAME_PATTERN, VIRTUAL_MACHINE } from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { checkSelector, getObject, listObjects } from '../objects.js';
import { durationFlag, parseLabelList } from '../options.js';
import { formatResources, jsonText, OUTPUT_FORMATS, parseOutputFormat, yamlText } from '../output/printers.js';
import { objectRef, qualifiedKind } from '../resource-types.js';
import { createdTokenObject, createToken } from './token.js';

function checkHostName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.length > 253) throw usageError(`${JSON.stringify(name)} is not a valid host name (lowercase RFC 1123: a-z, 0-9, "-", ".")`);
}

/** `kvmctl vm add|list|delete|revoke|getscript`: hosts and their agents (karmor's `vm` commands). */
export function registerVm(program: Command, io: CliIo): void {
  const vm = program
    .command('vm')
    .description('Hosts (VMs and bare-metal servers) and their agents: add, list, delete, revoke, getscript')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl vm add web-1 --labels env=prod,tier=web
  kvmctl vm getscript web-1 -f install-web-1.sh
  kvmctl vm list
  kvmctl vm revoke web-1
  kvmctl vm delete web-1`,
    );

  vm.command('add')
    .description('Create a host and a bootstrap token its agent joins with')
    .argument('<NAME>', 'host name (lowercase RFC 1123), as the agent will report it')
    .option('--labels <k=v,…>', 'host labels (policies select hosts by label)')
    .option('--ttl <duration>', 'how long the join token is valid (default 24h)')
    .option('-o, --output <format>', 'yaml|json: print the host and the token record')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl vm add web-1 --labels env=prod
  kvmctl vm add db-1 --labels env=prod,tier=db --ttl 2h -o json

Fails if the host exists (use kvmctl token create --hostname NAME for a new join token).`,
    )
    .action(async (name: string, opts: { labels?: string; ttl?: string; output?: string }, command: Command) => {
      checkHostName(name);
      const labels = opts.labels ? parseLabelList(opts.labels) : {};
      if (opts.ttl) durationFlag('--ttl', opts.ttl);
      const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output, ['yaml', 'json'] as const, 'yaml');
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const exists = await getObject(session, VIRTUAL_MACHINE, name).then(
          () => true,
          (e: unknown) => {
            if (e instanceof RpcError && e.notFound) return false;
            throw e;
          },
        );
        if (exists) throw new CliError(`${qualifiedKind(VIRTUAL_MACHINE)} "${name}" already exists (kvmctl token create --hostname ${name} makes a new join token)`);
        const host = { apiVersion: VIRTUAL_MACHINE.apiVersion, kind: VIRTUAL_MACHINE.kind, metadata: { name, ...(Object.keys(labels).length > 0 ? { labels } : {}) } };
        const applied = await session.call((c, t) => unary(c.apply.bind(c), { objects: [JSON.stringify(host)], dryRun: false }, t));
        if (applied.results[0]?.outcome !== 'APPLY_OUTCOME_CREATED') throw new CliError(`${qualifiedKind(VIRTUAL_MACHINE)} "${name}" already exists (created concurrently)`);
        const created = await createToken(session, { hostname: name, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.ttl ? { ttl: opts.ttl } : {}), description: `vm add ${name}` });
        if (format) {
          const stored = await getObject(session, VIRTUAL_MACHINE, name);
          const value = { host: stored, token: createdTokenObject(created) };
          io.stdout(format === 'json' ? jsonText(value) : yamlText(value));
          return;
        }
        io.stdout(`${objectRef(VIRTUAL_MACHINE, name)} created\n`);
        io.stdout(`token: ${created.secret}\n`);
        io.stdout(`The token joins one agent as ${name} until ${new Date(Number(created.token!.expiresAt)).toISOString()}; kvmctl vm getscript ${name} prints an installer.\n`);
      });
    });

  vm.command('list')
    .description('List hosts (same as kvmctl get kvm)')
    .option('-l, --selector <selector>', 'label selector')
    .option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join('|')}`)
    .addHelpText('after', '\nExamples:\n  kvmctl vm list\n  kvmctl vm list -l env=prod -o wide')
    .action(async (opts: { selector?: string; output?: string }, command: Command) => {
      const format = parseOutputFormat(opts.output, OUTPUT_FORMATS, 'table');
      const selector = checkSelector(opts.selector);
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const { items } = await listObjects(session, VIRTUAL_MACHINE, selector);
        io.stdout(formatResources([{ kind: VIRTUAL_MACHINE, items }], { format, now: new Date() }));
        if (items.length === 0 && (format === 'table' || format === 'wide')) io.stderr('No resources found.\n');
      });
    });

  vm.command('revoke')
    .description("Revoke a host's agent credential and close its streams; the host must join again with a new token")
    .argument('<NAME...>', 'host names')
    .addHelpText('after', '\nExamples:\n  kvmctl vm revoke web-1\n  kvmctl token create --hostname web-1   # to let it join again')
    .action(async (names: string[], _opts: unknown, command: Command) => {
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        for (const name of names) {
          await session.call((c, t) => unary(c.revokeCredential.bind(c), { hostname: name }, t));
          io.stdout(`${objectRef(VIRTUAL_MACHINE, name)} credential revoked\n`);
        }
      });
    });

  vm.command('delete')
    .description("Offboard hosts: revoke the agent's credential, then delete the host object")
    .argument('<NAME...>', 'host names')
    .addHelpText('after', '\nExamples:\n  kvmctl vm delete web-1')
    .action(async (names: string[], _opts: unknown, command: Command) => {
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const errors: string[] = [];
        for (const name of names) {
          try {
            try {
              await session.call((c, t) => unary(c.revokeCredential.bind(c), { hostname: name }, t));
            } catch (e) {
              // A host that never joined has no credential: nothing to revoke.
              if (!(e instanceof RpcError && e.notFound)) throw e;
            }
            await session.call((c, t) => unary(c.delete.bind(c), { kind: VIRTUAL_MACHINE.kind, name, resourceVersion: '' }, t));
            io.stdout(`${qualifiedKind(VIRTUAL_MACHINE)} "${name}" deleted\n`);
          } catch (e) {
            if (!(e instanceof RpcError)) throw e;
            errors.push(e.message);
          }
        }
        if (errors.length > 0) {
          for (const line of errors.slice(0, -1)) io.stderr(`error: ${line}\n`);
          throw new CliError(errors[errors.length - 1]!);
        }
      });
    });

  vm.command('getscript')
    .description('Print the agent installer script for a host (with a new join token in it)')
    .argument('<NAME>', 'host name')
    .option('-f, --file <path>', 'write the script to this file (mode 0700) instead of stdout')
    .option('--ttl <duration>', 'how long the join token in the script is valid (default 24h)')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl vm getscript web-1 > install.sh
  kvmctl vm getscript web-1 -f install-web-1.sh --ttl 1h
  # then on web-1, as root:  sh install-web-1.sh`,
    )
    .action(async (name: string, opts: { file?: string; ttl?: string }, command: Command) => {
      checkHostName(name);
      const ttlSeconds = opts.ttl ? Math.round(durationFlag('--ttl', opts.ttl)) : 0;
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const { script } = await session.call((c, t) => unary(c.getInstallScript.bind(c), { hostname: name, createToken: true, tokenTtlSeconds: ttlSeconds }, t));
        if (!opts.file) {
          io.stdout(script);
          return;
        }
        const path = resolve(io.cwd, opts.file);
        try {
          writeFileSync(path, script, { mode: 0o700 });
        } catch (e) {
          throw new CliError(`${opts.file}: ${(e as Error).message}`);
        }
        io.stdout(`installer script for ${name} written to ${opts.file}\n`);
      });
    });
}
