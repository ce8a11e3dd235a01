/**
 * KubeArmorHostPolicy objects from a host model: Allow rules for what each binary did — exec'd
 * programs (process), files (readOnly where only reads were seen, ownerOnly where every access
 * was the owner's), network protocols and capabilities, each with `fromSource` — one policy per
 * binary, or one per host with identical rules of several binaries merged into one rule with
 * several `fromSource` entries. Output is sorted and named stably; it validates with
 * `validateResource` and renders with `renderAppArmorProfiles` / `renderSelinuxModule` after
 * `normalizeHostPolicy`.
 */
import { HOST_POLICY_API_VERSION, HOST_POLICY_KIND, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { aggregatePaths, type AggregatedDirectory, type AggregatedPath, type PathFacts } from './aggregate-paths.js';
import type { HostModel, Seen, SourceModel } from './model.js';
import { hostPolicyName } from './names.js';

export type Lsm = 'apparmor' | 'selinux';

export interface HostPolicyOptions {
  /** 'binary' (default): one policy per source binary; 'host': one policy for the host (`--single`) */
  policyPer?: 'binary' | 'host';
  /**
   * false: rules without fromSource (upstream's "without fromSource" test cases): one policy for the
   * host whose file and process rules apply to every program. Network and capability rules keep
   * fromSource (the CRD requires it). Default true.
   */
  fromSource?: boolean;
  /** only these binaries (learning mode for chosen programs); default all */
  sources?: readonly string[];
  /** a directory with more than this many distinct children becomes a recursive rule (upstream: 3) */
  directoryThreshold?: number;
  /** every path under these becomes the directory (recursive); default /proc/, /sys/, /tmp/ (upstream) */
  collapseRoots?: readonly string[];
  /** directories the threshold never widens into a rule; default DEFAULT_NEVER_COLLAPSE */
  neverCollapse?: readonly string[];
  /** the host's LSM: SELinux cannot express ownerOnly or a rule on `/`. Default: the enforcer most events came from */
  lsm?: Lsm;
  /** emit ownerOnly where every access was the file owner's (aa-logprof's `owner`). Default: true on AppArmor, false on SELinux */
  ownerOnly?: boolean;
  /** include what the LSM only ever blocked (default true: a learning run in enforce mode still shows what the program needs) */
  includeBlocked?: boolean;
  /** severity of the generated policies (upstream discovery: 1) */
  severity?: number;
}

export const DEFAULT_COLLAPSE_ROOTS: readonly string[] = ['/proc/', '/sys/', '/tmp/'];
export const DEFAULT_NEVER_COLLAPSE: readonly string[] = ['/', '/etc/', '/home/', '/root/', '/boot/', '/usr/', '/var/', '/run/', '/dev/', '/opt/', '/srv/', '/mnt/', '/media/'];
export const DEFAULT_DIRECTORY_THRESHOLD = 3;

/** What was left out of the policies, and why. */
export interface HostPolicyNotes {
  /** entries of events without a source binary (they need fromSource: false) */
  unattributedEntries: number;
  /** entries whose every observation was blocked, left out because includeBlocked is false */
  blockedEntries: number;
  /** rules SELinux cannot express that were left out (a rule on the root directory) */
  selinuxOmitted: string[];
  /** binaries with observations but no rule (everything they did was left out) */
  emptySources: string[];
}

export interface HostPolicyResult {
  policies: KubeArmorHostPolicy[];
  notes: HostPolicyNotes;
}

type Source = { path: string };

interface RuleSet {
  processPaths: Map<string, Set<string>>;
  processDirs: Map<string, Set<string>>;
  /** key: JSON of the rule without fromSource */
  filePaths: Map<string, { rule: AggregatedPath; sources: Set<string> }>;
  fileDirs: Map<string, { rule: AggregatedDirectory; sources: Set<string> }>;
  protocols: Map<string, Set<string>>;
  capabilities: Map<string, Set<string>>;
}

const newRuleSet = (): RuleSet => ({
  processPaths: new Map(),
  processDirs: new Map(),
  filePaths: new Map(),
  fileDirs: new Map(),
  protocols: new Map(),
  capabilities: new Map(),
});

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The LSM most of the model's events came from (SELinux when it wins, else AppArmor). */
export function modelLsm(model: HostModel): Lsm {
  const e = model.stats.enforcers;
  return (e.SELinux ?? 0) > (e.AppArmor ?? 0) ? 'selinux' : 'apparmor';
}

function addTo(map: Map<string, Set<string>>, key: string, source: string): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  if (source !== '') s.add(source);
}

function sourcesList(set: Set<string>): Source[] | undefined {
  return set.size === 0 ? undefined : [...set].sort(cmp).map((path) => ({ path }));
}

interface Resolved {
  threshold: number;
  collapseRoots: readonly string[];
  neverCollapse: ReadonlySet<string>;
  ownerOnly: boolean;
  includeBlocked: boolean;
  lsm: Lsm;
}

function kept(s: Seen, o: Resolved, notes: HostPolicyNotes): boolean {
  if (o.includeBlocked || s.blocked < s.count) return true;
  notes.blockedEntries++;
  return false;
}

/** The file and exec observations of some sources, folded together (blocked-only entries dropped unless wanted). */
function collect(srcs: readonly SourceModel[], o: Resolved, notes: HostPolicyNotes): { files: Map<string, PathFacts>; exec: Map<string, PathFacts> } {
  const files = new Map<string, PathFacts>();
  const exec = new Map<string, PathFacts>();
  for (const src of srcs) {
    for (const [path, f] of src.files) {
      if (!kept(f, o, notes)) continue;
      const prev = files.get(path);
      files.set(path, prev ? { access: prev.access | f.access, notOwner: prev.notOwner || f.notOwner } : { access: f.access, notOwner: f.notOwner });
    }
    for (const [path, e] of src.exec) if (kept(e, o, notes)) exec.set(path, { access: 0, notOwner: true });
  }
  return { files, exec };
}

/** Adds aggregated process and file rules of observations to `rules`, with `source` as fromSource ('' for none). */
function addPaths(rules: RuleSet, observed: { files: Map<string, PathFacts>; exec: Map<string, PathFacts> }, source: string, o: Resolved, notes: HostPolicyNotes): void {
  const agg = { threshold: o.threshold, collapseRoots: o.collapseRoots, neverCollapse: o.neverCollapse, maxPathLength: 200 };
  const fileRules = aggregatePaths(observed.files, { ...agg, ownerOnly: o.ownerOnly });
  const execRules = aggregatePaths(observed.exec, { ...agg, collapseRoots: [], ownerOnly: false });
  for (const p of execRules.paths) addTo(rules.processPaths, p.path, source);
  for (const d of execRules.dirs) addTo(rules.processDirs, d.dir, source);
  for (const p of fileRules.paths) {
    const key = JSON.stringify(p);
    const entry = rules.filePaths.get(key) ?? { rule: p, sources: new Set<string>() };
    if (source !== '') entry.sources.add(source);
    rules.filePaths.set(key, entry);
  }
  for (const d of fileRules.dirs) {
    if (o.lsm === 'selinux' && d.dir === '/') {
      notes.selinuxOmitted.push(`${source || '(all programs)'}: a rule on the root directory "/" (SELinux would relabel the whole file system)`);
      continue;
    }
    const key = JSON.stringify(d);
    const entry = rules.fileDirs.get(key) ?? { rule: d, sources: new Set<string>() };
    if (source !== '') entry.sources.add(source);
    rules.fileDirs.set(key, entry);
  }
}

/** Adds the protocol and capability rules of one source (these always carry fromSource). */
function addNetworkAndCapabilities(rules: RuleSet, src: SourceModel, source: string, o: Resolved, notes: HostPolicyNotes): void {
  if (source === '') return;
  for (const [p, s] of src.protocols) if (kept(s, o, notes)) addTo(rules.protocols, p, source);
  for (const [c, s] of src.capabilities) if (kept(s, o, notes)) addTo(rules.capabilities, c, source);
}

function isEmpty(r: RuleSet): boolean {
  return [r.processPaths, r.processDirs, r.filePaths, r.fileDirs, r.protocols, r.capabilities].every((m) => m.size === 0);
}

function toPolicy(name: string, host: string, rules: RuleSet, severity: number, annotations?: Record<string, string>): KubeArmorHostPolicy {
  const spec: KubeArmorHostPolicy['spec'] = { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': host } }, severity, action: 'Allow' };
  const processPaths = [...rules.processPaths].sort(([a], [b]) => cmp(a, b)).map(([path, s]) => ({ path, ...(sourcesList(s) ? { fromSource: sourcesList(s) } : {}) }));
  const processDirs = [...rules.processDirs]
    .sort(([a], [b]) => cmp(a, b))
    .map(([dir, s]) => ({ dir, recursive: true, ...(sourcesList(s) ? { fromSource: sourcesList(s) } : {}) }));
  if (processPaths.length || processDirs.length) {
    spec.process = {};
    if (processPaths.length) spec.process.matchPaths = processPaths;
    if (processDirs.length) spec.process.matchDirectories = processDirs;
  }
  const flags = (r: { readOnly: boolean; ownerOnly: boolean }) => ({ ...(r.readOnly ? { readOnly: true } : {}), ...(r.ownerOnly ? { ownerOnly: true } : {}) });
  const filePaths = [...rules.filePaths.values()]
    .sort((a, b) => cmp(a.rule.path, b.rule.path) || cmp(JSON.stringify(a.rule), JSON.stringify(b.rule)))
    .map(({ rule, sources }) => ({ path: rule.path, ...flags(rule), ...(sourcesList(sources) ? { fromSource: sourcesList(sources) } : {}) }));
  const fileDirs = [...rules.fileDirs.values()]
    .sort((a, b) => cmp(a.rule.dir, b.rule.dir) || cmp(JSON.stringify(a.rule), JSON.stringify(b.rule)))
    .map(({ rule, sources }) => ({
      dir: rule.dir,
      ...(rule.recursive ? { recursive: true } : {}),
      ...flags(rule),
      ...(sourcesList(sources) ? { fromSource: sourcesList(sources) } : {}),
    }));
  if (filePaths.length || fileDirs.length) {
    spec.file = {};
    if (filePaths.length) spec.file.matchPaths = filePaths;
    if (fileDirs.length) spec.file.matchDirectories = fileDirs;
  }
  const protocols = [...rules.protocols].filter(([, s]) => s.size > 0).sort(([a], [b]) => cmp(a, b));
  if (protocols.length) spec.network = { matchProtocols: protocols.map(([protocol, s]) => ({ protocol, fromSource: sourcesList(s)! })) };
  const caps = [...rules.capabilities].filter(([, s]) => s.size > 0).sort(([a], [b]) => cmp(a, b));
  if (caps.length) spec.capabilities = { matchCapabilities: caps.map(([capability, s]) => ({ capability, fromSource: sourcesList(s)! })) };
  return {
    apiVersion: HOST_POLICY_API_VERSION,
    kind: HOST_POLICY_KIND,
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec,
  };
}

/** Annotation naming the binary a per-binary policy was discovered for. */
export const SOURCE_ANNOTATION = 'discovery.kvmservice.io/source';

/** KubeArmorHostPolicy objects for what the model saw. Pure; the same model and options give the same output. */
export function discoverHostPolicies(model: HostModel, options: HostPolicyOptions = {}): HostPolicyResult {
  const lsm = options.lsm ?? modelLsm(model);
  const o: Resolved = {
    threshold: Math.max(0, Math.floor(options.directoryThreshold ?? DEFAULT_DIRECTORY_THRESHOLD)),
    collapseRoots: options.collapseRoots ?? DEFAULT_COLLAPSE_ROOTS,
    neverCollapse: new Set(options.neverCollapse ?? DEFAULT_NEVER_COLLAPSE),
    ownerOnly: lsm === 'selinux' ? false : (options.ownerOnly ?? true),
    includeBlocked: options.includeBlocked ?? true,
    lsm,
  };
  const severity = options.severity ?? 1;
  const notes: HostPolicyNotes = { unattributedEntries: 0, blockedEntries: 0, selinuxOmitted: [], emptySources: [] };
  const wanted = options.sources ? new Set(options.sources) : undefined;
  const fromSource = options.fromSource ?? true;
  const sources = [...model.sources].filter(([path]) => !wanted || wanted.has(path)).sort(([a], [b]) => cmp(a, b));
  const entriesOf = (s: SourceModel) => s.exec.size + s.files.size + s.protocols.size + s.capabilities.size;

  const policies: KubeArmorHostPolicy[] = [];
  if (!fromSource) {
    // one tree for every program: the rules apply to all of them
    const rules = newRuleSet();
    addPaths(rules, collect(sources.map(([, src]) => src), o, notes), '', o, notes);
    for (const [path, src] of sources) addNetworkAndCapabilities(rules, src, path, o, notes);
    if (!isEmpty(rules)) policies.push(toPolicy(hostPolicyName(model.host, undefined), model.host, rules, severity));
  } else if (options.policyPer === 'host') {
    const rules = newRuleSet();
    for (const [path, src] of sources) {
      if (path === '') {
        notes.unattributedEntries += entriesOf(src);
        continue;
      }
      addPaths(rules, collect([src], o, notes), path, o, notes);
      addNetworkAndCapabilities(rules, src, path, o, notes);
    }
    if (!isEmpty(rules)) policies.push(toPolicy(hostPolicyName(model.host, undefined), model.host, rules, severity));
  } else {
    for (const [path, src] of sources) {
      if (path === '') {
        notes.unattributedEntries += entriesOf(src);
        continue;
      }
      const rules = newRuleSet();
      addPaths(rules, collect([src], o, notes), path, o, notes);
      addNetworkAndCapabilities(rules, src, path, o, notes);
      if (isEmpty(rules)) {
        if (entriesOf(src) > 0) notes.emptySources.push(path);
        continue;
      }
      policies.push(toPolicy(hostPolicyName(model.host, path), model.host, rules, severity, { [SOURCE_ANNOTATION]: path }));
    }
  }
  policies.sort((a, b) => cmp(a.metadata.name, b.metadata.name));
  return { policies, notes };
}
