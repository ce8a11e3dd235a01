/**
 * Which rules go into which profile, and which blanket rules each profile keeps (upstream
 * `GenerateAppArmorProfile` semantics, with the differences listed in docs/apparmor.md):
 * - rules without fromSource go into the dispatcher and are copied into every fromSource profile,
 *   unless that profile has a rule with the same key or a directory rule covering it
 *   (upstream `checkIfGlobalRuleToBeAdded`);
 * - a profile keeps its blanket `file,` / `network,` / `capability,` unless the host posture for
 *   that class is block and the profile holds an Allow rule of that class (process and file
 *   share the file posture). Upstream also drops the dispatcher's blanket for fromSource Allow
 *   rules, which leaves every shell on the host unable to read files; here only the profile
 *   holding the Allow rule becomes an allow-list.
 */
import { DISPATCHER_PROFILE, sourceProfileNames } from './render-names.js';
import type { PathRule, RenderRule } from './render-rules.js';
import type { Postures } from './render-types.js';

export interface Blankets {
  file: boolean;
  network: boolean;
  capability: boolean;
}

export interface ProfileModel {
  name: string;
  /** The source binary of a fromSource profile; undefined for the dispatcher. */
  source?: string;
  /** Own rules, then inherited global rules. */
  rules: RenderRule[];
  blankets: Blankets;
  /** Learning mode: complain flag, no blankets, every hand-over kept. */
  learning?: boolean;
}

export interface ProfileSet {
  dispatcher: ProfileModel;
  /** fromSource profiles, sorted by name. */
  children: ProfileModel[];
  /** Source path → profile name. */
  sourceNames: Map<string, string>;
}

const classKey = (rule: RenderRule) => `${rule.class}:${rule.key}`;

/** Upstream: a fromSource directory rule covers global rules under it (recursive, or one level). */
function coveredByDirectory(global: RenderRule, ownDirs: readonly PathRule[]): boolean {
  if (global.class !== 'process' && global.class !== 'file') return false;
  return ownDirs.some((rule) => {
    if (rule.class !== global.class || !rule.dir) return false;
    const dir = rule.dir.path;
    if (global.key === dir || !global.key.startsWith(dir)) return false;
    return rule.dir.recursive || !global.key.slice(dir.length).replace(/\/$/, '').includes('/');
  });
}

function blankets(rules: readonly RenderRule[], postures: Postures): Blankets {
  const allows = (classes: RenderRule['class'][]) => rules.some((r) => r.action === 'Allow' && classes.includes(r.class));
  return {
    file: !(postures.file === 'block' && allows(['file', 'process'])),
    network: !(postures.network === 'block' && allows(['network'])),
    capability: !(postures.capabilities === 'block' && allows(['capability'])),
  };
}

/** Learning mode: everything no rule allows must reach the complain-mode check, so no blankets. */
const NO_BLANKETS: Blankets = { file: false, network: false, capability: false };

/**
 * `learning`: binaries whose profiles run in complain mode. A learning binary without rules of its
 * own gets a minimal profile (no rules, so everything it does is logged); one with rules keeps
 * them, global ones included, and loses its blankets.
 */
export function buildProfiles(rules: readonly RenderRule[], postures: Postures, learning: ReadonlySet<string> = new Set()): ProfileSet {
  const global = rules.filter((r) => r.sources.length === 0);
  const globalKeys = global.map(classKey);
  const ownBySource = new Map<string, RenderRule[]>();
  for (const rule of rules) {
    for (const source of rule.sources) ownBySource.set(source, [...(ownBySource.get(source) ?? []), rule]);
  }
  const sourceNames = sourceProfileNames([...ownBySource.keys(), ...learning]);

  const children = [...ownBySource].map(([source, own]): ProfileModel => {
    const ownKeys = new Set(own.map(classKey));
    const ownDirs = own.filter((r): r is PathRule => (r.class === 'process' || r.class === 'file') && r.dir !== undefined);
    const inherited = global.filter((g, i) => !ownKeys.has(globalKeys[i]!) && (ownDirs.length === 0 || !coveredByDirectory(g, ownDirs)));
    const all = [...own, ...inherited];
    if (learning.has(source)) return { name: sourceNames.get(source)!, source, rules: all, blankets: NO_BLANKETS, learning: true };
    return { name: sourceNames.get(source)!, source, rules: all, blankets: blankets(all, postures) };
  });
  for (const source of learning) {
    if (!ownBySource.has(source)) children.push({ name: sourceNames.get(source)!, source, rules: [], blankets: NO_BLANKETS, learning: true });
  }
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return {
    dispatcher: { name: DISPATCHER_PROFILE, rules: global, blankets: blankets(global, postures) },
    children,
    sourceNames,
  };
}
