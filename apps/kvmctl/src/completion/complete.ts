/**
 * `kvmctl __complete WORD…`: the candidates for the last word, given the words before it (the
 * shell scripts call it). Commands and flags come from the command tree itself; types from the
 * resource kinds; object names, host names and token ids from the server (quietly nothing when
 * it cannot be reached); context names from the config file.
 */
import type { Command, Option } from 'commander';
import { unary } from '@kvmservice/api';
import { VIRTUAL_MACHINE } from '@kvmservice/resources';
import { loadConfig } from '../config/config-file.js';
import { withSession, type GlobalOptions } from '../connection.js';
import type { CliIo } from '../io.js';
import { OUTPUT_FORMATS } from '../output/printers.js';
import { resolveType, typeNames } from '../resource-types.js';

export const FILE_DIRECTIVE = ':file';

/** Flags whose values are files. */
const FILE_FLAGS = new Set(['--filename', '--out', '--file', '--config', '--certificate-authority']);

/** Values of `-o` per command path. */
const OUTPUTS: Record<string, readonly string[]> = {
  get: OUTPUT_FORMATS,
  'vm list': OUTPUT_FORMATS,
  'token list': OUTPUT_FORMATS,
  logs: ['text', 'json'],
  'token create': ['yaml', 'json'],
  'vm add': ['yaml', 'json'],
  'config view': ['yaml', 'json'],
  'config get-contexts': ['name'],
  apply: ['name'],
  delete: ['name'],
  label: ['name'],
  'parse-log': ['json'],
};

const FLAG_VALUES: Record<string, readonly string[]> = {
  '--lsm': ['apparmor', 'selinux'],
  '--type': ['alert', 'log'],
  '--operation': ['Process', 'File', 'Network', 'Capabilities', 'Syscall'],
  '--dry-run': ['client', 'server'],
};

function path(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function optionsOf(command: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = command; c; c = c.parent) out.push(...c.options);
  return out;
}

function findOption(command: Command, flag: string): Option | undefined {
  return optionsOf(command).find((o) => o.long === flag || o.short === flag);
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

async function serverNames(globals: GlobalOptions, io: CliIo, typeName: string): Promise<string[]> {
  try {
    const type = resolveType(typeName);
    return await withSession({ ...globals, requestTimeout: '3s' }, io, async (session) => {
      if (type.type === 'tokens') return (await session.call((c, t) => unary(c.listTokens.bind(c), {}, t))).tokens.map((t) => t.id);
      const page = await session.call((c, t) => unary(c.list.bind(c), { kind: type.kind.kind, labelSelector: '', limit: 1000, continueToken: '' }, t));
      return page.items.map((i) => (JSON.parse(i) as { metadata: { name: string } }).metadata.name);
    });
  } catch {
    return [];
  }
}

function contextNames(globals: GlobalOptions, io: CliIo): string[] {
  try {
    return loadConfig(globals.config, io)?.config.contexts.map((c) => c.name) ?? [];
  } catch {
    return [];
  }
}

/** Candidates (or the file directive) for the last of `words`. */
export async function complete(program: Command, words: readonly string[], io: CliIo): Promise<string[]> {
  const cur = words[words.length - 1] ?? '';
  let command = program;
  const positional: string[] = [];
  const globals: Record<string, string | boolean> = {};
  let expecting: Option | undefined;
  for (const word of words.slice(0, -1)) {
    if (expecting) {
      globals[expecting.attributeName()] = word;
      expecting = undefined;
      continue;
    }
    if (word.startsWith('-') && word !== '-') {
      const [flag, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
      const option = findOption(command, flag);
      if (option && takesValue(option) && inline === undefined) expecting = option;
      else if (option) globals[option.attributeName()] = inline ?? true;
      continue;
    }
    const sub = positional.length === 0 ? command.commands.find((c) => c.name() === word || c.aliases().includes(word)) : undefined;
    if (sub) command = sub;
    else positional.push(word);
  }
  const g = globals as GlobalOptions;
  const prefixed = (list: Iterable<string>) => [...new Set(list)].filter((c) => c.startsWith(cur)).sort();

  if (expecting) {
    const flag = expecting.long ?? '';
    if (FILE_FLAGS.has(flag)) return [FILE_DIRECTIVE];
    if (flag === '--output') return prefixed(OUTPUTS[path(command)] ?? []);
    if (flag === '--context') return prefixed(contextNames(g, io));
    if (flag === '--host') return prefixed(await serverNames(g, io, VIRTUAL_MACHINE.plural));
    return prefixed(FLAG_VALUES[flag] ?? []);
  }
  if (cur.startsWith('-')) {
    return prefixed(optionsOf(command).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)).concat('--help'));
  }
  if (command.commands.length > 0 && positional.length === 0) return prefixed(command.commands.map((c) => c.name()));

  switch (path(command)) {
    case 'get':
    case 'describe':
    case 'delete':
    case 'label':
      if (positional.length === 0) return prefixed(typeNames());
      return prefixed(await serverNames(g, io, positional[0]!.split(',')[0]!));
    case 'vm delete':
    case 'vm revoke':
    case 'vm getscript':
      return prefixed(await serverNames(g, io, VIRTUAL_MACHINE.plural));
    case 'token revoke':
      return prefixed(await serverNames(g, io, 'tokens'));
    case 'config use-context':
    case 'config delete-context':
    case 'config set-context':
    case 'config get-contexts':
      return positional.length === 0 ? prefixed(contextNames(g, io)) : [];
    case 'completion':
      return positional.length === 0 ? prefixed(['bash', 'zsh']) : [];
    default:
      return [];
  }
}
