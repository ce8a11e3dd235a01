/**
 * Would these host policies Allow, Audit or Block an event? KubeArmor's host-policy semantics as
 * the renderers enforce them (libs/apparmor `render-profiles.ts`, libs/selinux):
 * - a binary named in some rule's `fromSource` runs under its own rules plus the rules without
 *   fromSource (a fromSource rule with the same target, or a directory rule covering it, wins);
 *   any other program runs under the rules without fromSource only;
 * - Block beats Audit beats Allow among the rules that match; `ownerOnly` Allow rules block other
 *   users, `readOnly` Allow rules match reads only;
 * - a class with Allow rules is an allow-list: what no rule matches gets the posture (default
 *   audit). On AppArmor file and process rules form one class (AppArmor file rules govern exec).
 * Used to check discovered policies against the log they came from, and by the control plane to
 * attribute an alert to the policy that decided it.
 */
import type { HostEvent } from '@kvmservice/auditlog';
import type { HostPolicyRule, NormalizedHostPolicy, PathTarget, PolicyAction } from '@kvmservice/resources';
import { globMatches, inDirectory } from './glob.js';
import { ACCESS_READ, ACCESS_WRITE, readEvent } from './observation.js';
import { sourceOf, type SourceResolver } from './source.js';

export type Posture = 'allow' | 'audit' | 'block';

export interface Postures {
  /** files and processes */
  file: Posture;
  network: Posture;
  capabilities: Posture;
}

export const DEFAULT_POSTURES: Postures = { file: 'audit', network: 'audit', capabilities: 'audit' };

export interface EvaluateOptions {
  postures?: Partial<Postures>;
  /** AppArmor (default): file and process rules are one allow-list; SELinux: two */
  lsm?: 'apparmor' | 'selinux';
  sourceResolver?: SourceResolver;
}

export interface Evaluation {
  decision: PolicyAction;
  /**
   * rule: a rule matched; posture: the class is an allow-list and no rule matched; unrestricted:
   * no rule governs this class for this program; not-mediated: policies cannot speak of this event
   */
  reason: 'rule' | 'posture' | 'unrestricted' | 'not-mediated';
  /** the deciding rule (reason 'rule') */
  rule?: { policy: string; field: string; action: PolicyAction };
  /** the policies whose Allow rules made the class an allow-list (reason 'posture') */
  policies: string[];
  /** the source binary the event was evaluated for */
  source?: string;
}

type MediatedRule = Extract<HostPolicyRule, { class: 'process' | 'file' | 'network' | 'capability' }>;
type Group = 'file' | 'process' | 'network' | 'capability';

function isMediated(r: HostPolicyRule): r is MediatedRule {
  return r.class === 'process' || r.class === 'file' || r.class === 'network' || r.class === 'capability';
}

function ruleKey(r: MediatedRule): string {
  switch (r.class) {
    case 'process':
    case 'file':
      return `${r.class}:${targetKey(r.target)}`;
    case 'network':
      return `network:${r.protocol}`;
    case 'capability':
      return `capability:${r.capability}`;
  }
}

function targetKey(t: PathTarget): string {
  switch (t.kind) {
    case 'path':
      return t.path;
    case 'dir':
      return t.dir;
    case 'pattern':
      return t.pattern;
    case 'execname':
      return `/**/${t.name}`;
  }
}

function targetMatches(t: PathTarget, path: string): boolean {
  switch (t.kind) {
    case 'path':
      return t.path === path;
    case 'dir':
      return inDirectory(t.dir, t.recursive, path);
    case 'pattern':
      return globMatches(t.pattern, path);
    case 'execname':
      return path.endsWith(`/${t.name}`);
  }
}

/** Upstream `checkIfGlobalRuleToBeAdded`: a fromSource directory rule covers global rules under it. */
function coveredByDirectory(global: MediatedRule, own: readonly MediatedRule[]): boolean {
  if (global.class !== 'process' && global.class !== 'file') return false;
  const key = targetKey(global.target);
  return own.some((r) => {
    if (r.class !== global.class || r.target.kind !== 'dir') return false;
    const dir = r.target.dir;
    if (key === dir || !key.startsWith(dir)) return false;
    return r.target.recursive || !key.slice(dir.length).replace(/\/$/, '').includes('/');
  });
}

interface Subject {
  rules: MediatedRule[];
}

/** What an event asks for, in terms rules can match. */
type Request =
  | { group: 'process'; path: string; owner: boolean }
  | { group: 'file'; path: string; access: number; owner: boolean }
  | { group: 'network'; tokens: Set<string> }
  | { group: 'capability'; capability: string };

function requestOf(event: HostEvent): Request | undefined {
  const reading = readEvent(event);
  if ('skip' in reading) return undefined;
  for (const o of reading.observations) {
    switch (o.kind) {
      case 'exec':
        return { group: 'process', path: o.path, owner: ownerOf(event) };
      case 'file':
        return { group: 'file', path: o.path, access: o.access, owner: !o.notOwner };
      case 'capability':
        return { group: 'capability', capability: o.capability };
      case 'protocol': {
        const tokens = new Set<string>([o.protocol, 'all']);
        const n = event.network;
        if (n?.sockType) tokens.add(n.sockType);
        if (n?.family === 'packet') tokens.add('packet');
        return { group: 'network', tokens };
      }
      default:
        break;
    }
  }
  return undefined;
}

function ownerOf(event: HostEvent): boolean {
  const f = event.file;
  return f?.fsuid !== undefined && f.ouid !== undefined && f.fsuid === f.ouid;
}

/** The action a rule takes on a request, or undefined when it does not match. */
function ruleDecision(r: MediatedRule, q: Request): PolicyAction | undefined {
  switch (q.group) {
    case 'process':
      if (r.class !== 'process' || !targetMatches(r.target, q.path)) return undefined;
      if (r.ownerOnly) return r.action === 'Allow' ? (q.owner ? 'Allow' : 'Block') : q.owner ? undefined : r.action;
      return r.action;
    case 'file': {
      if (r.class !== 'file' || !targetMatches(r.target, q.path)) return undefined;
      const reads = (q.access & ~ACCESS_READ) === 0;
      if (r.action === 'Allow') {
        if (r.ownerOnly && !q.owner) return 'Block';
        return r.readOnly && !reads ? undefined : 'Allow';
      }
      if (r.ownerOnly && q.owner) return undefined;
      if (r.readOnly && (q.access & ACCESS_WRITE) === 0) return undefined;
      return r.action;
    }
    case 'network':
      return r.class === 'network' && q.tokens.has(r.protocol) ? r.action : undefined;
    case 'capability':
      return r.class === 'capability' && r.capability === q.capability ? r.action : undefined;
  }
}

const RANK: Record<PolicyAction, number> = { Allow: 0, Audit: 1, Block: 2 };
const POSTURE_ACTION: Record<Posture, PolicyAction> = { allow: 'Allow', audit: 'Audit', block: 'Block' };

/** Policies compiled for repeated evaluation (alert attribution, replaying a log). */
export class HostPolicyEvaluator {
  private readonly global: MediatedRule[];
  private readonly own = new Map<string, MediatedRule[]>();
  private readonly subjects = new Map<string, Subject>();
  private readonly postures: Postures;
  private readonly lsm: 'apparmor' | 'selinux';

  constructor(
    policies: readonly NormalizedHostPolicy[],
    private readonly options: EvaluateOptions = {},
  ) {
    this.postures = { ...DEFAULT_POSTURES, ...options.postures };
    this.lsm = options.lsm ?? 'apparmor';
    const rules = policies.flatMap((p) => p.rules).filter(isMediated);
    this.global = rules.filter((r) => r.fromSource.length === 0);
    for (const r of rules) for (const s of new Set(r.fromSource)) this.own.set(s, [...(this.own.get(s) ?? []), r]);
  }

  private subject(source: string | undefined): Subject {
    const key = source ?? '';
    let s = this.subjects.get(key);
    if (s) return s;
    const own = source !== undefined ? this.own.get(source) : undefined;
    if (!own) s = { rules: this.global };
    else {
      const keys = new Set(own.map(ruleKey));
      s = { rules: [...own, ...this.global.filter((g) => !keys.has(ruleKey(g)) && !coveredByDirectory(g, own))] };
    }
    this.subjects.set(key, s);
    return s;
  }

  private groupOf(c: Group): Group[] {
    if (this.lsm === 'apparmor' && (c === 'file' || c === 'process')) return ['file', 'process'];
    return [c];
  }

  evaluate(event: HostEvent): Evaluation {
    const q = requestOf(event);
    const source = sourceOf(event, this.options.sourceResolver);
    if (!q) return { decision: 'Allow', reason: 'not-mediated', policies: [], ...(source !== undefined ? { source } : {}) };
    const subject = this.subject(source);
    let best: { rule: MediatedRule; action: PolicyAction } | undefined;
    for (const r of subject.rules) {
      const action = ruleDecision(r, q);
      if (action === undefined) continue;
      if (!best || RANK[action] > RANK[best.action]) best = { rule: r, action };
      if (action === 'Block') break;
    }
    const withSource = source !== undefined ? { source } : {};
    if (best) return { decision: best.action, reason: 'rule', rule: { policy: best.rule.policy, field: best.rule.field, action: best.action }, policies: [best.rule.policy], ...withSource };
    const classes = this.groupOf(q.group);
    const allowing = subject.rules.filter((r) => r.action === 'Allow' && classes.includes(r.class));
    if (allowing.length === 0) return { decision: 'Allow', reason: 'unrestricted', policies: [], ...withSource };
    const posture = q.group === 'network' ? this.postures.network : q.group === 'capability' ? this.postures.capabilities : this.postures.file;
    return { decision: POSTURE_ACTION[posture], reason: 'posture', policies: [...new Set(allowing.map((r) => r.policy))].sort(), ...withSource };
  }
}

/** One-off evaluation; build a HostPolicyEvaluator to evaluate many events. */
export function evaluateHostEvent(policies: readonly NormalizedHostPolicy[], event: HostEvent, options: EvaluateOptions = {}): Evaluation {
  return new HostPolicyEvaluator(policies, options).evaluate(event);
}
