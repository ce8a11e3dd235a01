import type { Command } from 'commander';
import { unary } from '@kvmservice/api';
import { findKind, parseDocuments, type ResourceKind } from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions } from '../connection.js';
import { readInputs } from '../input.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { checkSelector, listObjects, listTokens } from '../objects.js';
import { collect } from '../options.js';
import { obj, str } from '../output/fields.js';
import { parseOutputFormat } from '../output/printers.js';
import { parseTypeArgs, qualifiedKind, typeNames } from '../resource-types.js';

interface DeleteOptions {
  filename: string[];
  recursive: boolean;
  selector?: string;
  all?: boolean;
  ignoreNotFound?: boolean;
  resourceVersion?: string;
  output?: string;
}

type Target = { kind: ResourceKind; name: string; location?: string } | { token: string };

/** Kind and name of every document in the files (they need not be valid otherwise). */
function targetsFromFiles(texts: { source: string; text: string }[]): Target[] {
  const problems: string[] = [];
  const targets: Target[] = [];
  for (const input of texts) {
    for (const doc of parseDocuments(input.text, input.source)) {
      if (doc.error !== undefined) {
        problems.push(`${doc.location}: ${doc.error}`);
        continue;
      }
      const o = obj(doc.object);
      const kind = findKind(str(o.kind));
      const name = str(obj(o.metadata).name);
      if (!kind) problems.push(`${doc.location}: kind: ${o.kind === undefined ? 'is required' : `unsupported kind ${JSON.stringify(o.kind)}`}`);
      else if (name === '') problems.push(`${doc.location} ${kind.kind}/<no name>: metadata.name: is required`);
      else targets.push({ kind, name, location: doc.location });
    }
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return targets;
}

/** `kvmctl delete TYPE NAME… | -f FILE | TYPE -l SEL | TYPE --all`. */
export function registerDelete(program: Command, io: CliIo): void {
  program
    .command('delete')
    .description('Delete hosts, policies or tokens by name, by file, or by label selector')
    .argument('[TYPE_AND_NAMES...]', 'TYPE NAME… or TYPE/NAME…')
    .option('-f, --filename <path>', 'delete the objects named in these files (repeatable; - for stdin)', collect, [])
    .option('-R, --recursive', 'process directories recursively', false)
    .option('-l, --selector <selector>', 'delete the objects of TYPE that match')
    .option('--all', 'delete every object of TYPE')
    .option('--ignore-not-found', 'an object that does not exist is not an error')
    .option('--resource-version <version>', 'delete only if the object is still at this version (one object)')
    .option('-o, --output <format>', 'name: print only kind.group/name')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl delete hsp block-shadow
  kvmctl delete hsp/block-shadow kvm/web-1
  kvmctl delete -f policies/
  kvmctl delete hsp -l team=payments
  kvmctl delete token 3f2a1b
  kvmctl delete kvm web-1            # also consider: kvmctl vm delete web-1 (revokes its credential)

Prints kind.group "name" deleted for each object. Continues past missing objects, then exits 1
(0 with --ignore-not-found).`,
    )
    .action(async (args: string[], opts: DeleteOptions, command: Command) => {
      const namesOnly = opts.output !== undefined && parseOutputFormat(opts.output, ['name'] as const, 'name') === 'name';
      const selector = checkSelector(opts.selector);
      const fromFiles = opts.filename.length > 0;
      if (fromFiles && args.length > 0) throw usageError('give either -f or TYPE NAME…, not both');
      if (!fromFiles && args.length === 0) throw usageError(`you must specify what to delete: TYPE NAME…, TYPE -l SELECTOR, TYPE --all or -f FILE (types: ${typeNames().join(', ')})`);
      const groups = fromFiles ? [] : parseTypeArgs(args);
      const byQuery = selector !== '' || opts.all === true;
      if (byQuery && (groups.length !== 1 || groups[0]!.names.length > 0)) throw usageError('-l and --all take one TYPE and no names');
      if (!fromFiles && !byQuery && groups.every((g) => g.names.length === 0)) throw usageError('resource(s) were provided, but no name was specified (give NAME…, -l SELECTOR or --all)');
      if (opts.resourceVersion !== undefined && !/^[0-9]+$/.test(opts.resourceVersion)) throw usageError('--resource-version: must be a decimal revision');
      const files = fromFiles ? targetsFromFiles(await readInputs(opts.filename, opts.recursive, io)) : [];

      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const targets: Target[] = [...files];
        for (const { type, names } of groups) {
          if (type.type === 'tokens') {
            const ids = byQuery ? (await listTokens(session)).map((t) => t.id) : names.map((n) => n.split('.')[0]!);
            targets.push(...ids.map((token) => ({ token })));
          } else if (byQuery) {
            targets.push(...(await listObjects(session, type.kind, selector)).items.map((o) => ({ kind: type.kind, name: o.metadata.name })));
          } else {
            targets.push(...names.map((name) => ({ kind: type.kind, name })));
          }
        }
        if (opts.resourceVersion !== undefined && targets.length !== 1) throw usageError('--resource-version needs exactly one object');
        if (targets.length === 0) {
          io.stderr('No resources found.\n');
          return;
        }
        const errors: string[] = [];
        for (const target of targets) {
          try {
            if ('token' in target) {
              await session.call((c, t) => unary(c.revokeToken.bind(c), { id: target.token }, t));
              io.stdout(namesOnly ? `token/${target.token}\n` : `token "${target.token}" deleted\n`);
            } else {
              await session.call((c, t) => unary(c.delete.bind(c), { kind: target.kind.kind, name: target.name, resourceVersion: opts.resourceVersion ?? '' }, t));
              io.stdout(namesOnly ? `${qualifiedKind(target.kind)}/${target.name}\n` : `${qualifiedKind(target.kind)} "${target.name}" deleted\n`);
            }
          } catch (e) {
            if (!(e instanceof RpcError)) throw e;
            if (e.notFound && opts.ignoreNotFound) continue;
            errors.push('location' in target && target.location ? `${target.location}: ${e.message}` : e.message);
          }
        }
        if (errors.length > 0) {
          for (const line of errors.slice(0, -1)) io.stderr(`error: ${line}\n`);
          throw new CliError(errors[errors.length - 1]!);
        }
      });
    });
}
