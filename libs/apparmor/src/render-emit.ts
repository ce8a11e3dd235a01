/**
 * Profile text. Rule lines follow upstream's template (file permissions `klmrw` / `klr`, process
 * `x` rules, `network <proto>`, `capability <cap>`) with two changes: Block is `audit deny` (a plain
 * `deny` blocks without a kernel record, so no alert) and Audit is an `audit` rule (upstream drops
 * Audit rules from AppArmor). Lines are sorted and de-duplicated, each followed by a comment naming
 * the policies and fields it came from, so the output does not depend on input order.
 *
 * Exec rules need care: AppArmor refuses a profile in which two overlapping globs, or two rules
 * for the same literal path, ask for different exec transitions ("conflicting x modifiers"); a
 * exact path (no `*`, `?`, `[`; alternations allowed) wins over a wildcard one. So per profile every
 * exact path gets exactly one transition (alternations are multiplied out), and every wildcard exec
 * rule is `ix`, the mode of the globs in `file,` and abstractions/base.
 */
import { DISPATCHER_ATTACHMENT, DISPATCHER_PROFILE, dispatcherAttaches } from './render-names.js';
import type { ProfileModel, ProfileSet } from './render-profiles.js';
import type { Origin, PathRule, RenderRule } from './render-rules.js';
import { commentText, expandAlternations, literalAare, quoted } from './render-text.js';
import type { PolicyRef, Postures, UnenforceableRule } from './render-types.js';

const FLAGS = 'flags=(attach_disconnected,mediate_deleted)';
const COMPLAIN_FLAGS = 'flags=(attach_disconnected,mediate_deleted,complain)';
/**
 * How a profile hands a source binary over to its own profile. By attachment (`px`) where it can:
 * each named target (`px -> <name>`) takes a slot of the profile's exec-transition table, which
 * apparmor_parser limits (13 named sources no longer compile), and the source profile attaches to
 * exactly its binary's path. But a shell the dispatcher's attachment glob also matches must be
 * named: by attachment the kernel picks `kubearmor.host` for it (seen in the kernel tier).
 */
function handOver(text: string, name: string): string {
  return dispatcherAttaches(text) ? `px -> ${name}` : 'px';
}

/** Upstream marks host profiles privileged: policies never speak of these, so they stay open. */
const PRIVILEGED = ['mount,', 'umount,', 'signal,', 'unix,', 'ptrace,', 'dbus,'];
const POST = '/lib/x86_64-linux-gnu/{*,**} rm,';

/** The comment naming a rule's origin, made once per origin object (profiles share rules). */
const originTexts = new WeakMap<Origin, string>();
function originText(o: Origin): string {
  let text = originTexts.get(o);
  if (text === undefined) {
    text = commentText(`${o.policy} ${o.field}`);
    originTexts.set(o, text);
  }
  return text;
}

/** Sorted, de-duplicated rule lines, each with the origins that produced it. */
class Section {
  private readonly lines = new Map<string, string[]>();
  constructor(readonly title: string) {}

  add(line: string, origins: readonly Origin[]): void {
    const list = this.lines.get(line);
    const texts = origins.map(originText);
    if (list) list.push(...texts);
    else this.lines.set(line, texts);
  }

  render(): string[] {
    if (this.lines.size === 0) return [];
    const sorted = [...this.lines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const out = [`  # ${this.title}`];
    for (const [line, origins] of sorted) {
      if (origins.length === 0) out.push(`  ${line}`);
      else out.push(`  ${line}  # ${(origins.length === 1 ? origins : [...new Set(origins)].sort()).join('; ')}`);
    }
    return out;
  }
}

interface ExecEntry {
  literal: boolean;
  /** Some rule grants everyone (not just the file owner). */
  everyone: boolean;
  /** Some rule is an Allow (the program should run under host-wide rules), not only Audit. */
  allow: boolean;
  audit: boolean;
  origins: Origin[];
}

/** Exact exec rules are multiplied out to single paths (at most this many per rule) so each gets one transition. */
const EXEC_ALTERNATIVES_LIMIT = 64;

function addExec(
  table: Map<string, ExecEntry>,
  rule: PathRule,
  kind: { allow: boolean; audit: boolean; owner: boolean },
  notes: UnenforceableRule[],
  profile: string,
): void {
  const keys = rule.aare.literal ? expandAlternations(rule.aare.text, EXEC_ALTERNATIVES_LIMIT) : [rule.aare.text];
  if (!keys) {
    notes.push({
      policy: rule.origin.policy,
      field: rule.origin.field,
      reason: `exec rule not rendered in ${profile}: its alternations name more than ${EXEC_ALTERNATIVES_LIMIT} paths (write a glob or several rules)`,
    });
    return;
  }
  for (const key of keys) {
    const entry = table.get(key) ?? { literal: rule.aare.literal, everyone: false, allow: false, audit: false, origins: [] };
    entry.everyone ||= !kind.owner;
    entry.allow ||= kind.allow;
    entry.audit ||= kind.audit;
    entry.origins.push(rule.origin);
    table.set(key, entry);
  }
}

function notRendered(rule: RenderRule, profile: string, posture: string): UnenforceableRule {
  return {
    policy: rule.origin.policy,
    field: rule.origin.field,
    reason: `Audit rule not rendered in ${profile}: the ${posture} posture is block, so that profile is an allow-list and an audit rule would grant the access; the access is denied and logged as a posture violation`,
  };
}

/**
 * The lines of a file, network or capability rule: the same in every profile that holds it, so
 * made once per rule (global rules are copied into every fromSource profile).
 */
const fixedLineCache = new WeakMap<RenderRule, string[]>();
function fixedLines(rule: RenderRule): string[] {
  const cached = fixedLineCache.get(rule);
  if (cached) return cached;
  const audit = rule.action === 'Audit' ? 'audit ' : '';
  let lines: string[] = [];
  switch (rule.class) {
    case 'network': {
      const what = rule.token === '' ? 'network,' : `network ${rule.token},`;
      lines = [rule.action === 'Block' ? `audit deny ${what}` : `${audit}${what}`];
      break;
    }
    case 'capability':
      lines = [rule.action === 'Block' ? `audit deny capability ${rule.capability},` : `${audit}capability ${rule.capability},`];
      break;
    case 'file': {
      const p = quoted(rule.aare);
      if (rule.action === 'Block') {
        if (rule.readOnly && rule.ownerOnly) lines = [`audit deny owner ${p} klw,`, `audit deny other ${p} klmrw,`];
        else if (rule.ownerOnly) lines = [`owner ${p} klmrw,`, `audit deny other ${p} klmrw,`];
        else lines = [`audit deny ${p} ${rule.readOnly ? 'klw' : 'klmrw'},`];
      } else {
        lines = [`${audit}${rule.ownerOnly ? 'owner ' : ''}${p} ${rule.readOnly ? 'klr' : 'klmrw'},`];
      }
      break;
    }
    case 'process':
      break;
  }
  fixedLineCache.set(rule, lines);
  return lines;
}

/** Source binary AARE → its profile name, made once per profile set. */
const sourceMaps = new WeakMap<ProfileSet, Map<string, string>>();
function sourcesByAare(set: ProfileSet): Map<string, string> {
  let map = sourceMaps.get(set);
  if (!map) {
    map = new Map();
    for (const [source, name] of set.sourceNames) {
      const aare = literalAare(source);
      if (!('error' in aare)) map.set(aare.text, name);
    }
    sourceMaps.set(set, map);
  }
  return map;
}

export interface EmitContext {
  set: ProfileSet;
  host: string;
  postures: Postures;
  policies: PolicyRef[];
  /** Native `spec.apparmor` text per policy, for the dispatcher (only with allowNativeRules). */
  native: { policy: string; text: string }[];
}

export function emitProfile(profile: ProfileModel, ctx: EmitContext): { content: string; notRendered: UnenforceableRule[] } {
  const dispatcher = profile.source === undefined;
  const b = profile.blankets;
  const exec = new Section('process rules');
  const files = new Section('file rules');
  const network = new Section('network rules');
  const caps = new Section('capability rules');
  const transitions = new Section(dispatcher ? 'fromSource binaries run under their own profiles' : 'other fromSource binaries run under their own profiles');
  const notes: UnenforceableRule[] = [];
  const execTable = new Map<string, ExecEntry>();

  for (const rule of profile.rules) {
    const o = [rule.origin];
    if (rule.action === 'Audit' && !profile.learning) {
      const open = rule.class === 'network' ? b.network : rule.class === 'capability' ? b.capability : b.file;
      if (!open) {
        notes.push(notRendered(rule, profile.name, rule.class === 'capability' ? 'capabilities' : rule.class === 'network' ? 'network' : 'file'));
        continue;
      }
    }
    switch (rule.class) {
      case 'network':
        for (const line of fixedLines(rule)) network.add(line, o);
        break;
      case 'capability':
        for (const line of fixedLines(rule)) caps.add(line, o);
        break;
      case 'file':
        for (const line of fixedLines(rule)) files.add(line, o);
        break;
      case 'process':
        if (rule.action === 'Block') {
          if (rule.ownerOnly) {
            addExec(execTable, rule, { allow: false, audit: false, owner: true }, notes, profile.name);
            exec.add(`audit deny other ${quoted(rule.aare)} x,`, o);
          } else {
            exec.add(`audit deny ${quoted(rule.aare)} x,`, o);
          }
        } else {
          addExec(execTable, rule, { allow: rule.action === 'Allow', audit: rule.action === 'Audit', owner: rule.ownerOnly }, notes, profile.name);
        }
        break;
    }
  }

  // Exec transitions: exactly one per exact path; a rule on a source binary joins its hand-over.
  const sourceByAare = sourcesByAare(ctx.set);
  const selfAare = profile.source === undefined ? undefined : (literalAare(profile.source) as { text: string }).text;
  const sourceLines = new Map<string, { audit: boolean; everyone: boolean; origins: Origin[] }>();
  let selfAudit: Origin[] | undefined;
  for (const [text, entry] of execTable) {
    const target = entry.literal ? sourceByAare.get(text) : undefined;
    if (target !== undefined && text === selfAare) {
      if (entry.audit) selfAudit = [...(selfAudit ?? []), ...entry.origins];
      continue;
    }
    if (target !== undefined) {
      const line = sourceLines.get(text) ?? { audit: false, everyone: false, origins: [] };
      line.audit ||= entry.audit;
      line.everyone ||= entry.everyone;
      line.origins.push(...entry.origins);
      sourceLines.set(text, line);
      continue;
    }
    // Only an exact path may leave the profile: wildcards must stay `ix`, as the `ix` globs of
    // `file,` and of abstractions/base (`owner @{HOME}/.Private/** mrixwlk`) overlap them.
    const mode = !dispatcher && entry.literal && entry.allow ? `px -> ${DISPATCHER_PROFILE}` : 'ix';
    exec.add(`${entry.audit ? 'audit ' : ''}${entry.everyone ? '' : 'owner '}"${text}" ${mode},`, entry.origins);
  }
  for (const [text, name] of sourceByAare) {
    if (text === selfAare) continue;
    const line = sourceLines.get(text);
    // The dispatcher always hands sources over (upstream); a fromSource profile does so where it
    // may exec anything anyway, or where a rule allows that binary.
    // In learning mode every hand-over stays: a complain-mode exec without a rule would run the
    // program under a null learning profile instead of its own.
    if (!dispatcher && !b.file && !line && !profile.learning) continue;
    const owner = !dispatcher && !b.file && line && !line.everyone ? 'owner ' : '';
    transitions.add(`${line?.audit ? 'audit ' : ''}${owner}"${text}" ${handOver(text, name)},`, line?.origins ?? []);
  }

  const out: string[] = [...header(profile, ctx), ''];
  const attachment = dispatcher ? DISPATCHER_ATTACHMENT : quoted(selfAare!);
  if (profile.learning) {
    out.push(
      '# Learning mode (spec.learning of the host): complain mode without blanket rules, so everything',
      '# this binary does that no rule allows is logged as ALLOWED, and nothing is blocked.',
    );
  }
  out.push(`profile ${profile.name} ${attachment} ${profile.learning ? COMPLAIN_FLAGS : FLAGS} {`, '  include <abstractions/base>', '');
  out.push(...PRIVILEGED.map((l) => `  ${l}`));
  if (b.file) out.push('  file,');
  if (b.network) out.push('  network,');
  if (b.capability) out.push('  capability,');
  if (selfAare !== undefined) {
    out.push('', '  # the source binary itself', `  "${selfAare}" mr,`);
    out.push(selfAudit ? `  audit "${selfAare}" ix,  # ${commentText([...new Set(selfAudit.map((o) => `${o.policy} ${o.field}`))].sort().join('; '))}` : `  "${selfAare}" ix,`);
  }
  for (const section of [exec, files, network, caps, transitions]) {
    const lines = section.render();
    if (lines.length > 0) out.push('', ...lines);
  }
  if (dispatcher) {
    for (const { policy, text } of ctx.native) {
      out.push('', `  # native rules of ${commentText(policy)} (spec.apparmor), rendered because allowNativeRules is set`);
      out.push(...text.split('\n').map((l) => (l.trim() === '' ? '' : `  ${l.trimEnd()}`)));
    }
  }
  if (notes.length > 0) {
    const lines = notes.map((n) => `  # ${commentText(`${n.policy} ${n.field}: ${n.reason}`)}`);
    out.push('', ...[...new Set(lines)].sort());
  }
  out.push('', `  ${POST}`, '}', '');
  return { content: out.join('\n'), notRendered: notes };
}

function header(profile: ProfileModel, ctx: EmitContext): string[] {
  const p = ctx.postures;
  return [
    `# AppArmor profile ${profile.name}, rendered by KVMService from KubeArmorHostPolicy objects.`,
    '# Do not edit: the kvmservice agent replaces this file.',
    `# host: ${commentText(ctx.host)}`,
    `# postures: file=${p.file} network=${p.network} capabilities=${p.capabilities}`,
    '# policies:',
    ...ctx.policies.map((pol) => `#   ${commentText(pol.name)} resourceVersion=${commentText(pol.resourceVersion ?? '-')}`),
    'include <tunables/global>',
  ];
}
