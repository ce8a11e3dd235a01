/**
 * Upstream's path aggregation (discovery-engine `pathAggregator.go`), configurable: observed paths
 * form a tree; a directory with more than `threshold` distinct children becomes one recursive
 * directory rule; paths under a collapse root (`/proc/`, `/sys/`, `/tmp/`) become that root.
 * Directories named in `neverCollapse` (default: `/`, `/etc/`, `/home/` … ) are never widened into
 * a rule: a program reading five files of /etc must not be granted /etc/shadow. Per-process
 * /proc paths (`/proc/*\/…` in the model) always become `/proc/`: KubeArmor cannot name them otherwise.
 */
import { ACCESS_READ } from './observation.js';

export interface PathFacts {
  /** ACCESS_* bits; 0 for exec observations */
  access: number;
  notOwner: boolean;
}

export interface AggregationOptions {
  /** a directory with more than this many distinct children becomes a recursive rule (upstream: 3) */
  threshold: number;
  /** every path under one of these directories becomes that directory (recursive) */
  collapseRoots: readonly string[];
  /** directories never turned into a rule by the threshold */
  neverCollapse: ReadonlySet<string>;
  /** emit ownerOnly where every access was by the file's owner */
  ownerOnly: boolean;
  /** longest path a matchPaths item may hold (the CRD's 200); longer ones are covered by their directory */
  maxPathLength: number;
}

export interface AggregatedPath {
  path: string;
  readOnly: boolean;
  ownerOnly: boolean;
}

export interface AggregatedDirectory {
  dir: string;
  recursive: boolean;
  readOnly: boolean;
  ownerOnly: boolean;
}

export interface Aggregated {
  paths: AggregatedPath[];
  dirs: AggregatedDirectory[];
}

interface Node {
  /** directory path ending in '/' */
  dir: string;
  children: Map<string, Node>;
  /** files directly in this directory */
  files: Map<string, PathFacts>;
  /** the directory itself was accessed (a path ending in '/') */
  self?: PathFacts;
}

const newNode = (dir: string): Node => ({ dir, children: new Map(), files: new Map() });

function combine(a: PathFacts | undefined, b: PathFacts): PathFacts {
  return a ? { access: a.access | b.access, notOwner: a.notOwner || b.notOwner } : { ...b };
}

function insert(root: Node, path: string, facts: PathFacts): void {
  const parts = path.split('/');
  const isDir = path.endsWith('/');
  // parts[0] is '' (leading '/'); for a directory the last part is '' too
  const dirParts = isDir ? parts.slice(1, -1) : parts.slice(1, -1);
  let node = root;
  for (const p of dirParts) {
    let next = node.children.get(p);
    if (!next) {
      next = newNode(`${node.dir}${p}/`);
      node.children.set(p, next);
    }
    node = next;
  }
  if (isDir) node.self = combine(node.self, facts);
  else {
    const name = parts[parts.length - 1]!;
    node.files.set(name, combine(node.files.get(name), facts));
  }
}

/** Everything observed under a node, folded into one set of facts. */
function fold(node: Node, acc: PathFacts | undefined): PathFacts | undefined {
  let out = acc;
  if (node.self) out = combine(out, node.self);
  for (const f of node.files.values()) out = combine(out, f);
  for (const c of node.children.values()) out = fold(c, out);
  return out;
}

const readOnly = (f: PathFacts) => (f.access & ~ACCESS_READ) === 0;

/** Aggregates observed paths (files, or exec'd binaries) into paths and directory rules. */
export function aggregatePaths(observed: ReadonlyMap<string, PathFacts>, options: AggregationOptions): Aggregated {
  const out: Aggregated = { paths: [], dirs: [] };
  const collapsed = new Map<string, PathFacts>();
  const root = newNode('/');
  for (const [path, facts] of observed) {
    // per-process /proc paths (kept as /proc/*/…) have no literal form a rule can name
    const collapseRoot = path.startsWith('/proc/*') ? '/proc/' : options.collapseRoots.find((r) => path.startsWith(r));
    if (collapseRoot !== undefined) {
      collapsed.set(collapseRoot, combine(collapsed.get(collapseRoot), facts));
      continue;
    }
    if (!path.endsWith('/') && path.length > options.maxPathLength) {
      // too long for matchPaths: its directory (children only) covers it
      insert(root, path.slice(0, path.lastIndexOf('/') + 1), facts);
      continue;
    }
    insert(root, path, facts);
  }
  const dirRule = (dir: string, recursive: boolean, f: PathFacts): AggregatedDirectory => ({
    dir,
    recursive,
    readOnly: readOnly(f),
    ownerOnly: options.ownerOnly && !f.notOwner,
  });
  for (const [dir, facts] of collapsed) out.dirs.push(dirRule(dir, true, facts));

  const walk = (node: Node) => {
    const distinct = node.children.size + node.files.size;
    if (distinct > options.threshold && !options.neverCollapse.has(node.dir) && node.dir !== '/') {
      const f = fold(node, undefined);
      if (f) out.dirs.push(dirRule(node.dir, true, f));
      return;
    }
    if (node.self) out.dirs.push(dirRule(node.dir, false, node.self));
    for (const [name, f] of node.files) out.paths.push({ path: `${node.dir}${name}`, readOnly: readOnly(f), ownerOnly: options.ownerOnly && !f.notOwner });
    for (const c of node.children.values()) walk(c);
  };
  walk(root);
  // a directory collapsed into a collapse root or another recursive rule adds nothing
  const recursive = out.dirs.filter((d) => d.recursive).map((d) => d.dir);
  const covered = (p: string, self: string) => recursive.some((r) => r !== self && p.startsWith(r));
  out.dirs = out.dirs.filter((d) => !covered(d.dir, d.dir));
  out.paths = out.paths.filter((p) => !covered(p.path, ''));
  out.dirs.sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
  out.paths.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}
