/**
 * Problems of a set of objects applied together, beyond each object's own validity: what the
 * server refuses for the set as a whole. Shared by `kvmctl validate`, `kvmctl apply` and the
 * server's Apply, so that a file that validates is a file the server takes.
 */
import { findKind } from '../kinds.js';
import type { Resource } from '../meta.js';

/** The most an object may take as stored (JSON): one store value. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

export const isActiveStatus = (status: unknown): boolean => status === 'Active' || status === 'active';
export const isInactiveStatus = (status: unknown): boolean => status === 'Inactive' || status === 'inactive';

/** `Kind/name` of the policy an Active or Inactive DiscoveredPolicy puts in force or removes. */
export function discoveredPolicyTarget(resource: Resource): string | undefined {
  if (resource.kind !== 'DiscoveredPolicy') return undefined;
  const spec = (resource as { spec?: { status?: unknown; policy?: { kind?: unknown; metadata?: { name?: unknown } } } }).spec;
  if (!isActiveStatus(spec?.status) && !isInactiveStatus(spec?.status)) return undefined;
  const kind = findKind(String(spec?.policy?.kind ?? ''));
  const name = spec?.policy?.metadata?.name;
  return kind && typeof name === 'string' && name !== '' ? `${kind.kind}/${name}` : undefined;
}

export interface InputObject {
  /** Where the object came from (`file.yaml#2`, `object 3`). */
  location: string;
  resource: Resource;
}

/**
 * One line per problem, `LOCATION Kind/name: reason`: an object given twice, a policy given and
 * also put in force (or removed) by a DiscoveredPolicy, one policy put in force by two, and an
 * object larger than MAX_OBJECT_BYTES.
 */
export function inputSetProblems(objects: readonly InputObject[]): string[] {
  const problems: string[] = [];
  const given = new Map<string, string>();
  for (const { location, resource } of objects) {
    const id = `${resource.kind}/${resource.metadata.name}`;
    const first = given.get(id);
    if (first !== undefined) problems.push(`${location} ${id}: appears more than once in one apply (also at ${first})`);
    else given.set(id, location);
    const bytes = Buffer.byteLength(JSON.stringify(resource), 'utf8');
    if (bytes > MAX_OBJECT_BYTES) problems.push(`${location} ${id}: ${bytes} bytes, more than the ${MAX_OBJECT_BYTES} bytes an object may take`);
  }
  const targets = new Map<string, string>();
  for (const { location, resource } of objects) {
    const target = discoveredPolicyTarget(resource);
    if (target === undefined) continue;
    const id = `${resource.kind}/${resource.metadata.name}`;
    if (given.has(target)) problems.push(`${location} ${id}: spec.status: puts ${target} in force or removes it, and ${target} is also given (at ${given.get(target)}); apply one of them`);
    const other = targets.get(target);
    if (other !== undefined) problems.push(`${location} ${id}: spec.status: ${target} is also put in force or removed by ${other}; one DiscoveredPolicy per policy`);
    else targets.set(target, id);
  }
  return problems;
}
