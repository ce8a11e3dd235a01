/**
 * HTTP rules from observed requests, with upstream's path wildcarding (discovery-engine
 * `httpAggregator.go`): per method, paths form a tree of segments; where a node has more than
 * `threshold` distinct children (upstream: 5), they become one wildcard segment — `[0-9]+` when
 * every child is a number, else `[^/]+` — whose subtree is the union of theirs. Cilium matches
 * `path` as a whole regular expression, so literal segments are escaped.
 */

export interface HttpRule {
  method: string;
  path: string;
}

export const DEFAULT_HTTP_THRESHOLD = 5;

interface Node {
  children: Map<string, Node>;
  /** a request path ends here */
  end: boolean;
  /** some request ending here had a query string */
  query: boolean;
  /** the segment is a regex (a wildcard), not literal text */
  wildcard: boolean;
}

const newNode = (wildcard = false): Node => ({ children: new Map(), end: false, query: false, wildcard });

function mergeInto(into: Node, from: Node): void {
  into.end ||= from.end;
  into.query ||= from.query;
  for (const [seg, child] of from.children) {
    const mine = into.children.get(seg);
    if (mine) mergeInto(mine, child);
    else into.children.set(seg, child);
  }
}

function aggregate(node: Node, threshold: number): void {
  if (node.children.size > threshold) {
    const segs = [...node.children.keys()];
    const numeric = segs.every((s) => /^[0-9]+$/.test(s));
    const merged = newNode(true);
    for (const child of node.children.values()) mergeInto(merged, child);
    // keyed apart from literal segments, which never contain NUL
    node.children = new Map([[numeric ? '\u0000[0-9]+' : '\u0000[^/]+', merged]]);
  }
  for (const child of node.children.values()) aggregate(child, threshold);
}

const escapeRegex = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

function render(node: Node, prefix: string, out: string[]): void {
  if (node.end) out.push(`${prefix === '' ? '/' : prefix}${node.query ? '(\\?.*)?' : ''}`);
  for (const [seg, child] of node.children) render(child, `${prefix}/${child.wildcard ? seg.slice(1) : escapeRegex(seg)}`, out);
}

/**
 * Cilium HTTP rules for requests given as `METHOD /path` (a trailing `?` marks requests that had a
 * query string), sorted by method and path.
 */
export function httpRules(requests: Iterable<string>, threshold = DEFAULT_HTTP_THRESHOLD): HttpRule[] {
  const byMethod = new Map<string, Node>();
  for (const r of requests) {
    const space = r.indexOf(' ');
    if (space <= 0) continue;
    const method = r.slice(0, space);
    let path = r.slice(space + 1);
    const query = path.endsWith('?');
    if (query) path = path.slice(0, -1);
    if (!path.startsWith('/')) continue;
    let node: Node | undefined = byMethod.get(method);
    if (!node) byMethod.set(method, (node = newNode()));
    const segs = path === '/' ? [] : path.slice(1).split('/');
    for (const seg of segs) {
      let next: Node | undefined = node.children.get(seg);
      if (!next) node.children.set(seg, (next = newNode()));
      node = next;
    }
    node.end = true;
    node.query ||= query;
  }
  const out: HttpRule[] = [];
  for (const method of [...byMethod.keys()].sort()) {
    const root = byMethod.get(method)!;
    aggregate(root, threshold);
    const paths: string[] = [];
    render(root, '', paths);
    for (const path of [...new Set(paths)].sort()) out.push({ method, path });
  }
  return out;
}
