/**
 * Sets of paths as sequences of path components, to decide whether one rule's target covers,
 * misses or partly overlaps the files another file-context entry labels. SELinux gives each file
 * exactly one type, so a rule can only apply to all files of a type or to none of them; a partial
 * overlap the renderer cannot resolve is reported, never guessed.
 *
 * Answers are conservative: `covers` and `disjoint` are only returned when they are certain.
 */
import { compileMatcher, globToRegex, literalPrefix, toByteString } from './render-path-regex.js';

export type Component =
  | { kind: 'literal'; text: string }
  /** Any non-empty component. */
  | { kind: 'any' }
  /** A component glob such as `*.log`. */
  | { kind: 'glob'; source: string; matcher: RegExp };

export interface PathRegion {
  components: Component[];
  /** One or more further components of anything follow. */
  deeper: boolean;
  /** Set when the pattern cannot be split into components (`**` inside a path, `/` inside braces). */
  opaque?: { prefix: string; source: string };
}

const splitPath = (path: string): string[] => path.split('/').slice(1);

/** Exactly one path. */
export function exactRegion(path: string): PathRegion {
  return { components: splitPath(path).map((text) => ({ kind: 'literal', text })), deeper: false };
}

/** Everything below `dir` (`dir` without a trailing slash; not `/`). */
export function subtreeRegion(dir: string): PathRegion {
  return { components: exactRegion(dir).components, deeper: true };
}

/** The direct children of `dir`. */
export function childrenRegion(dir: string): PathRegion {
  return { components: [...exactRegion(dir).components, { kind: 'any' }], deeper: false };
}

/** Top-level components of a glob, or undefined when a `/` is inside braces or a class. */
function globComponents(pattern: string): string[] | undefined {
  const parts: string[] = [''];
  let depth = 0;
  let inClass = false;
  for (const ch of pattern) {
    if (inClass) {
      if (ch === ']') inClass = false;
      else if (ch === '/') return undefined;
      parts[parts.length - 1] += ch;
      continue;
    }
    if (ch === '[') inClass = true;
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === '/' && depth > 0) return undefined;
    if (ch === '/') parts.push('');
    else parts[parts.length - 1] += ch;
  }
  return parts.slice(1);
}

/** The region a validated, absolute glob pattern matches. */
export function globRegion(pattern: string): PathRegion {
  const opaque = { components: [], deeper: true, opaque: { prefix: literalPrefix(pattern), source: pattern } };
  const parts = globComponents(pattern);
  if (!parts) return opaque;
  const components: Component[] = [];
  let deeper = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (/^\*\*+$/.test(part) && i === parts.length - 1) {
      deeper = true;
    } else if (part.includes('**')) {
      return opaque;
    } else if (part === '*') {
      components.push({ kind: 'any' });
    } else if (/[*?[{]/.test(part)) {
      components.push({ kind: 'glob', source: part, matcher: compileMatcher(globToRegex(part)) });
    } else {
      components.push({ kind: 'literal', text: part });
    }
  }
  return { components, deeper };
}

const minLength = (r: PathRegion) => r.components.length + (r.deeper ? 1 : 0);
const maxLength = (r: PathRegion) => (r.deeper ? Infinity : r.components.length);

function componentCovers(a: Component, b: Component): boolean {
  if (a.kind === 'any') return true;
  if (a.kind === 'literal') return b.kind === 'literal' && b.text === a.text && a.text !== '';
  if (b.kind === 'literal') return a.matcher.test(toByteString(b.text));
  return b.kind === 'glob' && b.source === a.source;
}

function componentsDisjoint(a: Component, b: Component): boolean {
  if (a.kind === 'literal' && b.kind === 'literal') return a.text !== b.text;
  if (a.kind === 'literal' && b.kind === 'glob') return !b.matcher.test(toByteString(a.text));
  if (a.kind === 'glob' && b.kind === 'literal') return !a.matcher.test(toByteString(b.text));
  if (a.kind === 'any' || b.kind === 'any') return a.kind === 'literal' ? a.text === '' : b.kind === 'literal' && b.text === '';
  return false; // two globs: may intersect
}

/** Whether every path of `b` is in `a`. */
export function regionCovers(a: PathRegion, b: PathRegion): boolean {
  if (a.opaque || b.opaque) {
    if (a.opaque && b.opaque) return a.opaque.source === b.opaque.source;
    if (a.opaque) return false;
    // `a` is a plain subtree (literal components + deeper) holding b's literal directory.
    if (!a.deeper || a.components.some((c) => c.kind !== 'literal')) return false;
    const dir = `/${a.components.map((c) => (c as { text: string }).text).join('/')}/`;
    return b.opaque!.prefix.startsWith(dir);
  }
  if (minLength(b) < minLength(a)) return false;
  if (!a.deeper && (b.deeper || b.components.length !== a.components.length)) return false;
  for (let i = 0; i < a.components.length; i++) {
    const bc = b.components[i];
    if (bc === undefined) {
      // b's "deeper" part lines up with a's component: only a wildcard component covers it.
      if (a.components[i]!.kind !== 'any') return false;
    } else if (!componentCovers(a.components[i]!, bc)) return false;
  }
  return true;
}

/** Whether `a` and `b` certainly share no path. */
export function regionsDisjoint(a: PathRegion, b: PathRegion): boolean {
  if (a.opaque || b.opaque) {
    const pa = a.opaque ? a.opaque.prefix : regionLiteralPrefix(a);
    const pb = b.opaque ? b.opaque.prefix : regionLiteralPrefix(b);
    return !pa.startsWith(pb) && !pb.startsWith(pa);
  }
  if (maxLength(a) < minLength(b) || maxLength(b) < minLength(a)) return true;
  const n = Math.min(a.components.length, b.components.length);
  for (let i = 0; i < n; i++) if (componentsDisjoint(a.components[i]!, b.components[i]!)) return true;
  return false;
}

/** The literal text every path of the region starts with. */
function regionLiteralPrefix(r: PathRegion): string {
  let out = '';
  for (const c of r.components) {
    if (c.kind !== 'literal') return `${out}/`;
    out += `/${c.text}`;
  }
  return r.deeper ? `${out}/` : out;
}

export type Overlap = 'covers' | 'disjoint' | 'partial';

/** How the paths of `target` relate to the paths of `entry`. */
export function overlap(target: PathRegion, entry: PathRegion): Overlap {
  if (regionCovers(target, entry)) return 'covers';
  if (regionsDisjoint(target, entry)) return 'disjoint';
  return 'partial';
}
