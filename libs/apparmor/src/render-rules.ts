/**
 * From normalised host-policy rules to the rules AppArmor can express. Everything AppArmor cannot
 * express (syscalls, devices, DNS, protocols its parser has no name for, argument and terminal
 * matching, unsafe text from an unvalidated caller) is reported with the policy and field.
 */
import { CAPABILITIES, type HostPolicyRule, type NormalizedHostPolicy, type PolicyAction } from '@kvmservice/resources';
import { literalAare, targetAare, targetKey, type Aare } from './render-text.js';
import type { UnenforceableRule } from './render-types.js';

export interface Origin {
  policy: string;
  field: string;
}

interface RuleCommon {
  action: PolicyAction;
  /** Source binaries (raw paths); empty = every process on the host (the dispatcher). */
  sources: string[];
  /** Upstream's rule-map key: a fromSource rule with the same key overrides a global rule. */
  key: string;
  origin: Origin;
}

export interface PathRule extends RuleCommon {
  class: 'process' | 'file';
  aare: Aare;
  /** Set for matchDirectories (raw directory, ends with '/'). */
  dir?: { path: string; recursive: boolean };
  readOnly: boolean;
  ownerOnly: boolean;
}

export interface NetworkRenderRule extends RuleCommon {
  class: 'network';
  /** AppArmor's word for the protocol or socket type; '' = every network access (`all`). */
  token: string;
}

export interface CapabilityRenderRule extends RuleCommon {
  class: 'capability';
  capability: string;
}

export type RenderRule = PathRule | NetworkRenderRule | CapabilityRenderRule;

/** KubeArmor protocol → AppArmor 3.0 network rule word. */
const NETWORK_TOKENS: Record<string, string> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  raw: 'raw',
  stream: 'stream',
  dgram: 'dgram',
  rdm: 'rdm',
  seqpacket: 'seqpacket',
  packet: 'packet',
  all: '',
};

/** Protocols the policy language has and apparmor_parser 3.0 cannot name (`Invalid network entry`). */
const UNNAMED_PROTOCOLS: Record<string, string> = {
  icmpv6: 'AppArmor 3.0 has no name for ICMPv6 (upstream renders it as "icmp", which matches IPv4 ICMP instead)',
  sctp: 'AppArmor 3.0 has no name for the SCTP protocol',
  dccp: 'AppArmor 3.0 has no name for the DCCP protocol',
};

const KNOWN_CAPABILITIES = new Set<string>(CAPABILITIES);

export interface ConvertedPolicy {
  rules: RenderRule[];
  unenforceable: UnenforceableRule[];
}

/** Checks every fromSource path; a rule whose sources are all unusable is refused whole. */
function usableSources(rule: { fromSource: string[] }, origin: Origin, out: UnenforceableRule[]): string[] | undefined {
  const good: string[] = [];
  rule.fromSource.forEach((source, i) => {
    const aare = literalAare(source);
    if ('error' in aare) out.push({ ...origin, field: `${origin.field}.fromSource[${i}].path`, reason: `refused: ${aare.error}` });
    else if (source.endsWith('/')) out.push({ ...origin, field: `${origin.field}.fromSource[${i}].path`, reason: "refused: a source is a binary, not a directory ending with '/'" });
    else good.push(source);
  });
  if (rule.fromSource.length > 0 && good.length === 0) return undefined;
  return [...new Set(good)].sort();
}

function convertRule(rule: HostPolicyRule, out: UnenforceableRule[]): RenderRule | undefined {
  const origin: Origin = { policy: rule.policy, field: rule.field };
  const report = (reason: string, field = rule.field) => out.push({ policy: rule.policy, field, reason });
  switch (rule.class) {
    case 'syscall':
      report('AppArmor cannot mediate individual system calls; the agent audits them with Linux audit rules');
      return undefined;
    case 'device':
      report('AppArmor cannot mediate USB devices');
      return undefined;
    case 'dns':
      report('AppArmor cannot match DNS queries; use a CiliumClusterwideNetworkPolicy with DNS rules');
      return undefined;
    case 'network': {
      const unnamed = UNNAMED_PROTOCOLS[rule.protocol];
      if (unnamed) return void report(unnamed);
      const token = NETWORK_TOKENS[rule.protocol];
      if (token === undefined) return void report(`refused: unknown protocol ${JSON.stringify(rule.protocol)}`);
      const sources = usableSources(rule, origin, out);
      if (!sources) return undefined;
      return { class: 'network', action: rule.action, sources, key: rule.protocol, origin, token };
    }
    case 'capability': {
      if (!KNOWN_CAPABILITIES.has(rule.capability)) return void report(`refused: unknown capability ${JSON.stringify(rule.capability)}`);
      const sources = usableSources(rule, origin, out);
      if (!sources) return undefined;
      return { class: 'capability', action: rule.action, sources, key: rule.capability, origin, capability: rule.capability };
    }
    case 'process':
    case 'file': {
      const aare = targetAare(rule.target);
      if ('error' in aare) {
        const leaf = { path: 'path', execname: 'execname', dir: 'dir', pattern: 'pattern' }[rule.target.kind];
        return void report(`refused: ${aare.error}`, `${rule.field}.${leaf}`);
      }
      const sources = usableSources(rule, origin, out);
      if (!sources) return undefined;
      if (rule.pts) report('AppArmor cannot tell whether a process runs on a terminal; the rule applies to every process', `${rule.field}.pts`);
      if (rule.class === 'process' && rule.allowedArgs.length > 0) {
        report('AppArmor cannot match arguments; the rule applies to every argument list', `${rule.field}.allowedArgs`);
      }
      return {
        class: rule.class,
        action: rule.action,
        sources,
        key: targetKey(rule.target),
        origin,
        aare,
        ...(rule.target.kind === 'dir' ? { dir: { path: rule.target.dir, recursive: rule.target.recursive } } : {}),
        readOnly: rule.class === 'file' ? rule.readOnly : false,
        ownerOnly: rule.ownerOnly,
      };
    }
  }
}

/** Converts one policy; rules keep the order they were written in. */
export function convertPolicy(policy: NormalizedHostPolicy): ConvertedPolicy {
  const unenforceable: UnenforceableRule[] = [];
  const rules: RenderRule[] = [];
  for (const rule of policy.rules) {
    const converted = convertRule(rule, unenforceable);
    if (converted) rules.push(converted);
  }
  return { rules, unenforceable };
}
