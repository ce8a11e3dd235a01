/**
 * libselinux's file-context lookup, pure: parse `file_contexts` files, order them as libselinux
 * does, resolve a path to its context, and check which of a module's entries are shadowed by a
 * more specific entry of the base policy, the home-directory contexts or local customisations.
 *
 * Ordering (libselinux 3.x label_file): specs are read from file_contexts, then
 * file_contexts.homedirs, then file_contexts.local; specs without regex metacharacters are moved
 * to the end (stable); a lookup applies the path aliases (`.subs`, `.subs_dist`) and returns the
 * LAST spec that matches. file_contexts itself is already sorted by libsemanage.
 */
import { compileMatcher, fromByteString, toByteString } from './render-path-regex.js';
import type { PathAlias } from './render-options.js';
import type { SelinuxFileContext } from './render-selinux-module.js';

export interface FileContextSpec {
  regex: string;
  /** `--`, `-d`, … or undefined for any file type. */
  mode?: string;
  /** `user:role:type:level`, or `<<none>>` (do not relabel). */
  context: string;
  /** Where it came from, e.g. `file_contexts:2598`. */
  origin: string;
}

export interface ParsedFileContexts {
  specs: FileContextSpec[];
  /** Lines that are neither comments nor specs, counted (never dropped silently). */
  unparsed: { origin: string; line: string }[];
}

const MODES = new Set(['--', '-d', '-l', '-c', '-b', '-s', '-p']);

/** Parses one file_contexts file; total (bad lines are returned in `unparsed`). */
export function parseFileContexts(text: string, name: string): ParsedFileContexts {
  const specs: FileContextSpec[] = [];
  const unparsed: ParsedFileContexts['unparsed'] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const origin = `${name}:${i + 1}`;
    if (fields.length === 2) specs.push({ regex: fields[0]!, context: fields[1]!, origin });
    else if (fields.length === 3 && MODES.has(fields[1]!)) specs.push({ regex: fields[0]!, mode: fields[1]!, context: fields[2]!, origin });
    else unparsed.push({ origin, line: raw });
  });
  return { specs, unparsed };
}

/** Parses a `.subs`/`.subs_dist` file into aliases (in file order). */
export function parsePathAliases(text: string): PathAlias[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length === 2)
    .map((f) => [f[0]!.replace(/\/+$/, ''), f[1]!.replace(/\/+$/, '')] as const);
}

/** libselinux's "has metacharacters" test. */
export function hasRegexMeta(regex: string): boolean {
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i]!;
    if (ch === '\\') i++;
    else if ('.^$?*+|[({'.includes(ch)) return true;
  }
  return false;
}

/** The specs of file_contexts, .homedirs and .local in libselinux's lookup order. */
export function lookupOrder(...files: readonly FileContextSpec[][]): FileContextSpec[] {
  const all = files.flat();
  return [...all.filter((s) => hasRegexMeta(s.regex)), ...all.filter((s) => !hasRegexMeta(s.regex))];
}

/** libselinux applies the first alias whose source is a prefix (component-wise) of the path. */
export function applyAliases(path: string, aliases: readonly PathAlias[]): string {
  for (const [alias, original] of aliases) {
    if (path === alias || path.startsWith(`${alias}/`)) return original + path.slice(alias.length);
  }
  return path;
}

const matcherCache = new Map<string, RegExp | null>();

/** PCRE `\Q…\E` quoting as escapes (JavaScript has no quoting). */
const unquote = (regex: string): string => regex.replace(/\\Q(.*?)\\E/g, (_all, q: string) => q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** The regex as JavaScript. null when JS cannot compile it. */
function matcherFor(regex: string): RegExp | null {
  let m = matcherCache.get(regex);
  if (m !== undefined) return m;
  try {
    m = compileMatcher(unquote(regex));
  } catch {
    m = null;
  }
  matcherCache.set(regex, m);
  return m;
}

/** The spec libselinux would use for `path` (any file type), or undefined when none matches. */
export function lookupFileContext(path: string, ordered: readonly FileContextSpec[], aliases: readonly PathAlias[] = []): FileContextSpec | undefined {
  const key = toByteString(applyAliases(path, aliases));
  for (let i = ordered.length - 1; i >= 0; i--) {
    const spec = ordered[i]!;
    if (matcherFor(spec.regex)?.test(key)) return spec;
  }
  return undefined;
}

export const contextType = (context: string): string | undefined => (context === '<<none>>' ? undefined : context.split(':')[2]);

/** An entry of ours that does not label a path it should. */
export interface ShadowedPath {
  /** Our entry (as in `fileContexts`). */
  pathRegex: string;
  /** The path checked: the entry's own path, a sample path, or a path the base policy names. */
  path: string;
  expectedType: string;
  /** What libselinux gives the path instead. */
  effective: string;
  /** The spec that wins, with its origin. */
  by?: string;
}

/** The literal path of an exact entry written by the renderer (`…\Q\E`), or undefined. */
function exactPath(regex: string): string | undefined {
  if (!regex.endsWith('\\Q\\E') || hasRegexMeta(regex.slice(0, -4))) return undefined;
  return unescapeLiteral(regex.slice(0, -4));
}

/** The text an escaped literal regex matches (as a normal string). */
function unescapeLiteral(regex: string): string {
  return fromByteString(regex.replace(/\\x([0-9a-fA-F]{2})/g, (_all, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, '$1'));
}

/** A path the (renderer-written) regex matches, built by choosing simple text for each wildcard. */
export function samplePath(quoted: string): string | undefined {
  const regex = unquote(quoted);
  let i = 0;
  const quantified = (text: string, wildcard: boolean): string => {
    const q = regex[i];
    if (q === '*' || q === '+') {
      i++;
      return wildcard ? 'kvmsprobe' : text;
    }
    if (q === '?') i++;
    return text;
  };
  const atom = (): string => {
    const ch = regex[i]!;
    if (ch === '\\') {
      const byte = /^\\x([0-9a-fA-F]{2})/.exec(regex.slice(i));
      if (byte) {
        i += 4;
        return quantified(String.fromCharCode(parseInt(byte[1]!, 16)), false);
      }
      i += 2;
      return quantified(regex[i - 1] ?? '', false);
    }
    if (ch === '(') {
      i++;
      const inner = alternation();
      i++; // ')'
      return quantified(inner, false);
    }
    if (ch === '[') {
      let end = i + 1;
      if (regex[end] === '^') end++;
      end = regex.indexOf(']', end + 1);
      if (end < 0) end = regex.length;
      const cls = new RegExp(regex.slice(i, end + 1));
      i = end + 1;
      const pick = [...'kabcdefghijlmnopqrstuvwxyz0123456789_.-'].find((c) => cls.test(c)) ?? 'k';
      return quantified(pick, pick === 'k');
    }
    i++;
    return ch === '.' ? quantified('k', true) : quantified(ch, false);
  };
  const sequence = (): string => {
    let out = '';
    while (i < regex.length && regex[i] !== '|' && regex[i] !== ')') out += atom();
    return out;
  };
  const alternation = (): string => {
    const alternatives = [sequence()];
    while (regex[i] === '|') {
      i++;
      alternatives.push(sequence());
    }
    return alternatives.find((a) => a !== '') ?? '';
  };
  let sample: string;
  try {
    sample = alternation();
  } catch {
    return undefined;
  }
  return matcherFor(quoted)?.test(sample) ? fromByteString(sample) : undefined;
}

/**
 * Which of a module's file contexts do not take effect in a store: for each exact entry its path,
 * for each regex entry a sample path and every path the other specs name exactly inside it, must
 * resolve to one of the module's types. `ordered` is the store's specs in lookup order (including
 * the module's own); `ownType` widens "the module's types" (tests that link several modules into
 * one store, where libsemanage keeps one of several identical entries).
 */
export function findShadowedPaths(
  fileContexts: readonly SelinuxFileContext[],
  ordered: readonly FileContextSpec[],
  aliases: readonly PathAlias[],
  ownType?: (type: string) => boolean,
): ShadowedPath[] {
  const specs = ordered;
  const ours = new Set(fileContexts.map((f) => contextType(f.context)));
  const isOurs = (spec: FileContextSpec) => {
    const type = contextType(spec.context);
    return type !== undefined && (ownType ? ownType(type) : ours.has(type));
  };
  const exactOthers = specs.filter((s) => !isOurs(s) && !hasRegexMeta(s.regex)).map((s) => unescapeLiteral(s.regex));
  const out: ShadowedPath[] = [];
  for (const fc of fileContexts) {
    if (fc.pathRegex.startsWith('HOME_ROOT')) continue; // installed as /home/… in .homedirs, checked through its /home twin
    const expectedType = contextType(fc.context)!;
    const exact = exactPath(fc.pathRegex);
    const matcher = matcherFor(fc.pathRegex);
    const probes = exact !== undefined ? [exact] : [samplePath(fc.pathRegex), ...exactOthers.filter((p) => matcher?.test(toByteString(p)))];
    for (const path of new Set(probes.filter((p): p is string => p !== undefined))) {
      const winner = lookupFileContext(path, specs, aliases);
      if (winner && isOurs(winner)) continue;
      out.push({
        pathRegex: fc.pathRegex,
        path,
        expectedType,
        effective: winner ? winner.context : '<no match>',
        by: winner ? `${winner.regex} (${winner.origin})` : undefined,
      });
    }
  }
  return out;
}
