import type { Command } from 'commander';
import { unary, type ApplyOutcome__Output } from '@kvmservice/api';
import { checkDocuments, findKind, inputSetProblems, problemLines, type CheckedDocument, type Resource, type ResourceKind } from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions } from '../connection.js';
import { readInputs } from '../input.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { collect } from '../options.js';
import { parseOutputFormat } from '../output/printers.js';
import { Progress } from '../output/progress.js';
import { objectRef } from '../resource-types.js';

interface ApplyOptions {
  filename: string[];
  recursive: boolean;
  dryRun?: string | boolean;
  output?: string;
}

const OUTCOME: Record<ApplyOutcome__Output, string> = {
  APPLY_OUTCOME_UNSPECIFIED: 'applied',
  APPLY_OUTCOME_CREATED: 'created',
  APPLY_OUTCOME_CONFIGURED: 'configured',
  APPLY_OUTCOME_UNCHANGED: 'unchanged',
  APPLY_OUTCOME_DELETED: 'deleted',
};

/** How kubectl words an apply outcome (`created`, `configured`, …). */
export function applyOutcomeText(outcome: ApplyOutcome__Output): string {
  return OUTCOME[outcome] ?? 'applied';
}

export interface ValidObject {
  location: string;
  kind: ResourceKind;
  resource: Resource;
}

/**
 * Parses and validates every input document; on any problem prints one line per problem
 * (`FILE[#doc] KIND/NAME: field: reason`) and fails, so nothing is sent. Also refuses the same
 * object twice, as the server would, but naming both places.
 */
export function validInputObjects(checked: readonly CheckedDocument[], io: CliIo): ValidObject[] {
  const objects: ValidObject[] = checked.flatMap(({ location, result }) => (result.valid ? [{ location, kind: result.kind, resource: result.resource }] : []));
  const problems = [...problemLines(checked), ...inputSetProblems(objects)];
  if (problems.length > 0) {
    for (const line of problems) io.stderr(`${line}\n`);
    throw new CliError('');
  }
  return objects;
}

/** Server messages name objects by position or Kind/name; point them at the file and document instead. */
export function locateServerMessage(message: string, objects: readonly ValidObject[]): string[] {
  return message.split('\n').map((line) => {
    const byIndex = /^object (\d+) (.*)$/.exec(line);
    if (byIndex) {
      const object = objects[Number(byIndex[1]) - 1];
      return object ? `${object.location} ${byIndex[2]}` : line;
    }
    const named = objects.find((o) => line.startsWith(`${o.kind.kind}/${o.resource.metadata.name}:`));
    return named ? `${named.location} ${line}` : line;
  });
}

/** `kvmctl apply -f FILE|DIR|- [-R] [--dry-run=client|server]`: all or nothing. */
export function registerApply(program: Command, io: CliIo): void {
  program
    .command('apply')
    .description('Create or update hosts and policies from files, all or nothing')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'process directories recursively', false)
    .option('--dry-run [strategy]', 'client: validate here, send nothing; server: the server checks and reports, stores nothing')
    .option('-o, --output <format>', 'name: print only kind.group/name of each object')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl apply -f policy.yaml
  kvmctl apply -R -f policies/
  kvmctl get hsp -o yaml | kvmctl apply -f -
  kvmctl apply -f policies/ --dry-run=server

Every object is validated first; if any is invalid, nothing is sent and each problem is printed
on stderr as FILE[#doc] KIND/NAME: field: reason (exit 1). The server stores all objects or none.
Prints kind.group/name created|configured|unchanged for each object.`,
    )
    .action(async (opts: ApplyOptions, command: Command) => {
      const dryRun = opts.dryRun === undefined ? 'none' : opts.dryRun === true ? 'client' : String(opts.dryRun);
      if (!['none', 'client', 'server'].includes(dryRun)) throw usageError(`--dry-run: must be none, client or server, not ${JSON.stringify(dryRun)}`);
      const namesOnly = opts.output !== undefined && parseOutputFormat(opts.output, ['name'] as const, 'name') === 'name';
      const inputs = await readInputs(opts.filename, opts.recursive, io);
      const progress = new Progress(io);
      const checked: CheckedDocument[] = [];
      inputs.forEach((input, i) => {
        if (inputs.length > 1) progress.step('validating files', i + 1, inputs.length);
        checked.push(...checkDocuments(input.text, input.source));
      });
      progress.done();
      const objects = validInputObjects(checked, io);
      if (objects.length === 0) throw new CliError('no objects passed to apply');
      const suffix = dryRun === 'client' ? ' (dry run)' : dryRun === 'server' ? ' (server dry run)' : '';
      if (dryRun === 'client') {
        for (const o of objects) io.stdout(namesOnly ? `${objectRef(o.kind, o.resource.metadata.name)}\n` : `${objectRef(o.kind, o.resource.metadata.name)} valid${suffix}\n`);
        return;
      }
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        progress.update(`applying ${objects.length} object${objects.length === 1 ? '' : 's'}…`, true);
        let response;
        try {
          response = await session.call((c, t) => unary(c.apply.bind(c), { objects: objects.map((o) => JSON.stringify(o.resource)), dryRun: dryRun === 'server' }, t));
        } catch (e) {
          progress.done();
          if (!(e instanceof RpcError)) throw e;
          const lines = locateServerMessage(e.message, objects);
          for (const line of lines.slice(0, -1)) io.stderr(`error: ${line}\n`);
          throw new CliError(lines[lines.length - 1]!);
        }
        progress.done();
        for (const r of response.results) {
          const kind = findKind(r.kind);
          const ref = kind ? objectRef(kind, r.name) : `${r.kind}/${r.name}`;
          io.stdout(namesOnly ? `${ref}\n` : `${ref} ${OUTCOME[r.outcome]}${suffix}\n`);
        }
      });
    });
}
