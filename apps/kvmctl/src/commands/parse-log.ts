import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseLogLines, splitLines } from '@kvmservice/auditlog';
import { CliError, type CliIo } from '../io.js';
import { readLinesSync } from '../line-reader.js';
import { parseOutputFormat } from '../output/printers.js';
import { Progress } from '../output/progress.js';

/** Output is written in chunks of about this size (one write per line costs a system call each). */
const CHUNK_CHARS = 1 << 16;

/** `kvmctl parse-log [-f PATH|-] [-o json]`: offline, JSON Lines, one per input line. */
export function registerParseLog(program: Command, io: CliIo): void {
  program
    .command('parse-log')
    .description('Parse audit logs (AppArmor, SELinux AVC, Linux audit) offline into JSON Lines, one per input line')
    .option('-f, --filename <path>', 'log file, or - for stdin', '-')
    .option('-o, --output <format>', 'json (JSON Lines)', 'json')
    .option('--hostname <name>', 'host name for events whose line names none')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl parse-log -f /var/log/audit/audit.log
  journalctl -k -o json | kvmctl parse-log
  kvmctl parse-log -f kern.log | jq 'select(.event.action == "Block") | .event.resource'

Each output line is {"line": N, "format": "apparmor"|"selinux"|"audit"|"unparsed", "record": {…},
"event": {…}}, in input order. Multi-record Linux-audit events are assembled (the event sits on its
SYSCALL or AVC line). Lines that cannot be read are reported as format "unparsed", never dropped;
a count of them is printed on stderr. Any input is accepted (binary, huge lines, truncated records).`,
    )
    .action(async (opts: { filename: string; output: string; hostname?: string }) => {
      parseOutputFormat(opts.output, ['json'] as const, 'json');
      let pending = '';
      const flush = () => {
        if (pending !== '') io.stdout(pending);
        pending = '';
      };
      let fd: number | undefined;
      let lines: Iterable<string>;
      if (opts.filename === '-') {
        lines = io.stdinLines ? io.stdinLines(flush) : splitLines(await io.readStdin());
      } else {
        try {
          fd = openSync(resolve(io.cwd, opts.filename), 'r');
        } catch (e) {
          throw new CliError(`${opts.filename}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
        }
        lines = readLinesSync(fd, flush);
      }
      const progress = new Progress(io);
      let total = 0;
      let unparsed = 0;
      try {
        for (const record of parseLogLines(lines, opts.hostname ? { hostName: opts.hostname } : {})) {
          total++;
          if (record.format === 'unparsed') unparsed++;
          pending += `${JSON.stringify(record)}\n`;
          if (pending.length >= CHUNK_CHARS) {
            flush();
            progress.update(`${total} lines parsed`);
            await io.drain?.();
          }
          if (io.signal?.aborted) break;
        }
      } catch (e) {
        throw new CliError(`${opts.filename}: ${(e as Error).message}`);
      } finally {
        flush();
        progress.done();
        if (fd !== undefined) closeSync(fd);
      }
      if (unparsed > 0) io.stderr(`${unparsed} of ${total} lines unparsed (format "unparsed" in the output)\n`);
    });
}
