/**
 * AppArmor globbing (AARE) for the evaluator: `*` any characters but `/`, `**` any characters
 * including `/`, `?` one character but `/`, `{a,b}` alternation (nestable, empty alternatives
 * allowed), `[abc]` / `[^a-z]` classes (a negated class never matches `/`); a backslash escapes the
 * next character. The same language the renderers hand to apparmor_parser (`libs/resources`
 * safe-text rules); malformed syntax is taken literally (an unclosed `{` closes at the end).
 *
 * Matching is a Thompson NFA simulation: time O(pattern × path), whatever the input. A backtracking
 * regular expression is exponential on `/**a**a**a…b` against a long path, and the control plane
 * evaluates policy patterns on every alert a host sends.
 */

/** One character test: a literal, `?`/`*` (anything but '/'), `**` (anything), or a class. */
type CharTest = { kind: 'literal'; code: number } | { kind: 'notSlash' } | { kind: 'any' } | { kind: 'class'; negate: boolean; ranges: number[] };

type Node = { kind: 'char'; test: CharTest } | { kind: 'star'; test: CharTest } | { kind: 'alt'; alternatives: Node[][] };

/** NFA states: a character test with one successor, an epsilon fork, or acceptance. */
interface CharState {
  kind: 'char';
  test: CharTest;
  next: number;
}
interface ForkState {
  kind: 'fork';
  next: number[];
}
type State = CharState | ForkState | { kind: 'accept' };

const SLASH = 47;

function parse(glob: string): Node[] {
  let i = 0;
  // Returns the sequence up to a `,` or `}` of the enclosing alternation (depth > 0) or the end.
  const sequence = (depth: number): Node[] => {
    const out: Node[] = [];
    while (i < glob.length) {
      const ch = glob[i]!;
      if (depth > 0 && (ch === ',' || ch === '}')) return out;
      i++;
      if (ch === '\\' && i < glob.length) {
        out.push({ kind: 'char', test: { kind: 'literal', code: glob.charCodeAt(i++) } });
      } else if (ch === '*') {
        let any = false;
        while (glob[i] === '*') {
          any = true;
          i++;
        }
        out.push({ kind: 'star', test: any ? { kind: 'any' } : { kind: 'notSlash' } });
      } else if (ch === '?') {
        out.push({ kind: 'char', test: { kind: 'notSlash' } });
      } else if (ch === '{') {
        const alternatives: Node[][] = [sequence(depth + 1)];
        while (i < glob.length && glob[i] === ',') {
          i++;
          alternatives.push(sequence(depth + 1));
        }
        if (i < glob.length) i++; // the closing '}' (an unclosed group ends with the pattern)
        out.push({ kind: 'alt', alternatives });
      } else if (ch === '[') {
        // As AppArmor and fnmatch: a ']' right after '[' (or '[^') belongs to the class.
        const end = glob.indexOf(']', i + 1);
        if (end < 0) {
          out.push({ kind: 'char', test: { kind: 'literal', code: 91 } });
          continue;
        }
        let body = glob.slice(i, end);
        i = end + 1;
        const negate = body.startsWith('^');
        if (negate) body = body.slice(1);
        const ranges: number[] = [];
        for (let j = 0; j < body.length; j++) {
          const lo = body.charCodeAt(j);
          if (body[j + 1] === '-' && j + 2 < body.length) {
            ranges.push(lo, body.charCodeAt(j + 2));
            j += 2;
          } else {
            ranges.push(lo, lo);
          }
        }
        out.push({ kind: 'char', test: { kind: 'class', negate, ranges } });
      } else {
        out.push({ kind: 'char', test: { kind: 'literal', code: ch.charCodeAt(0) } });
      }
    }
    return out;
  };
  return sequence(0);
}

function passes(test: CharTest, code: number): boolean {
  switch (test.kind) {
    case 'literal':
      return code === test.code;
    case 'notSlash':
      return code !== SLASH;
    case 'any':
      return true;
    case 'class': {
      if (test.negate && code === SLASH) return false;
      let inside = false;
      for (let k = 0; k < test.ranges.length && !inside; k += 2) inside = code >= test.ranges[k]! && code <= test.ranges[k + 1]!;
      return inside !== test.negate;
    }
  }
}

/**
 * A compiled glob: its states (0 = accept), and for each state the character and accept states
 * reachable from it through forks (its epsilon closure, computed once). `prefix` is the literal
 * text every match starts with, checked first (most paths are rejected there). The step buffers
 * are kept with the automaton: matching is synchronous, so one set serves every call.
 */
interface Nfa {
  states: State[];
  closures: Int32Array[];
  start: number;
  prefix: string;
  /** The pattern is plain text: compare strings. */
  literal?: string;
  mark: Int32Array;
  stamp: number;
  current: Int32Array;
  next: Int32Array;
}

function compile(glob: string): Nfa {
  const nodes = parse(glob);
  let prefix = '';
  for (const n of nodes) {
    if (n.kind !== 'char' || n.test.kind !== 'literal') break;
    prefix += String.fromCharCode(n.test.code);
  }
  const states: State[] = [{ kind: 'accept' }];
  const add = (s: State): number => states.push(s) - 1;
  // Built back to front: each node is compiled knowing the state that follows it.
  const build = (seq: readonly Node[], next: number): number => {
    let at = next;
    for (let k = seq.length - 1; k >= 0; k--) {
      const node = seq[k]!;
      if (node.kind === 'char') {
        at = add({ kind: 'char', test: node.test, next: at });
      } else if (node.kind === 'star') {
        const loop = add({ kind: 'fork', next: [] });
        const step = add({ kind: 'char', test: node.test, next: loop });
        (states[loop] as ForkState).next = [step, at];
        at = loop;
      } else {
        const follow = at;
        at = add({ kind: 'fork', next: node.alternatives.map((alt) => build(alt, follow)) });
      }
    }
    return at;
  };
  // The literal prefix is checked as text; the automaton starts after it.
  let prefixNodes = 0;
  while (prefixNodes < nodes.length && nodes[prefixNodes]!.kind === 'char' && (nodes[prefixNodes] as { test: CharTest }).test.kind === 'literal') prefixNodes++;
  const start = build(nodes.slice(prefixNodes), 0);
  const closures = states.map((_, s) => {
    const out: number[] = [];
    const seen = new Set<number>();
    const stack = [s];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const state = states[t]!;
      if (state.kind === 'fork') for (let k = state.next.length - 1; k >= 0; k--) stack.push(state.next[k]!);
      else out.push(t);
    }
    return Int32Array.from(out);
  });
  const size = states.length;
  return {
    states,
    closures,
    start,
    prefix,
    ...(prefix.length === nodes.length ? { literal: prefix } : {}),
    mark: new Int32Array(size),
    stamp: 0,
    current: new Int32Array(size),
    next: new Int32Array(size),
  };
}

/**
 * Runs the NFA over `path`, one code unit at a time, keeping the set of live states (each at most
 * once per step: marked with the step's stamp).
 */
function run(nfa: Nfa, path: string): boolean {
  if (!path.startsWith(nfa.prefix)) return false;
  const { states, closures, mark } = nfa;
  let current = nfa.current;
  let next = nfa.next;
  if (nfa.stamp > 0x3fffffff - path.length - 2) {
    mark.fill(0);
    nfa.stamp = 0;
  }
  let stamp = ++nfa.stamp;
  let count = 0;
  const first = closures[nfa.start]!;
  for (let j = 0; j < first.length; j++) {
    mark[first[j]!] = stamp;
    current[count++] = first[j]!;
  }
  for (let pos = nfa.prefix.length; pos < path.length && count > 0; pos++) {
    const code = path.charCodeAt(pos);
    stamp = ++nfa.stamp;
    let nextCount = 0;
    for (let i = 0; i < count; i++) {
      const state = states[current[i]!]!;
      if (state.kind !== 'char' || !passes(state.test, code)) continue;
      const closure = closures[state.next]!;
      for (let j = 0; j < closure.length; j++) {
        const t = closure[j]!;
        if (mark[t] === stamp) continue;
        mark[t] = stamp;
        next[nextCount++] = t;
      }
    }
    [current, next] = [next, current];
    count = nextCount;
  }
  for (let i = 0; i < count; i++) if (current[i] === 0) return true;
  return false;
}

const cache = new Map<string, Nfa>();
const CACHE_LIMIT = 4096;

/** Whether `path` matches the AppArmor glob `glob`, in time linear in each. */
export function globMatches(glob: string, path: string): boolean {
  let nfa = cache.get(glob);
  if (!nfa) {
    nfa = compile(glob);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(glob, nfa);
  }
  return nfa.literal !== undefined ? nfa.literal === path : run(nfa, path);
}

/** Whether `path` lies in directory `dir` (ending with '/'): the directory itself, a child, or (recursive) any descendant. */
export function inDirectory(dir: string, recursive: boolean, path: string): boolean {
  if (!path.startsWith(dir)) return false;
  if (recursive) return true;
  const rest = path.slice(dir.length);
  // `/dir/{,*}`: the directory itself or one more component (not itself a directory path)
  return !rest.includes('/');
}
