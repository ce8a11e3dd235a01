import type { Command } from 'commander';
import { checkDocuments, inputSetProblems, problemLines } from '@kvmservice/resources';
import { readInputs } from '../input.js';
import { CliError, type CliIo } from '../io.js';
import { collect } from '../options.js';

/** `kvmctl validate -f PATH|- [-R]`: offline; exit 0 when every object is valid. */
export function registerValidate(program: Command, io: CliIo): void {
  program
    .command('validate')
    .description('Check policy and host files offline, as the server would (no server needed)')
    .requiredOption('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'process directories recursively', false)
    .addHelpText(
      'after',
      `
Examples:
  kvmctl validate -f policy.yaml
  kvmctl validate -R -f policies/
  cat policy.yaml | kvmctl validate -f -

Prints one line per valid object; on any problem prints one line per problem on stderr,
FILE[#doc] KIND/NAME: field: reason, and exits 1.`,
    )
    .action(async (opts: { filename: string[]; recursive: boolean }) => {
      const inputs = await readInputs(opts.filename, opts.recursive, io);
      const checked = inputs.flatMap((input) => checkDocuments(input.text, input.source));
      if (checked.length === 0) throw new CliError('no objects found in the input');
      const objects = checked.flatMap(({ location, result }) => (result.valid ? [{ location, resource: result.resource }] : []));
      // What the server refuses for objects applied together (duplicates, DiscoveredPolicy targets, size).
      const problems = [...problemLines(checked), ...inputSetProblems(objects)];
      for (const { result } of checked) {
        if (result.valid) io.stdout(`${result.kind.singular}/${result.resource.metadata.name} valid\n`);
      }
      if (problems.length > 0) {
        for (const line of problems) io.stderr(`${line}\n`);
        throw new CliError('');
      }
    });
}
