/**
 * Cilium network policies (cilium.io/v2) as KVMService accepts them:
 * - CiliumClusterwideNetworkPolicy with `nodeSelector` = a host firewall policy: L3/L4 and DNS L7 only;
 * - CiliumClusterwideNetworkPolicy or CiliumNetworkPolicy with `endpointSelector` = a workload
 *   policy (discovery puts L7 HTTP rules there).
 * Field constraints are those of the Cilium 1.18 CRD schema or stricter; fields KVMService does not
 * support (authentication, fromGroups, fromRequires, listener, TLS …) are unknown fields. Cilium's
 * own `Sanitize()` rules are applied by `ciliumPolicyProblems`.
 */
import { ObjectMeta } from '../meta.js';
import {
  Bool,
  Check,
  IntRange,
  MaxLen,
  Nested,
  NestedList,
  OneOf,
  Optional,
  Pattern,
  Str,
  StringList,
  StringMap,
} from '../validation/decorators.js';
import { isPlainObject } from '../virtualmachine/kubearmor-virtual-machine.js';
import { quoteValue } from '../validation/field-error.js';
import { isCidr } from './cidr.js';

export const CILIUM_API_VERSION = 'cilium.io/v2';
export const CCNP_KIND = 'CiliumClusterwideNetworkPolicy';
export const CNP_KIND = 'CiliumNetworkPolicy';

export const ENTITIES = ['all', 'world', 'cluster', 'host', 'init', 'ingress', 'unmanaged', 'remote-node', 'health', 'none', 'kube-apiserver'] as const;
export const PORT_PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ANY'] as const;

const SELECTOR_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Stricter than the schema (which anchors only one side of each alternative): a port number or an IANA name. */
const PORT_RE = /^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})$|^(?=.{1,15}$)([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$/;
// The schema's `^([-a-zA-Z0-9_]+[.]?)+$` (and the pattern variant), without its exponential backtracking.
const FQDN_NAME_RE = /^[-a-zA-Z0-9_]+(\.[-a-zA-Z0-9_]+)*\.?$/;
const FQDN_PATTERN_RE = /^[-a-zA-Z0-9_*]+(\.[-a-zA-Z0-9_*]+)*\.?$/;
const ICMP_TYPE_NAMES = [
  'EchoReply', 'DestinationUnreachable', 'Redirect', 'Echo', 'RouterAdvertisement', 'RouterSelection', 'TimeExceeded',
  'ParameterProblem', 'Timestamp', 'TimestampReply', 'Photuris', 'ExtendedEchoRequest', 'ExtendedEcho Reply',
  'PacketTooBig', 'EchoRequest', 'MulticastListenerQuery', 'MulticastListenerReport', 'MulticastListenerDone',
  'RouterSolicitation', 'NeighborSolicitation', 'NeighborAdvertisement', 'RedirectMessage', 'RouterRenumbering',
  'ICMPNodeInformationQuery', 'ICMPNodeInformationResponse', 'InverseNeighborDiscoverySolicitation',
  'InverseNeighborDiscoveryAdvertisement', 'HomeAgentAddressDiscoveryRequest', 'HomeAgentAddressDiscoveryReply',
  'MobilePrefixSolicitation', 'MobilePrefixAdvertisement', 'DuplicateAddressRequestCodeSuffix',
  'DuplicateAddressConfirmationCodeSuffix',
];

const Cidr = () => Check('cidr', (v) => typeof v === 'string' && isCidr(v), (v) => `must be a CIDR such as 10.0.0.0/8 or fd00::/64 (got ${quoteValue(v)})`);
const CidrList = () =>
  Check('cidrList', (v) => Array.isArray(v) && v.every((c) => typeof c === 'string' && isCidr(c)), (v) => {
    const bad = Array.isArray(v) ? v.find((c) => typeof c !== 'string' || !isCidr(c)) : v;
    return Array.isArray(v) ? `${quoteValue(bad)} is not a CIDR such as 10.0.0.0/8` : 'must be a list of CIDRs';
  });
const EntityList = () =>
  Check('entities', (v) => Array.isArray(v) && v.every((e) => (ENTITIES as readonly unknown[]).includes(e)), (v) => {
    const bad = Array.isArray(v) ? v.find((e) => !(ENTITIES as readonly unknown[]).includes(e)) : v;
    return Array.isArray(v) ? `unknown entity ${quoteValue(bad)} (one of ${ENTITIES.join(', ')})` : 'must be a list of entities';
  });

export class SelectorRequirement {
  @Str() key!: string;
  @OneOf(['In', 'NotIn', 'Exists', 'DoesNotExist']) operator!: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  @Optional() @StringList() values?: string[];
}

export class CiliumLabelSelector {
  @Optional()
  @StringMap()
  @Check('selectorValues', (v) => !isPlainObject(v) || Object.values(v as object).every((x) => typeof x !== 'string' || (x.length <= 63 && SELECTOR_VALUE_RE.test(x))), 'label values must be at most 63 characters of letters, digits, "-", "_", "."')
  matchLabels?: Record<string, string>;

  @Optional() @NestedList(() => SelectorRequirement) matchExpressions?: SelectorRequirement[];
}

export class CidrRule {
  @Cidr() cidr!: string;
  @Optional() @CidrList() except?: string[];
}

export class PortProtocol {
  @Pattern(PORT_RE, 'must be a port number 0-65535 or a port name such as "http"') port!: string;
  @Optional() @IntRange(0, 65535) endPort?: number;
  @Optional() @OneOf(PORT_PROTOCOLS) protocol?: (typeof PORT_PROTOCOLS)[number];
}

export class FqdnSelector {
  /** Exactly one of matchName and matchPattern (checked by `ciliumPolicyProblems`). */
  @Optional() @Pattern(FQDN_NAME_RE, 'must be a DNS name') @MaxLen(255)
  matchName?: string;

  @Optional() @Pattern(FQDN_PATTERN_RE, 'must be a DNS name pattern (letters, digits, "-", "_", "*", ".")') @MaxLen(255)
  matchPattern?: string;
}

export class HeaderSecret {
  @Str() name!: string;
  @Optional() @Str() namespace?: string;
}

export class HeaderMatch {
  @Str() @Check('nonEmpty', (v) => v !== '', 'must not be empty') name!: string;
  @Optional() @Str() value?: string;
  @Optional() @OneOf(['LOG', 'ADD', 'DELETE', 'REPLACE']) mismatch?: string;
  @Optional() @Nested(() => HeaderSecret) secret?: HeaderSecret;
}

export class HttpRule {
  @Optional() @Str() method?: string;
  @Optional() @Str() path?: string;
  @Optional() @Pattern(/^[^\s/]+$/, 'must be a host name') host?: string;
  @Optional() @StringList() headers?: string[];
  @Optional() @NestedList(() => HeaderMatch) headerMatches?: HeaderMatch[];
}

export class KafkaRule {
  @Optional() @OneOf(['produce', 'consume']) role?: string;
  @Optional() @Str() apiKey?: string;
  @Optional() @Str() apiVersion?: string;
  @Optional() @Str() clientID?: string;
  @Optional() @Str() @MaxLen(255) topic?: string;
}

export class L7Rules {
  @Optional() @NestedList(() => FqdnSelector) dns?: FqdnSelector[];
  @Optional() @NestedList(() => HttpRule) http?: HttpRule[];
  @Optional() @NestedList(() => KafkaRule) kafka?: KafkaRule[];
  @Optional() @Str() l7proto?: string;
  @Optional()
  @Check('l7', (v) => Array.isArray(v) && v.every((m) => isPlainObject(m) && Object.values(m as object).every((x) => typeof x === 'string')), 'must be a list of string maps')
  l7?: Record<string, string>[];
}

export class PortRule {
  @Optional() @NestedList(() => PortProtocol, 40) ports?: PortProtocol[];
  @Optional() @Nested(() => L7Rules) rules?: L7Rules;
}

/** Deny rules carry no L7 rules. */
export class PortDenyRule {
  @Optional() @NestedList(() => PortProtocol, 40) ports?: PortProtocol[];
}

export class IcmpField {
  @Check(
    'icmpType',
    (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255) || (typeof v === 'string' && (/^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$/.test(v) || ICMP_TYPE_NAMES.includes(v))),
    'must be an ICMP type 0-255 or a name such as EchoRequest',
  )
  type!: number | string;

  @Optional() @OneOf(['IPv4', 'IPv6']) family?: 'IPv4' | 'IPv6';
}

export class IcmpRule {
  @Optional() @NestedList(() => IcmpField, 40) fields?: IcmpField[];
}

class IngressPeers {
  @Optional() @CidrList() fromCIDR?: string[];
  @Optional() @NestedList(() => CidrRule) fromCIDRSet?: CidrRule[];
  @Optional() @NestedList(() => CiliumLabelSelector) fromEndpoints?: CiliumLabelSelector[];
  @Optional() @EntityList() fromEntities?: string[];
  @Optional() @NestedList(() => CiliumLabelSelector) fromNodes?: CiliumLabelSelector[];
  @Optional() @NestedList(() => IcmpRule) icmps?: IcmpRule[];
}

export class IngressRule extends IngressPeers {
  @Optional() @NestedList(() => PortRule) toPorts?: PortRule[];
}

export class IngressDenyRule extends IngressPeers {
  @Optional() @NestedList(() => PortDenyRule) toPorts?: PortDenyRule[];
}

export class K8sService {
  @Optional() @Str() serviceName?: string;
  @Optional() @Str() namespace?: string;
}

export class ServiceSelector {
  @Optional() @Nested(() => K8sService) k8sService?: K8sService;
}

class EgressPeers {
  @Optional() @CidrList() toCIDR?: string[];
  @Optional() @NestedList(() => CidrRule) toCIDRSet?: CidrRule[];
  @Optional() @NestedList(() => CiliumLabelSelector) toEndpoints?: CiliumLabelSelector[];
  @Optional() @EntityList() toEntities?: string[];
  @Optional() @NestedList(() => CiliumLabelSelector) toNodes?: CiliumLabelSelector[];
  @Optional() @NestedList(() => ServiceSelector) toServices?: ServiceSelector[];
  @Optional() @NestedList(() => IcmpRule) icmps?: IcmpRule[];
}

export class EgressRule extends EgressPeers {
  @Optional() @NestedList(() => FqdnSelector) toFQDNs?: FqdnSelector[];
  @Optional() @NestedList(() => PortRule) toPorts?: PortRule[];
}

export class EgressDenyRule extends EgressPeers {
  @Optional() @NestedList(() => PortDenyRule) toPorts?: PortDenyRule[];
}

export class DefaultDeny {
  @Optional() @Bool() ingress?: boolean;
  @Optional() @Bool() egress?: boolean;
}

export class RuleLabel {
  @Str() key!: string;
  @Optional() @Str() value?: string;
  @Optional() @Str() source?: string;
}

export class PolicyLog {
  @Optional() @Pattern(/^\P{C}*$/u, 'must not contain control characters') @MaxLen(32) value?: string;
}

export class CiliumRule {
  @Optional() @Str() description?: string;
  @Optional() @Nested(() => CiliumLabelSelector) nodeSelector?: CiliumLabelSelector;
  @Optional() @Nested(() => CiliumLabelSelector) endpointSelector?: CiliumLabelSelector;
  @Optional() @NestedList(() => IngressRule) ingress?: IngressRule[];
  @Optional() @NestedList(() => IngressDenyRule) ingressDeny?: IngressDenyRule[];
  @Optional() @NestedList(() => EgressRule) egress?: EgressRule[];
  @Optional() @NestedList(() => EgressDenyRule) egressDeny?: EgressDenyRule[];
  @Optional() @Nested(() => DefaultDeny) enableDefaultDeny?: DefaultDeny;
  @Optional() @NestedList(() => RuleLabel) labels?: RuleLabel[];
  @Optional() @Nested(() => PolicyLog) log?: PolicyLog;
}

abstract class CiliumPolicyBase {
  @OneOf([CILIUM_API_VERSION]) apiVersion!: typeof CILIUM_API_VERSION;
  @Nested(() => ObjectMeta) metadata!: ObjectMeta;
  @Optional() @Nested(() => CiliumRule) spec?: CiliumRule;
  @Optional() @NestedList(() => CiliumRule) specs?: CiliumRule[];
  /** Not part of the schema's spec; Cilium's own examples put it at the top level, so it is accepted and ignored. */
  @Optional() @Str() description?: string;
  @Optional() @Check('status', isPlainObject, 'must be an object') status?: Record<string, unknown>;
}

export class CiliumClusterwideNetworkPolicy extends CiliumPolicyBase {
  @OneOf([CCNP_KIND]) kind!: typeof CCNP_KIND;
}

export class CiliumNetworkPolicy extends CiliumPolicyBase {
  @OneOf([CNP_KIND]) kind!: typeof CNP_KIND;
}

export type CiliumPolicy = CiliumClusterwideNetworkPolicy | CiliumNetworkPolicy;
