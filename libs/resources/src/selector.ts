/**
 * Which hosts a policy selects.
 *
 * Host policies (`spec.nodeSelector.matchLabels`) select a host when EVERY pair holds
 * (intersection; upstream kvm-service used a union, which selected hosts that matched one label
 * of several). Upstream's special forms are kept and apply to any key, since `*` and `,` are not
 * valid in Kubernetes label values and so cannot be meant literally:
 * - `key: "*"`        the host has the label, with any value;
 * - `key: "a,b"`      the host's value is one of the list;
 * - `kubearmor.io/hostnamereg: glob`  the host name matches the glob (`*` = any characters, anchored).
 * An empty selector selects nothing (upstream `MatchIdentities`).
 *
 * Cilium policies use Kubernetes label selectors (`matchLabels` + `matchExpressions`); there an
 * empty selector selects every host.
 */

export const HOSTNAME_LABEL = 'kubearmor.io/hostname';
export const HOSTNAME_REGEX_LABEL = 'kubearmor.io/hostnamereg';
/** Also set on every host so that upstream examples written for Kubernetes nodes select by name. */
export const K8S_HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** A host's labels plus the built-in name labels. */
export function hostLabels(name: string, labels: Record<string, string> | undefined): Record<string, string> {
  return { ...(labels ?? {}), [HOSTNAME_LABEL]: name, [K8S_HOSTNAME_LABEL]: name };
}

/**
 * Whether `text` matches `glob` (`*` = any characters, anchored), in O(|glob|·|text|) at worst: a
 * regular expression built from a selector would backtrack exponentially on `*a*a*a…`.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] !== '*' && glob[g] === text[t]) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      mark = t;
    } else if (star >= 0) {
      g = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

function valueMatches(wanted: string, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  if (wanted === '*') return true;
  if (wanted.includes(',')) return wanted.split(',').some((v) => v.trim() === actual);
  return wanted === actual;
}

/** `matches(policy, host)` for KubeArmorHostPolicy `nodeSelector.matchLabels`. */
export function hostSelectorMatches(matchLabels: Record<string, string>, labels: Record<string, string>): boolean {
  const pairs = Object.entries(matchLabels);
  if (pairs.length === 0) return false;
  return pairs.every(([key, wanted]) => {
    if (key === HOSTNAME_REGEX_LABEL) {
      const host = labels[HOSTNAME_LABEL];
      return host !== undefined && globMatches(wanted, host);
    }
    return valueMatches(wanted, labels[key]);
  });
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Kubernetes label-selector semantics (an empty selector selects everything). */
export function labelSelectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Parses a kubectl-style `-l` selector: `a=b,c!=d,e,!f,g in (x,y),h notin (z)`. */
export function parseLabelSelector(text: string): LabelSelector | { error: string } {
  const selector: Required<LabelSelector> = { matchLabels: {}, matchExpressions: [] };
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts.map((p) => p.trim()).filter((p) => p !== '')) {
    let m: RegExpMatchArray | null;
    if ((m = raw.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      selector.matchExpressions.push({ key: m[1]!, operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = raw.match(/^([^\s!=]+)\s*!=\s*([^\s!=]*)$/))) {
      selector.matchExpressions.push({ key: m[1]!, operator: 'NotIn', values: [m[2]!] });
    } else if ((m = raw.match(/^([^\s!=]+)\s*==?\s*([^\s!=]*)$/))) {
      selector.matchLabels[m[1]!] = m[2]!;
    } else if ((m = raw.match(/^!([^\s!=]+)$/))) {
      selector.matchExpressions.push({ key: m[1]!, operator: 'DoesNotExist' });
    } else if ((m = raw.match(/^([^\s!=()]+)$/))) {
      selector.matchExpressions.push({ key: m[1]!, operator: 'Exists' });
    } else {
      return { error: `invalid label selector term ${JSON.stringify(raw)}` };
    }
  }
  return selector;
}
