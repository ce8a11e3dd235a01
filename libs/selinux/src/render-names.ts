/**
 * Names in the module. Every name is built from [a-z0-9_] only, so nothing from a policy can reach
 * a CIL identifier: a readable slug of the path (or host name) plus a hash of the exact key, which
 * keeps names stable across renders and distinct for distinct keys.
 */
import { createHash } from 'node:crypto';

export const NAME_PREFIX = 'kvms';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Lower-case [a-z0-9] words of `text` joined by `_`, at most `max` characters, keeping the head
 * (host names) or the tail (paths, whose end is the specific part).
 */
export function slug(text: string, max: number, keep: 'head' | 'tail' = 'tail'): string {
  const words = text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  // Cut at a word boundary where there is one, so a name never starts or ends with half a word.
  const head = () => {
    const cut = words.slice(0, max);
    return words[max] === '_' || !cut.includes('_') ? cut : cut.slice(0, cut.lastIndexOf('_'));
  };
  const tail = () => {
    const cut = words.slice(words.length - max);
    return words[words.length - max - 1] === '_' || !cut.includes('_') ? cut : cut.slice(cut.indexOf('_') + 1);
  };
  const cut = (words.length <= max ? words : keep === 'head' ? head() : tail()).replace(/^_+|_+$/g, '');
  return cut === '' ? 'x' : cut;
}

/** Module name for a host: `kvms_<host slug>_<hash>` (a module name must start with a letter). */
export function moduleNameFor(host: string): string {
  return `${NAME_PREFIX}_${slug(host, 40, 'head')}_${hostId(host)}`;
}

/** Six hex digits identifying the host; prefixes every type so modules of different hosts never clash. */
export const hostId = (host: string): string => sha256Hex(`host:${host}`).slice(0, 6);

/** Hands out names; a hash prefix shared by two keys is lengthened until the names differ. */
export class NameAllocator {
  private readonly byName = new Map<string, string>();

  constructor(private readonly prefix: string) {}

  /** The name for `key`: `<prefix>_<slug>_<hash><suffix>`. */
  allocate(key: string, readable: string, suffix: string): string {
    const hash = sha256Hex(key);
    for (let len = 6; len <= hash.length; len += 4) {
      const name = `${this.prefix}_${slug(readable, 32)}_${hash.slice(0, len)}${suffix}`;
      const owner = this.byName.get(name);
      if (owner === undefined || owner === key) {
        this.byName.set(name, key);
        return name;
      }
    }
    throw new Error(`no unique name for ${key}`); // unreachable: distinct keys have distinct sha256
  }
}
