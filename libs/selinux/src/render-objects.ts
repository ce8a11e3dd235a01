/**
 * From rule targets to labelled objects: every process/file target becomes one or more
 * file-context entries (an exact path, a directory's children or subtree, a glob), and every entry
 * gets the set of targets whose paths include all the files it labels. Entries with the same set
 * share one type. fromSource binaries are entries too: their type is the domain's entry point.
 *
 * SELinux labels each file with the most specific matching entry only, so a target that covers part
 * of a more specific entry's files cannot be expressed; that is reported as a problem.
 */
import type { FileRule, ProcessRule } from '@kvmservice/resources';
import { compileMatcher, escapeRegexLiteral, globToRegex, hasGlob, literalDirectory, literalPrefix, toByteString } from './render-path-regex.js';
import {
  childrenRegion,
  globRegion,
  overlap,
  subtreeRegion,
  type PathRegion,
} from './render-path-regions.js';
import type { RenderProblem } from './render-problems.js';

export type ObjectRule = FileRule | ProcessRule;

/** A distinct thing rules name: a path, a directory (recursive or not) or a pattern. */
export interface ObjectTarget {
  key: string;
  /** Human-readable form for messages and type names. */
  text: string;
  rules: ObjectRule[];
  /** Matches every path the target names (test `toByteString(path)`). */
  matcher: RegExp;
  /** Text every path the target names starts with (a cheap filter before the matcher). */
  literal: string;
  /** The target's regex entry and its region, when it has one (directories, globs). */
  regexEntry?: { regex: string; region: PathRegion };
}

export interface FileContextEntry {
  /** The filecon regex as written (exact entries end with `\Q\E`, see `exactRegex`). */
  regex: string;
  /** For exact entries: the one path. */
  path?: string;
  region?: PathRegion;
  /** Where restorecon must run for this entry. */
  relabel: string;
  /** `HOME_ROOT/…` copy of a regex entry under /home (see docs/selinux.md, "file contexts"). */
  homeRootRegex?: string;
  /** Keys of the targets whose rules apply to every file of this entry. */
  targets: Set<string>;
  /** fromSource binary this entry is the entry point of. */
  source?: string;
  /** Text every path of the entry starts with. */
  literal: string;
}

/** Collapses repeated slashes (the kernel reports canonical paths). */
export const canonicalPath = (path: string): string => path.replace(/\/{2,}/g, '/');

/** Why a path or pattern cannot be labelled by path, or undefined. */
export function nonCanonicalReason(path: string): string | undefined {
  if (path.split('/').some((c) => c === '.' || c === '..')) return 'must not contain "." or ".." components (SELinux labels canonical paths)';
  return undefined;
}

/**
 * Every entry ends with an empty PCRE quote `\Q\E`. It changes nothing in what the entry matches,
 * but makes it differ textually from an identical entry of the base policy (an exact duplicate is a
 * "Multiple different specifications" link error; a duplicate regex is merged, and ours could be
 * the one dropped) and sorts it after that entry, so ours wins: libsemanage orders entries by the
 * position of the first metacharacter, then by length, and libselinux takes the last match.
 */
export const ENTRY_SUFFIX = '\\Q\\E';
export const exactRegex = (path: string): string => `${escapeRegexLiteral(path)}${ENTRY_SUFFIX}`;

const HOME = '/home/';

/** A regex entry under /home/ also goes into the home-directory contexts (see docs/selinux.md). */
function homeRootVariant(regex: string, literal: string): string | undefined {
  return literal.startsWith(HOME) && literal.length > HOME.length ? `HOME_ROOT${regex.slice('/home'.length)}` : undefined;
}

/**
 * libsemanage's ordering key of a file_contexts regex (`semanage_fc_compare`): position of the
 * first metacharacter (exact entries last), then length; libselinux uses the last match.
 */
export function fileContextRank(regex: string): [number, number] {
  let escapes = 0;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i]!;
    if (ch === '\\') {
      i++;
      escapes++;
    } else if ('.^$?*+|[({'.includes(ch)) {
      return [i - escapes, regex.length];
    }
  }
  return [Number.MAX_SAFE_INTEGER, regex.length];
}

/** Whether entry `a` takes precedence over entry `b` where both match; undefined when it is a tie. */
function outranks(a: string, b: string): boolean | undefined {
  const [ma, la] = fileContextRank(a);
  const [mb, lb] = fileContextRank(b);
  if (ma !== mb) return ma > mb;
  if (la !== lb) return la > lb;
  return undefined;
}

export interface ObjectModel {
  targets: Map<string, ObjectTarget>;
  entries: Map<string, FileContextEntry>;
  problems: RenderProblem[];
}

function targetOf(rule: ObjectRule): { key: string; text: string; entries: FileContextEntry[]; matcher: string; literal: string } | RenderProblem {
  const t = rule.target;
  const problem = (field: string, reason: string): RenderProblem => ({ policy: rule.policy, field: `${rule.field}.${field}`, reason });
  switch (t.kind) {
    case 'execname':
      return problem(
        'execname',
        'cannot be labelled on SELinux: a binary name anywhere on the file system has no path to label (use path with the binary\'s absolute path)',
      );
    case 'path': {
      const path = canonicalPath(t.path);
      const bad = nonCanonicalReason(path);
      if (bad) return problem('path', bad);
      const regex = exactRegex(path);
      return {
        key: `path:${path}`,
        text: path,
        matcher: escapeRegexLiteral(path),
        literal: path,
        entries: [{ regex, path, relabel: path, targets: new Set(), literal: path }],
      };
    }
    case 'dir': {
      const dir = canonicalPath(t.dir).replace(/\/$/, '');
      if (dir === '') {
        return problem('dir', 'cannot be "/" on SELinux: it would relabel the whole file system (protect the directories that matter)');
      }
      const bad = nonCanonicalReason(dir);
      if (bad) return problem('dir', bad);
      const base = escapeRegexLiteral(dir);
      const regex = `${t.recursive ? `${base}/.*` : `${base}/[^/]+`}${ENTRY_SUFFIX}`;
      return {
        key: `dir:${dir}/${t.recursive ? '**' : '*'}`,
        text: `${dir}/`,
        matcher: t.recursive ? `${base}(/.*)?` : `${base}(/[^/]+)?`,
        literal: dir,
        entries: [
          { regex: exactRegex(dir), path: dir, relabel: dir, targets: new Set(), literal: dir },
          {
            regex,
            region: t.recursive ? subtreeRegion(dir) : childrenRegion(dir),
            relabel: dir,
            homeRootRegex: homeRootVariant(regex, `${dir}/`),
            targets: new Set(),
            literal: `${dir}/`,
          },
        ],
      };
    }
    case 'pattern': {
      const pattern = canonicalPath(t.pattern);
      const bad = nonCanonicalReason(pattern);
      if (bad) return problem('pattern', bad);
      if (!hasGlob(pattern)) {
        return {
          key: `path:${pattern}`,
          text: pattern,
          matcher: escapeRegexLiteral(pattern),
          literal: pattern,
          entries: [{ regex: exactRegex(pattern), path: pattern, relabel: pattern, targets: new Set(), literal: pattern }],
        };
      }
      const relabel = literalDirectory(pattern);
      if (relabel === '/') {
        return problem('pattern', 'needs a literal directory before its first wildcard on SELinux (e.g. /tmp/*): otherwise restorecon would have to relabel the whole file system');
      }
      const regex = `${globToRegex(pattern)}${ENTRY_SUFFIX}`;
      return {
        key: `pattern:${pattern}`,
        text: pattern,
        matcher: globToRegex(pattern),
        literal: literalPrefix(pattern),
        entries: [{ regex, region: globRegion(pattern), relabel, homeRootRegex: homeRootVariant(regex, pattern), targets: new Set(), literal: literalPrefix(pattern) }],
      };
    }
  }
}

const isProblem = (v: unknown): v is RenderProblem => typeof v === 'object' && v !== null && 'reason' in v;

/**
 * Builds targets and entries for `rules` and the fromSource binaries `sources` (canonical absolute
 * paths), resolves which targets cover which entries, and reports partial overlaps.
 */
export function buildObjectModel(rules: readonly ObjectRule[], sources: readonly string[]): ObjectModel {
  const targets = new Map<string, ObjectTarget>();
  const entries = new Map<string, FileContextEntry>();
  const problems: RenderProblem[] = [];
  const addEntry = (e: FileContextEntry): FileContextEntry => {
    const existing = entries.get(e.regex);
    if (existing) return existing;
    entries.set(e.regex, e);
    return e;
  };

  for (const rule of rules) {
    const t = targetOf(rule);
    if (isProblem(t)) {
      problems.push(t);
      continue;
    }
    let target = targets.get(t.key);
    if (!target) {
      const regexEntry = t.entries.find((e) => e.region);
      target = {
        key: t.key,
        text: t.text,
        rules: [],
        matcher: compileMatcher(t.matcher),
        literal: t.literal,
        regexEntry: regexEntry ? { regex: regexEntry.regex, region: regexEntry.region! } : undefined,
      };
      targets.set(t.key, target);
      for (const e of t.entries) addEntry(e).targets.add(t.key);
    }
    target.rules.push(rule);
  }
  for (const source of sources) {
    const e = addEntry({ regex: exactRegex(source), path: source, relabel: source, targets: new Set(), literal: source });
    e.source = source;
  }

  // Coverage: every target whose paths include all files of an entry applies to it.
  const reported = new Set<string>();
  for (const entry of entries.values()) {
    const bytes = entry.path !== undefined ? toByteString(entry.path) : '';
    for (const target of targets.values()) {
      if (entry.targets.has(target.key)) continue;
      // Every path of both starts with its literal: unrelated literals cannot share a path.
      if (!entry.literal.startsWith(target.literal) && !(entry.path === undefined && target.literal.startsWith(entry.literal))) continue;
      if (entry.path !== undefined) {
        if (target.matcher.test(bytes)) entry.targets.add(target.key);
        continue;
      }
      // An exact-only target (a path) is carved out of any regex entry: its own entry wins.
      if (!target.regexEntry) continue;
      const relation = overlap(target.regexEntry.region, entry.region!);
      if (relation === 'covers') {
        entry.targets.add(target.key);
      } else if (relation === 'partial' && outranks(target.regexEntry.regex, entry.regex) !== true) {
        // The files both match get this entry's type, which cannot carry the target's rules for only some of them.
        const owner = [...targets.values()].find((t) => t.regexEntry?.regex === entry.regex);
        const pair = [target.key, owner?.key ?? entry.regex].sort().join('|');
        if (reported.has(pair)) continue;
        reported.add(pair);
        const rule = target.rules[0]!;
        const other = owner?.rules[0];
        problems.push({
          policy: rule.policy,
          field: rule.field,
          reason:
            `"${target.text}" partly overlaps ${other ? `${other.field} "${owner!.text}"${other.policy !== rule.policy ? ` of policy ${other.policy}` : ''}` : `"${entry.regex}"`}; ` +
            'SELinux gives each file one type, so one rule cannot apply to only some of the files of the other (make them disjoint, or nest one directory inside the other)',
        });
      }
    }
  }
  return { targets, entries, problems };
}
