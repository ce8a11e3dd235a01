/**
 * Options of `renderSelinuxModule`. Default postures follow upstream KubeArmor's host defaults
 * (`-hostDefault*Posture`, all `audit`): they only matter for a fromSource binary that has at least
 * one Allow rule of that class, which turns the class into an allow-list.
 */
export type Posture = 'allow' | 'audit' | 'block';

export interface SelinuxPostures {
  /** Files and processes (upstream shares one posture for both). */
  file: Posture;
  network: Posture;
  capabilities: Posture;
}

export interface SelinuxRenderOptions {
  posture?: Partial<SelinuxPostures>;
  /** The host policy's path aliases; default `DEFAULT_PATH_ALIASES`. */
  pathAliases?: readonly PathAlias[];
  /**
   * Learning mode (docs/selinux.md, "Learning mode"): the domains of these binaries are permissive
   * (`typepermissive`) and allow-lists, so every access no rule allows is logged as an AVC with
   * `permissive=1` and not denied. A binary without a domain gets one, with its transition.
   */
  learning?: { binaries: readonly string[] };
}

export const DEFAULT_POSTURES: SelinuxPostures = { file: 'audit', network: 'audit', capabilities: 'audit' };

export const POSTURE_VALUES: readonly Posture[] = ['allow', 'audit', 'block'];

/** Postures with defaults filled in, or the name of the first bad one. */
export function resolvePostures(options: SelinuxRenderOptions | undefined): SelinuxPostures | { bad: string } {
  const out = { ...DEFAULT_POSTURES };
  for (const key of Object.keys(DEFAULT_POSTURES) as (keyof SelinuxPostures)[]) {
    const value = options?.posture?.[key];
    if (value === undefined) continue;
    if (!POSTURE_VALUES.includes(value)) return { bad: key };
    out[key] = value;
  }
  return out;
}

/**
 * Path aliases of the host's policy (`file_contexts.subs_dist`/`.subs`: "/bin /usr/bin" means
 * libselinux looks up /bin/x as /usr/bin/x, so a context for /bin/x would never apply). Policy
 * paths under an alias are rewritten to the original. The default is the part both Debian's and
 * RHEL's policies ship; hosts report their own list (the loader checks it).
 */
export type PathAlias = readonly [alias: string, original: string];

export const DEFAULT_PATH_ALIASES: readonly PathAlias[] = [
  ['/bin', '/usr/bin'],
  ['/sbin', '/usr/sbin'],
  ['/lib', '/usr/lib'],
  ['/var/run', '/run'],
];

/** Collapses repeated slashes (the kernel reports canonical paths) and applies the first matching alias. */
export function pathCanonicalizer(aliases: readonly PathAlias[]): (path: string) => string {
  return (path) => {
    const p = path.replace(/\/{2,}/g, '/');
    for (const [alias, original] of aliases) {
      if (p === alias || p.startsWith(`${alias}/`)) return original + p.slice(alias.length);
    }
    return p;
  };
}
