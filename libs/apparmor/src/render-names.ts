/**
 * Profile names. The dispatcher keeps upstream's `kubearmor.host`; a fromSource profile is
 * upstream's `kubearmor_<source without non-alphanumerics>` (`/usr/bin/head` → `kubearmor_usrbinhead`),
 * so alerts read the same as upstream's. Upstream's cleaning is not one-to-one (`/usr/bin/head`
 * and `/usr/binhead` collide); colliding sources get a short hash of their path appended.
 */
import { createHash } from 'node:crypto';

export const DISPATCHER_PROFILE = 'kubearmor.host';
/** Upstream's dispatcher attachment: shells, whose children inherit the profile. */
export const DISPATCHER_ATTACHMENT = '/{usr/,}bin/*sh';

/** Whether the dispatcher's attachment (`DISPATCHER_ATTACHMENT`) matches a literal path. */
export function dispatcherAttaches(path: string): boolean {
  return /^\/(usr\/)?bin\/[^/]*sh$/.test(path);
}

function cleaned(source: string): string {
  return source.replace(/[^A-Za-z0-9]/g, '');
}

function shortHash(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex').slice(0, 8);
}

/** Names for every source path, unique and independent of input order. */
export function sourceProfileNames(sources: Iterable<string>): Map<string, string> {
  const byClean = new Map<string, string[]>();
  for (const source of new Set(sources)) {
    const key = cleaned(source);
    byClean.set(key, [...(byClean.get(key) ?? []), source]);
  }
  const names = new Map<string, string>();
  for (const [clean, group] of byClean) {
    for (const source of group) {
      const unique = group.length === 1 && clean !== '';
      names.set(source, unique ? `kubearmor_${clean}` : `kubearmor_${clean}_${shortHash(source)}`);
    }
  }
  return names;
}
