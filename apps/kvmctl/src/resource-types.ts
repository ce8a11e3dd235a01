/** The types `get`, `describe`, `delete` and `label` accept: the stored kinds and bootstrap tokens. */
import { findKind, RESOURCE_KINDS, type ResourceKind } from '@kvmservice/resources';
import { CliError } from './io.js';

export type CliType = { type: 'resource'; kind: ResourceKind } | { type: 'tokens' };

const TOKEN_NAMES = ['tokens', 'token', 'bootstraptokens', 'bootstraptoken'];

/** Every name a user may type for a type (completion). */
export function typeNames(): string[] {
  return [...RESOURCE_KINDS.flatMap((k) => [k.plural, ...k.shortNames]), 'tokens'];
}

export function resolveType(name: string): CliType {
  if (TOKEN_NAMES.includes(name.toLowerCase())) return { type: 'tokens' };
  const kind = findKind(name);
  if (!kind) throw new CliError(`the server doesn't have a resource type "${name}" (one of ${RESOURCE_KINDS.map((k) => `${k.plural} (${k.shortNames.join(', ')})`).join(', ')}, tokens)`);
  return { type: 'resource', kind };
}

/** `kubearmorhostpolicy.security.kubearmor.com`: kubectl's resource.group. */
export function qualifiedKind(kind: ResourceKind): string {
  const slash = kind.apiVersion.indexOf('/');
  return slash < 0 ? kind.singular : `${kind.singular}.${kind.apiVersion.slice(0, slash)}`;
}

/** `kubearmorhostpolicy.security.kubearmor.com/NAME`: what `-o name` prints. */
export function objectRef(kind: ResourceKind, name: string): string {
  return `${qualifiedKind(kind)}/${name}`;
}

/**
 * Splits `get` arguments kubectl's way: `TYPE[,TYPE…] [NAME…]` or `TYPE/NAME …`. Returns the
 * types with their names (no names = all).
 */
export function parseTypeArgs(args: readonly string[]): { type: CliType; names: string[] }[] {
  if (args.length === 0) return [];
  if (args.some((a) => a.includes('/'))) {
    if (!args.every((a) => a.includes('/'))) throw new CliError('there is no need to specify a resource type as a separate argument when passing arguments in resource/name form', 2);
    const out: { type: CliType; names: string[] }[] = [];
    for (const arg of args) {
      const [typeName, name] = [arg.slice(0, arg.indexOf('/')), arg.slice(arg.indexOf('/') + 1)];
      if (name === '') throw new CliError(`${arg}: a name is required after the "/"`, 2);
      const type = resolveType(typeName);
      const existing = out.find((o) => sameType(o.type, type));
      if (existing) existing.names.push(name);
      else out.push({ type, names: [name] });
    }
    return out;
  }
  const [types, ...names] = args;
  const resolved = types!.split(',').filter((t) => t !== '').map(resolveType);
  if (resolved.length > 1 && names.length > 0) throw new CliError('names cannot be given with several types (use TYPE/NAME)', 2);
  return resolved.map((type) => ({ type, names }));
}

export function sameType(a: CliType, b: CliType): boolean {
  return a.type === 'tokens' ? b.type === 'tokens' : b.type === 'resource' && a.kind === b.kind;
}
