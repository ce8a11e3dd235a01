/**
 * The table columns of each type, as kubectl shows its own: NAME first, AGE last, `-o wide`
 * adds detail, `--show-labels` adds LABELS.
 */
import { CLUSTERWIDE_NETWORK_POLICY, DISCOVERED_POLICY, HOST_POLICY, NETWORK_POLICY, VIRTUAL_MACHINE, type Resource, type ResourceKind } from '@kvmservice/resources';
import type { Token__Output } from '@kvmservice/api';
import { age, humanDuration } from './age.js';
import { list, obj, pairs, str, type Json } from './fields.js';

export interface Column<T> {
  header: string;
  wide?: boolean;
  value: (item: T, now: Date) => string;
}

const NAME: Column<Resource> = { header: 'NAME', value: (o) => o.metadata.name };
const AGE: Column<Resource> = { header: 'AGE', value: (o, now) => age(o.metadata.creationTimestamp, now) };
export const LABELS_COLUMN: Column<Resource> = { header: 'LABELS', value: (o) => pairs(o.metadata.labels) };

function condition(status: Json, type: string): Json | undefined {
  return list(status.conditions).map(obj).find((c) => c.type === type);
}

/** Connected / Disconnected / NotJoined: whether the host's agent holds a Sync stream now. */
export function hostConnection(o: Resource): string {
  const status = obj(o.status);
  if (status.connected === true) return 'Connected';
  return status.agent !== undefined || status.facts !== undefined ? 'Disconnected' : 'NotJoined';
}

/** The PolicyApplied reason (Applied, Pending, Failed, Unenforced), plus UnenforceableRules. */
export function hostPolicyState(o: Resource): string {
  const status = obj(o.status);
  const applied = condition(status, 'PolicyApplied');
  const enforceable = condition(status, 'RulesEnforceable');
  const parts = [str(applied?.reason) || 'Unknown'];
  if (enforceable?.status === 'False') parts.push('UnenforceableRules');
  return parts.join(',');
}

function enforcer(o: Resource): string {
  const facts = obj(obj(o.status).facts);
  const e = str(facts.enforcer);
  return e === '' ? '' : facts.dryRun === true ? `${e}(dry-run)` : e;
}

function revisions(o: Resource): string {
  const status = obj(o.status);
  const desired = str(obj(status.desired).revision);
  const applied = str(obj(status.applied).revision);
  return desired === '' && applied === '' ? '' : `${applied || '-'}/${desired || '-'}`;
}

const HOST_COLUMNS: Column<Resource>[] = [
  NAME,
  { header: 'STATUS', value: hostConnection },
  { header: 'POLICY', value: hostPolicyState },
  { header: 'ENFORCER', value: enforcer },
  { header: 'POLICIES', value: (o) => String(list(obj(obj(o.status).desired).policies).length) },
  AGE,
  { header: 'APPLIED/DESIRED', wide: true, value: revisions },
  { header: 'OS', wide: true, value: (o) => { const f = obj(obj(o.status).facts); return str(f.osPrettyName) || [str(f.osId), str(f.osVersion)].filter((s) => s !== '').join(' '); } },
  { header: 'KERNEL', wide: true, value: (o) => str(obj(obj(o.status).facts).kernel) },
  { header: 'AGENT', wide: true, value: (o) => str(obj(obj(o.status).agent).version) },
];

function selectorText(selector: unknown): string {
  const s = obj(selector);
  const parts = [pairs(s.matchLabels)];
  for (const e of list(s.matchExpressions).map(obj)) {
    const values = list(e.values).map(str).join(',');
    parts.push(`${str(e.key)} ${str(e.operator)}${values ? ` (${values})` : ''}`);
  }
  return parts.filter((p) => p !== '').join(',');
}

function hostPolicyRuleCounts(o: Resource): string {
  const spec = obj(o.spec);
  const counts: string[] = [];
  for (const [block, keys] of [
    ['process', ['matchPaths', 'matchDirectories', 'matchPatterns']],
    ['file', ['matchPaths', 'matchDirectories', 'matchPatterns']],
    ['network', ['matchProtocols']],
    ['capabilities', ['matchCapabilities']],
    ['syscalls', ['matchSyscalls', 'matchPaths']],
  ] as const) {
    const n = keys.reduce((sum, k) => sum + list(obj(spec[block])[k]).length, 0);
    if (n > 0) counts.push(`${block}:${n}`);
  }
  return counts.join(',');
}

const HOST_POLICY_COLUMNS: Column<Resource>[] = [
  NAME,
  { header: 'SELECTOR', value: (o) => selectorText(obj(o.spec).nodeSelector) },
  { header: 'ACTION', value: (o) => str(obj(o.spec).action) || 'Block' },
  AGE,
  { header: 'SEVERITY', wide: true, value: (o) => str(obj(o.spec).severity) },
  { header: 'RULES', wide: true, value: hostPolicyRuleCounts },
];

const CILIUM_COLUMNS: Column<Resource>[] = [
  NAME,
  {
    header: 'SELECTOR',
    value: (o) => {
      const spec = obj(o.spec);
      return spec.nodeSelector !== undefined ? `node:${selectorText(spec.nodeSelector) || '*'}` : spec.endpointSelector !== undefined ? `endpoint:${selectorText(spec.endpointSelector) || '*'}` : '';
    },
  },
  AGE,
  { header: 'INGRESS', wide: true, value: (o) => String(list(obj(o.spec).ingress).length + list(obj(o.spec).ingressDeny).length) },
  { header: 'EGRESS', wide: true, value: (o) => String(list(obj(o.spec).egress).length + list(obj(o.spec).egressDeny).length) },
];

const DISCOVERED_COLUMNS: Column<Resource>[] = [
  NAME,
  { header: 'STATUS', value: (o) => str(obj(o.spec).status) },
  { header: 'POLICY-KIND', value: (o) => str(obj(obj(o.spec).policy).kind) },
  { header: 'POLICY', value: (o) => str(obj(obj(obj(o.spec).policy).metadata).name) },
  AGE,
];

const BY_KIND = new Map<ResourceKind, Column<Resource>[]>([
  [VIRTUAL_MACHINE, HOST_COLUMNS],
  [HOST_POLICY, HOST_POLICY_COLUMNS],
  [CLUSTERWIDE_NETWORK_POLICY, CILIUM_COLUMNS],
  [NETWORK_POLICY, CILIUM_COLUMNS],
  [DISCOVERED_POLICY, DISCOVERED_COLUMNS],
]);

export function columnsFor(kind: ResourceKind): Column<Resource>[] {
  return BY_KIND.get(kind) ?? [NAME, AGE];
}

function tokenTtl(t: Token__Output, now: Date): string {
  const left = Number(t.expiresAt) - now.getTime();
  return left <= 0 ? '<expired>' : humanDuration(left);
}

export const TOKEN_COLUMNS: Column<Token__Output>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'HOSTNAME', value: (t) => t.hostname || '<any>' },
  { header: 'TTL', value: tokenTtl },
  { header: 'USED-BY', value: (t) => t.usedBy },
  { header: 'DESCRIPTION', value: (t) => t.description },
  { header: 'AGE', value: (t, now) => age(Number(t.createdAt), now) },
  { header: 'EXPIRES', wide: true, value: (t) => (Number(t.expiresAt) > 0 ? new Date(Number(t.expiresAt)).toISOString() : '') },
  { header: 'LABELS', wide: true, value: (t) => pairs(t.labels) },
];

/** The columns for a format: the narrow ones, or all with `wide`. */
export function visibleColumns<T>(columns: readonly Column<T>[], wide: boolean): Column<T>[] {
  return columns.filter((c) => wide || !c.wide);
}
