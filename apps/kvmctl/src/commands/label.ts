import type { Command } from 'commander';
import { unary } from '@kvmservice/api';
import { RpcError, withSession, type GlobalOptions } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { checkSelector, getObject, listObjects } from '../objects.js';
import { labelPairProblem } from '../options.js';
import { pairs } from '../output/fields.js';
import { parseOutputFormat } from '../output/printers.js';
import { objectRef, resolveType, typeNames } from '../resource-types.js';

interface LabelOptions {
  overwrite?: boolean;
  resourceVersion?: string;
  selector?: string;
  all?: boolean;
  list?: boolean;
  output?: string;
}

/** Splits `NAME… KEY=VALUE… KEY-…` into names, labels to set and labels to remove. */
export function parseLabelArgs(args: readonly string[]): { names: string[]; set: Record<string, string>; remove: string[] } {
  const names: string[] = [];
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      const key = arg.slice(0, eq);
      const value = arg.slice(eq + 1);
      const problem = labelPairProblem(key, value);
      if (problem) throw new CliError(problem);
      if (set[key] !== undefined) throw usageError(`label ${key} is given twice`);
      set[key] = value;
    } else if (arg.endsWith('-') && arg.length > 1) {
      const key = arg.slice(0, -1);
      if (labelPairProblem(key, '') !== undefined) throw new CliError(`invalid label key ${JSON.stringify(key)} to remove`);
      remove.push(key);
    } else {
      if (Object.keys(set).length > 0 || remove.length > 0) throw usageError(`${JSON.stringify(arg)}: names must come before the label changes`);
      names.push(arg);
    }
  }
  for (const key of remove) if (set[key] !== undefined) throw usageError(`label ${key} is both set and removed`);
  return { names, set, remove };
}

/** `kvmctl label TYPE NAME… KEY=VALUE… KEY-… [--overwrite]`. */
export function registerLabel(program: Command, io: CliIo): void {
  program
    .command('label')
    .description('Add, change or remove labels of hosts (moving them in and out of policies) or other objects')
    .argument('<TYPE>', `type: ${typeNames().filter((t) => t !== 'tokens').join(', ')}`)
    .argument('[ARGS...]', 'NAME… then KEY=VALUE to set, KEY- to remove')
    .option('--overwrite', 'allow changing the value of an existing label')
    .option('--resource-version <version>', 'change only if the object is still at this version (one object)')
    .option('-l, --selector <selector>', 'label every object of TYPE that matches')
    .option('--all', 'label every object of TYPE')
    .option('--list', 'print the labels of the objects instead of changing them')
    .option('-o, --output <format>', 'name: print only kind.group/name')
    .addHelpText(
      'after',
      `
Examples:
  # Put host web-1 in the policies selecting env=prod
  kvmctl label kvm web-1 env=prod
  # Change a value (refused without --overwrite)
  kvmctl label kvm web-1 env=staging --overwrite
  # Remove a label: the host leaves the policies selecting it
  kvmctl label kvm web-1 env-
  # Every host of a team
  kvmctl label kvm -l team=payments pci=true
  kvmctl label kvm web-1 --list`,
    )
    .action(async (typeArg: string, rest: string[], opts: LabelOptions, command: Command) => {
      const namesOnly = opts.output !== undefined && parseOutputFormat(opts.output, ['name'] as const, 'name') === 'name';
      const selector = checkSelector(opts.selector);
      const parsedArgs = parseLabelArgs(rest);
      // `label kvm web-1 …` or `label kvm/web-1 …`
      const slash = typeArg.indexOf('/');
      const type = resolveType(slash < 0 ? typeArg : typeArg.slice(0, slash));
      if (type.type !== 'resource') throw usageError('tokens have no labels');
      const kind = type.kind;
      const names = slash < 0 ? parsedArgs.names : [typeArg.slice(slash + 1), ...parsedArgs.names];
      const { set, remove } = parsedArgs;
      const byQuery = selector !== '' || opts.all === true;
      if (byQuery && names.length > 0) throw usageError('give names or -l/--all, not both');
      if (!byQuery && names.length === 0) throw usageError('one or more names, -l SELECTOR or --all is required');
      if (!opts.list && Object.keys(set).length === 0 && remove.length === 0) throw usageError('at least one label update is required (KEY=VALUE or KEY-)');
      if (opts.resourceVersion !== undefined && names.length !== 1) throw usageError('--resource-version needs exactly one name');

      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const targets = byQuery ? (await listObjects(session, kind, selector)).items.map((o) => o.metadata.name) : names;
        if (targets.length === 0) {
          io.stderr('No resources found.\n');
          return;
        }
        const errors: string[] = [];
        for (const name of targets) {
          try {
            if (opts.list) {
              const o = await getObject(session, kind, name);
              const labels = pairs(o.metadata.labels);
              if (labels !== '') io.stdout(`${targets.length > 1 ? `${objectRef(kind, name)}: ` : ''}${labels.split(',').join('\n')}\n`);
              continue;
            }
            const reply = await session.call((c, t) => unary(c.label.bind(c), { kind: kind.kind, name, set, remove, overwrite: opts.overwrite === true, resourceVersion: opts.resourceVersion ?? '' }, t));
            io.stdout(namesOnly ? `${objectRef(kind, name)}\n` : `${objectRef(kind, name)} ${reply.changed ? 'labeled' : 'not labeled'}\n`);
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
}
