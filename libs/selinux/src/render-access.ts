/**
 * Who may do what to each labelled object: the decision table of docs/selinux.md ("Mapping").
 * Subjects are "everyone" (rules without fromSource) and one domain per fromSource binary; groups
 * are read, write and exec (render-perms.ts). A decision is allowed or not, and audited or not.
 */
import type { ObjectRule } from './render-objects.js';
import type { Posture } from './render-options.js';
import type { AccessGroup } from './render-perms.js';

export interface Decision {
  allowed: boolean;
  audited: boolean;
}

interface Effects {
  grant: AccessGroup[];
  deny: AccessGroup[];
  audit: AccessGroup[];
}

/**
 * What one rule does to an object it covers. readOnly narrows a rule to the writes (Block, Audit:
 * reads stay as they are) or to the reads (Allow: only reads are allowed), as upstream's
 * `deny P klw` / `P klr`. Executing needs reading the binary, so a process Allow grants both.
 */
export function ruleEffects(rule: ObjectRule): Effects {
  const none: AccessGroup[] = [];
  if (rule.class === 'process') {
    if (rule.action === 'Allow') return { grant: ['exec', 'read'], deny: none, audit: none };
    if (rule.action === 'Block') return { grant: none, deny: ['exec'], audit: none };
    return { grant: none, deny: none, audit: ['exec'] };
  }
  if (rule.action === 'Allow') return { grant: rule.readOnly ? ['read'] : ['read', 'write'], deny: none, audit: none };
  if (rule.action === 'Block') return { grant: none, deny: rule.readOnly ? ['write'] : ['read', 'write', 'exec'], audit: none };
  return { grant: none, deny: none, audit: rule.readOnly ? ['write'] : ['read', 'write', 'exec'] };
}

const some = (rules: readonly ObjectRule[], pick: keyof Effects, group: AccessGroup) => rules.some((r) => ruleEffects(r)[pick].includes(group));

const isGlobal = (rule: ObjectRule) => rule.fromSource.length === 0;

/** Everyone's access to an object: denied where a rule without fromSource blocks it. */
export function globalDecision(rules: readonly ObjectRule[], group: AccessGroup): Decision {
  const global = rules.filter(isGlobal);
  return { allowed: !some(global, 'deny', group), audited: some(global, 'audit', group) };
}

/** A posture as a decision for what no rule of the class allows. */
export function postureDecision(posture: Posture): Decision {
  return { allowed: posture !== 'block', audited: posture === 'audit' };
}

/**
 * A fromSource domain's access to an object. Its own Block, then its own Allow, decide; otherwise
 * a Block without fromSource applies to it too (upstream copies global rules into each source's
 * profile unless the source has a rule for the same target); otherwise the default for the class.
 * Audit rules (its own or global) add auditing to whatever is allowed.
 */
export function sourceDecision(rules: readonly ObjectRule[], source: string, group: AccessGroup, fallback: Decision): Decision {
  const own = rules.filter((r) => r.fromSource.includes(source));
  const audited = some(own, 'audit', group) || some(rules.filter(isGlobal), 'audit', group);
  if (some(own, 'deny', group)) return { allowed: false, audited: false };
  if (some(own, 'grant', group)) return { allowed: true, audited };
  if (!globalDecision(rules, group).allowed) return { allowed: false, audited: false };
  return { allowed: fallback.allowed, audited: fallback.allowed && (audited || fallback.audited) };
}
