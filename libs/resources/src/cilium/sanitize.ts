/**
 * Cilium's `Sanitize()` rules (pkg/policy/api/rule_validation.go) and the host-policy limits
 * (Documentation/security/policy/host.rst), checked before a policy is stored, so that Cilium never
 * silently drops part of a policy we accepted (cilium#44493: an `http` rule in a host policy was
 * accepted, discarded, and left every host port open).
 */
import type { FieldError } from '../validation/field-error.js';
import { cidrContains } from './cidr.js';
import type { CidrRule, CiliumPolicy, CiliumRule, FqdnSelector, PortRule } from './cilium-network-policy.js';
import { CNP_KIND } from './cilium-network-policy.js';

const INGRESS_PEERS = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes'] as const;
const EGRESS_PEERS = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toNodes', 'toFQDNs', 'toServices'] as const;

type Direction = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';
type AnyRule = Record<string, unknown> & { toPorts?: PortRule[]; icmps?: unknown[] };

function present(rule: AnyRule, key: string): boolean {
  const v = rule[key];
  return Array.isArray(v) && v.length > 0;
}

/** The L7 kinds a port rule names; the schema requires exactly one (`oneOf` by key presence). */
function l7Kinds(port: PortRule): string[] {
  const r = port.rules;
  if (!r) return [];
  return (['http', 'kafka', 'dns', 'l7proto'] as const).filter((k) => r[k] !== undefined);
}

function checkFqdnSelectors(selectors: FqdnSelector[] | undefined, field: string, out: FieldError[]): void {
  (selectors ?? []).forEach((sel, i) => {
    if ((sel.matchName === undefined) === (sel.matchPattern === undefined)) {
      out.push({ field: `${field}[${i}]`, reason: 'exactly one of matchName and matchPattern must be set' });
    }
  });
}

function checkCidrSets(sets: CidrRule[] | undefined, field: string, out: FieldError[]): void {
  (sets ?? []).forEach((set, i) => {
    (set.except ?? []).forEach((ex, j) => {
      if (!cidrContains(set.cidr, ex)) out.push({ field: `${field}[${i}].except[${j}]`, reason: `${ex} is not inside ${set.cidr}` });
    });
  });
}

function checkRule(rule: CiliumRule, field: string, hostPolicy: boolean, out: FieldError[]): void {
  const selectors = [rule.nodeSelector, rule.endpointSelector].filter((s) => s !== undefined).length;
  if (selectors !== 1) out.push({ field, reason: 'exactly one of nodeSelector and endpointSelector must be set' });
  const directions: Direction[] = ['ingress', 'ingressDeny', 'egress', 'egressDeny'];
  if (!directions.some((d) => rule[d] !== undefined)) {
    out.push({ field, reason: 'must have at least one of ingress, ingressDeny, egress, egressDeny' });
  }
  for (const direction of directions) {
    const rules = (rule[direction] ?? []) as AnyRule[];
    const peers = direction.startsWith('ingress') ? INGRESS_PEERS : EGRESS_PEERS;
    rules.forEach((r, i) => {
      const at = `${field}.${direction}[${i}]`;
      const used = peers.filter((p) => present(r, p));
      if (used.length > 1) out.push({ field: at, reason: `combining ${used.join(' and ')} in one rule is not supported by Cilium; write one rule per peer kind` });
      if (present(r, 'toServices') && present(r, 'toPorts')) out.push({ field: at, reason: 'toServices cannot be combined with toPorts' });
      if (present(r, 'icmps') && present(r, 'toPorts')) out.push({ field: at, reason: 'icmps and toPorts cannot share a rule; write a separate rule' });
      checkCidrSets(r[direction.startsWith('ingress') ? 'fromCIDRSet' : 'toCIDRSet'] as CidrRule[] | undefined, `${at}.${direction.startsWith('ingress') ? 'fromCIDRSet' : 'toCIDRSet'}`, out);
      checkFqdnSelectors(r.toFQDNs as FqdnSelector[] | undefined, `${at}.toFQDNs`, out);
      (r.toPorts ?? []).forEach((port, j) => checkPortRule(port, `${at}.toPorts[${j}]`, direction, hostPolicy, out));
    });
  }
}

function checkPortRule(port: PortRule, at: string, direction: Direction, hostPolicy: boolean, out: FieldError[]): void {
  (port.ports ?? []).forEach((p, k) => {
    if (p.endPort !== undefined && /^\d+$/.test(p.port) && p.endPort < Number(p.port)) {
      out.push({ field: `${at}.ports[${k}].endPort`, reason: `must not be below port ${p.port}` });
    }
  });
  checkFqdnSelectors(port.rules?.dns, `${at}.rules.dns`, out);
  if (port.rules === undefined) return;
  const kinds = l7Kinds(port);
  if (kinds.length !== 1) {
    out.push({ field: `${at}.rules`, reason: `must have exactly one of http, kafka, dns, l7proto${kinds.length > 1 ? ` (found ${kinds.join(', ')})` : ''}` });
    return;
  }
  if (hostPolicy) {
    const notDns = kinds.filter((k) => k !== 'dns');
    if (notDns.length > 0) {
      out.push({
        field: `${at}.rules.${notDns[0]}`,
        reason: 'host policies (nodeSelector) support only DNS L7 rules; Cilium would drop this rule and open the host (cilium#44493) — use an endpointSelector policy',
      });
    }
  }
  const ports = port.ports ?? [];
  if (ports.length === 0) out.push({ field: `${at}.ports`, reason: 'L7 rules need explicit ports' });
  ports.forEach((p, k) => {
    if (p.port === '0') out.push({ field: `${at}.ports[${k}].port`, reason: 'L7 rules cannot apply to port 0 (all ports)' });
    if (p.endPort !== undefined && p.endPort !== Number(p.port)) out.push({ field: `${at}.ports[${k}].endPort`, reason: 'L7 rules cannot apply to a port range' });
    if (!kinds.includes('dns') && p.protocol !== undefined && p.protocol !== 'TCP' && p.protocol !== 'ANY') {
      out.push({ field: `${at}.ports[${k}].protocol`, reason: `L7 rules other than DNS apply to TCP only, not ${p.protocol}` });
    }
  });
  if (kinds.includes('dns') && !direction.startsWith('egress')) out.push({ field: `${at}.rules.dns`, reason: 'DNS rules are allowed on egress only' });
}

/** Problems Cilium's `Sanitize()` would report, or that would silently weaken a host policy. */
export function ciliumPolicyProblems(policy: CiliumPolicy): FieldError[] {
  const out: FieldError[] = [];
  if (policy.spec === undefined && policy.specs === undefined) out.push({ field: 'spec', reason: 'is required (or specs)' });
  const check = (rule: CiliumRule, field: string) => {
    if (policy.kind === CNP_KIND && rule.nodeSelector !== undefined) {
      out.push({ field: `${field}.nodeSelector`, reason: 'can only be used in a CiliumClusterwideNetworkPolicy' });
    }
    checkRule(rule, field, rule.nodeSelector !== undefined, out);
  };
  if (policy.spec) check(policy.spec, 'spec');
  (policy.specs ?? []).forEach((rule, i) => check(rule, `specs[${i}]`));
  return out;
}
