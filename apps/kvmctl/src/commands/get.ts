import type { Command } from 'commander';
import type { Token__Output, WatchResponse__Output } from '@kvmservice/api';
import type { Resource } from '@kvmservice/resources';
import { withSession, RpcError, type GlobalOptions, type ServerSession } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { checkSelector, DEFAULT_CHUNK_SIZE, getObject, listObjects, listTokens } from '../objects.js';
import { countFlag } from '../options.js';
import { formatResources, formatTokens, jsonText, listOf, OUTPUT_FORMATS, parseOutputFormat, tokenObject, WatchPrinter, yamlText, type PrintOptions, type ResourceGroup } from '../output/printers.js';
import { parseTypeArgs, typeNames, type CliType } from '../resource-types.js';

interface GetOptions {
  output?: string;
  selector?: string;
  watch?: boolean;
  watchOnly?: boolean;
  outputWatchEvents?: boolean;
  showLabels?: boolean;
  headers: boolean;
  chunkSize: string;
}

const EXAMPLES = `
Examples:
  # Hosts, with their connection and policy state
  kvmctl get kvm
  # Host policies selecting production hosts, with more columns
  kvmctl get hsp -l env=prod -o wide
  # One policy as YAML (feed it back with: kvmctl apply -f -)
  kvmctl get hsp block-shadow -o yaml
  # Several types; TYPE/NAME form
  kvmctl get kvm,hsp
  kvmctl get kvm/web-1 hsp/block-shadow
  # Names only, for scripts: kubearmorhostpolicy.security.kubearmor.com/block-shadow
  kvmctl get hsp -o name
  # Watch hosts change (Ctrl-C to stop)
  kvmctl get kvm --watch
  # Bootstrap tokens
  kvmctl get tokens

Types: ${typeNames().join(', ')}.
Output formats: ${OUTPUT_FORMATS.join(', ')} (json and yaml print a List unless one NAME is given).`;

async function fetchResources(session: ServerSession, type: Extract<CliType, { type: 'resource' }>, names: string[], selector: string, chunkSize: number, errors: string[]): Promise<Resource[]> {
  if (names.length === 0) return (await listObjects(session, type.kind, selector, chunkSize)).items;
  const out: Resource[] = [];
  for (const name of names) {
    try {
      out.push(await getObject(session, type.kind, name));
    } catch (e) {
      // kubectl prints what it found and reports each missing name, then exits 1.
      if (e instanceof RpcError && e.notFound) errors.push(e.message);
      else throw e;
    }
  }
  return out;
}

async function fetchTokens(session: ServerSession, names: string[], errors: string[]): Promise<Token__Output[]> {
  const tokens = await listTokens(session);
  if (names.length === 0) return tokens;
  const out: Token__Output[] = [];
  for (const name of names) {
    const id = name.split('.')[0]!;
    const found = tokens.find((t) => t.id === id);
    if (found) out.push(found);
    else errors.push(`token "${id}" not found`);
  }
  return out;
}

async function watch(session: ServerSession, type: Extract<CliType, { type: 'resource' }>, names: string[], selector: string, opts: GetOptions, print: PrintOptions, io: CliIo): Promise<void> {
  const printer = new WatchPrinter(type.kind, { ...print, showEventType: opts.outputWatchEvents === true });
  const wanted = (o: Resource) => names.length === 0 || names.includes(o.metadata.name);
  // List first, watch from the list's revision: nothing between the two is missed. With
  // --watch-only the list only fixes where the changes start.
  const listed = await listObjects(session, type.kind, selector, countFlag('--chunk-size', opts.chunkSize) || DEFAULT_CHUNK_SIZE);
  const resourceVersion = listed.resourceVersion;
  if (!opts.watchOnly) {
    const initial = listed.items.filter(wanted);
    if (initial.length === 0 && (print.format === 'table' || print.format === 'wide')) io.stderr('No resources found.\n');
    io.stdout(printer.print(initial.map((object) => ({ type: 'ADDED', object }))));
  }
  await session.stream(
    (c) => c.watch({ kind: type.kind.kind, labelSelector: selector, resourceVersion }),
    async (change: WatchResponse__Output) => {
      const object = JSON.parse(change.object) as Resource;
      if (!wanted(object)) return;
      // Each change is printed when it arrives: AGE is read now.
      io.stdout(printer.print([{ type: change.type, object }], new Date()));
      await io.drain?.();
    },
    io.signal,
  );
}

/** `kvmctl get TYPE[,TYPE…] [NAME…] [-l SEL] [-o FORMAT] [--watch]`. */
export function registerGet(program: Command, io: CliIo): void {
  program
    .command('get')
    .description('Display one or many hosts, policies or tokens')
    .argument('[TYPE_AND_NAMES...]', 'TYPE[,TYPE…] [NAME…] or TYPE/NAME…')
    .option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join('|')}`)
    .option('-l, --selector <selector>', 'label selector, e.g. env=prod,tier!=db,gpu (=, ==, !=, in, notin, exists)')
    .option('-w, --watch', 'after listing, print every change (Ctrl-C to stop)')
    .option('--watch-only', 'print changes only, without the current objects')
    .option('--output-watch-events', 'with --watch, print the event type (ADDED, MODIFIED, DELETED)')
    .option('--show-labels', 'add a LABELS column')
    .option('--no-headers', 'print tables without the header line')
    .option('--chunk-size <n>', 'objects per page when listing', String(DEFAULT_CHUNK_SIZE))
    .addHelpText('after', EXAMPLES)
    .action(async (args: string[], opts: GetOptions, command: Command) => {
      const groups = parseTypeArgs(args);
      if (groups.length === 0) throw usageError(`you must specify the type of resource to get (one of ${typeNames().join(', ')})`);
      const format = parseOutputFormat(opts.output, OUTPUT_FORMATS, 'table');
      const selector = checkSelector(opts.selector);
      const chunkSize = countFlag('--chunk-size', opts.chunkSize) || DEFAULT_CHUNK_SIZE;
      const print: PrintOptions = { format, now: new Date(), showLabels: opts.showLabels === true, noHeaders: !opts.headers };
      const watching = opts.watch === true || opts.watchOnly === true;
      if (selector !== '' && groups.some((g) => g.names.length > 0)) throw usageError('a selector (-l) cannot be combined with names');
      if (selector !== '' && groups.some((g) => g.type.type === 'tokens')) throw usageError('tokens have no labels: -l does not apply to them');
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        if (watching) {
          const only = groups[0]!;
          if (groups.length > 1 || only.type.type !== 'resource') throw usageError('--watch works with one resource type (not tokens)');
          await watch(session, only.type, only.names, selector, opts, print, io);
          return;
        }
        const errors: string[] = [];
        const resources: ResourceGroup[] = [];
        let tokens: Token__Output[] | undefined;
        for (const { type, names } of groups) {
          if (type.type === 'tokens') tokens = await fetchTokens(session, names, errors);
          else resources.push({ kind: type.kind, items: await fetchResources(session, type, names, selector, chunkSize, errors) });
        }
        const single = groups.length === 1 && groups[0]!.names.length === 1;
        if (format === 'json' || format === 'yaml') {
          const items = [...resources.flatMap((g) => g.items), ...(tokens ?? []).map(tokenObject)];
          const value = single ? items[0] : listOf(items);
          if (value !== undefined) io.stdout(format === 'json' ? jsonText(value) : yamlText(value));
        } else {
          io.stdout([formatResources(resources, print), tokens ? formatTokens(tokens, print) : ''].filter((t) => t !== '').join('\n'));
        }
        const found = resources.reduce((n, g) => n + g.items.length, 0) + (tokens?.length ?? 0);
        if (found === 0 && errors.length === 0 && (format === 'table' || format === 'wide')) io.stderr('No resources found.\n');
        if (errors.length > 0) {
          for (const e of errors) io.stderr(`error: ${e}\n`);
          throw new CliError('');
        }
      });
    });
}
