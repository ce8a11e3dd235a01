import type { Command } from 'commander';
import type { StreamEventsResponse__Output } from '@kvmservice/api';
import { withSession, type GlobalOptions } from '../connection.js';
import { usageError, type CliIo } from '../io.js';
import { countFlag, parseDurationSeconds } from '../options.js';
import { formatEventLine, kubeArmorJson } from '../output/events.js';
import { parseOutputFormat } from '../output/printers.js';

interface LogsOptions {
  follow?: boolean;
  host?: string;
  type?: string;
  operation?: string;
  source?: string;
  resource?: string;
  policy?: string;
  since?: string;
  limit?: string;
  output?: string;
}

const OPERATIONS = ['Process', 'File', 'Network', 'Capabilities', 'Syscall'];

/** `--since 10m` (a duration back from now) or an RFC 3339 time → Unix milliseconds. */
export function sinceMs(text: string, now: Date): number {
  const seconds = parseDurationSeconds(text);
  if (seconds !== undefined) return now.getTime() - seconds * 1000;
  const t = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw usageError(`--since: ${JSON.stringify(text)} is neither a duration (10m, 2h, 1d) nor an RFC 3339 time`);
  return t;
}

function regexFlag(flag: string, text: string | undefined): string {
  if (!text) return '';
  try {
    new RegExp(text);
  } catch (e) {
    throw usageError(`${flag}: invalid regular expression (${(e as Error).message})`);
  }
  return text;
}

/** `kvmctl logs`: alerts and logs from the hosts, with karmor's filters; `-f` follows. */
export function registerLogs(program: Command, io: CliIo): void {
  program
    .command('logs')
    .description('Print alerts and logs from the hosts (karmor logs), optionally following new ones')
    .option('-f, --follow', 'keep printing new events as they arrive (Ctrl-C to stop)')
    .option('--host <name>', 'only events of this host')
    .option('--type <type>', 'alert (a policy decided) or log (visibility)')
    .option('--operation <operation>', `one of ${OPERATIONS.join(', ')}`)
    .option('--source <regex>', 'regular expression on the acting process path')
    .option('--resource <regex>', 'regular expression on the resource (file, address, capability)')
    .option('--policy <name>', 'only events a policy of this name decided')
    .option('--since <when>', 'only events newer than a duration ago (10m, 2h) or an RFC 3339 time')
    .option('--limit <n>', 'print the N most recent stored events (then follow, with -f)')
    .option('-o, --output <format>', 'text (one line per event) or json (KubeArmor JSON, one object per line)')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl logs --type alert --since 1h
  kvmctl logs -f --host web-1
  kvmctl logs --operation File --resource '^/etc/' -o json
  kvmctl logs --policy block-shadow --limit 20

Text lines: TIME HOST Alert|Log OPERATION ACTION RESULT source=… resource=… policy=… …`,
    )
    .action(async (opts: LogsOptions, command: Command) => {
      const format = parseOutputFormat(opts.output, ['text', 'json'] as const, 'text');
      const type = (opts.type ?? '').toLowerCase();
      if (type !== '' && type !== 'alert' && type !== 'log') throw usageError(`--type: must be alert or log, not ${JSON.stringify(opts.type)}`);
      const operation = opts.operation ? OPERATIONS.find((o) => o.toLowerCase() === opts.operation!.toLowerCase()) : '';
      if (operation === undefined) throw usageError(`--operation: must be one of ${OPERATIONS.join(', ')}, not ${JSON.stringify(opts.operation)}`);
      const request = {
        follow: opts.follow === true,
        host: opts.host ?? '',
        type,
        operation,
        source: regexFlag('--source', opts.source),
        resource: regexFlag('--resource', opts.resource),
        policy: opts.policy ?? '',
        since: opts.since ? sinceMs(opts.since, new Date()) : 0,
        limit: opts.limit ? countFlag('--limit', opts.limit) : 0,
      };
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        await session.stream(
          (c) => c.streamEvents(request),
          async (message: StreamEventsResponse__Output) => {
            if (!message.event) return;
            io.stdout(format === 'json' ? `${JSON.stringify(kubeArmorJson(message.event))}\n` : formatEventLine(message.event));
            await io.drain?.();
          },
          io.signal,
        );
      });
    });
}
