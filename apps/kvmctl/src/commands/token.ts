import type { Command } from 'commander';
import { unary, type CreateTokenResponse__Output } from '@kvmservice/api';
import { NAME_PATTERN } from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions, type ServerSession } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { listTokens } from '../objects.js';
import { durationFlag, parseLabelList } from '../options.js';
import { formatTokens, jsonText, OUTPUT_FORMATS, parseOutputFormat, tokenObject, yamlText } from '../output/printers.js';

export interface TokenRequest {
  hostname?: string;
  labels?: string;
  ttl?: string;
  description?: string;
}

/** Creates a bootstrap token after checking the flags here (so a typo costs no call). */
export async function createToken(session: ServerSession, request: TokenRequest): Promise<CreateTokenResponse__Output> {
  const hostname = request.hostname ?? '';
  if (hostname !== '' && !NAME_PATTERN.test(hostname)) throw usageError(`--hostname: ${JSON.stringify(hostname)} is not a valid host name (lowercase RFC 1123)`);
  const labels = request.labels ? parseLabelList(request.labels) : {};
  const ttlSeconds = request.ttl ? durationFlag('--ttl', request.ttl) : 0;
  return session.call((c, t) => unary(c.createToken.bind(c), { hostname, labels, ttlSeconds: Math.round(ttlSeconds), description: request.description ?? '' }, t));
}

/** The created token in yaml/json: what `token list` shows, plus the secret (shown once). */
export function createdTokenObject(created: CreateTokenResponse__Output): Record<string, unknown> {
  return { ...tokenObject(created.token!), token: created.secret };
}

/** `kvmctl token create|list|revoke`. */
export function registerToken(program: Command, io: CliIo): void {
  const token = program
    .command('token')
    .description('Bootstrap tokens: single-use, expiring secrets an agent joins with')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl token create --hostname web-1 --labels env=prod --ttl 2h
  kvmctl token list
  kvmctl token revoke 3f2a1b`,
    );

  token
    .command('create')
    .description('Create a bootstrap token and print it (the secret is shown only now)')
    .option('--hostname <name>', 'the only host the token may join as (default: whatever name the agent gives)')
    .option('--labels <k=v,…>', 'labels the host gets when it joins with this token')
    .option('--ttl <duration>', 'how long the token is valid, e.g. 30m, 24h, 7d (default 24h)')
    .option('--description <text>', 'a note shown by token list')
    .option('-o, --output <format>', 'yaml|json: print the token record with the secret')
    .addHelpText(
      'after',
      `
Examples:
  TOKEN=$(kvmctl token create --hostname web-1 --ttl 1h)
  kvmctl token create --labels env=prod,team=payments -o yaml

Prints only <id>.<secret> (one line), so it can be captured by a script. The server keeps only a hash.`,
    )
    .action(async (opts: TokenRequest & { output?: string }, command: Command) => {
      const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output, ['yaml', 'json'] as const, 'yaml');
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const created = await createToken(session, opts);
        if (format === 'json') io.stdout(jsonText(createdTokenObject(created)));
        else if (format === 'yaml') io.stdout(yamlText(createdTokenObject(created)));
        else io.stdout(`${created.secret}\n`);
      });
    });

  token
    .command('list')
    .description('List bootstrap tokens (never their secrets)')
    .option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join('|')}`)
    .addHelpText('after', '\nExamples:\n  kvmctl token list\n  kvmctl token list -o wide')
    .action(async (opts: { output?: string }, command: Command) => {
      const format = parseOutputFormat(opts.output, OUTPUT_FORMATS, 'table');
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const tokens = await listTokens(session);
        io.stdout(formatTokens(tokens, { format, now: new Date() }));
        if (tokens.length === 0 && (format === 'table' || format === 'wide')) io.stderr('No resources found.\n');
      });
    });

  token
    .command('revoke')
    .description('Revoke bootstrap tokens (an agent that already joined keeps its credential)')
    .argument('<ID...>', 'token ids (the part before the "."), as token list shows them')
    .addHelpText('after', '\nExamples:\n  kvmctl token revoke 3f2a1b\n  kvmctl vm revoke web-1     # revoke a joined host\'s credential instead')
    .action(async (ids: string[], _opts: unknown, command: Command) => {
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const errors: string[] = [];
        for (const given of ids) {
          // Accept the whole `<id>.<secret>` too; only the id is sent.
          const id = given.split('.')[0]!;
          try {
            await session.call((c, t) => unary(c.revokeToken.bind(c), { id }, t));
            io.stdout(`token "${id}" revoked\n`);
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
