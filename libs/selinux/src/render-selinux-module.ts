/**
 * `renderSelinuxModule`: the host policies that select one host → one CIL policy module, the file
 * contexts it installs and the paths restorecon must relabel. Pure and deterministic: the same
 * policies and host give byte-identical output. The mapping is documented in docs/selinux.md.
 */
import type { CapabilityRule, HostPolicyRule, NetworkRule, NormalizedHostPolicy } from '@kvmservice/resources';
import { globalDecision, postureDecision, sourceDecision, type Decision } from './render-access.js';
import {
  attributeExpression,
  attributeSet,
  attributeStatement,
  avRule,
  avRuleNamed,
  cilComment,
  cilIdentifier,
  fileContext,
  roleType,
  typeStatement,
  typePermissive,
  typeTransition,
  UnsafeCilText,
} from './render-cil-text.js';
import { unsafeTextReason } from '@kvmservice/resources';
import { hostId, moduleNameFor, NameAllocator, NAME_PREFIX, sha256Hex } from './render-names.js';
import { buildObjectModel, type FileContextEntry, type ObjectRule } from './render-objects.js';
import {
  DEFAULT_PATH_ALIASES,
  pathCanonicalizer,
  resolvePostures,
  type SelinuxPostures,
  type SelinuxRenderOptions,
} from './render-options.js';
import {
  ACCESS_GROUPS,
  ALL_SOCKET_CLASSES,
  CAPABILITY2,
  DEFAULT_CAPABILITIES,
  DEFAULT_CAPABILITIES2,
  FILE_CLASSES,
  GROUP_PERMS,
  NEVERALLOW_DEVICE_TYPES,
  NEVERALLOW_FILE_TYPES,
  PORT_CLASSES,
  POSTURE_SOCKET_CLASSES,
  PROTOCOL_CLASSES,
  REF,
  RUNTIME_DEVICE_TYPES,
  RUNTIME_READ_EXEC_TYPES,
  RUNTIME_READ_TYPES,
  SELF_PROCESS_PERMS,
  SOCKET_EXTRA_SELF,
  SOCKET_PERMS,
  type AccessGroup,
  type FileClass,
} from './render-perms.js';
import { policyProblems, ruleProblems, type RenderProblem } from './render-problems.js';

export interface SelinuxFileContext {
  /** The regex as installed (`HOME_ROOT/…` entries are expanded by libsemanage for each home root). */
  pathRegex: string;
  fileType: 'any';
  context: string;
}

export interface RenderedSelinuxModule {
  /** Per-host module name; installing it replaces the host's previous module. */
  moduleName: string;
  /** The CIL module; empty when `problems` is not. */
  module: string;
  fileContexts: SelinuxFileContext[];
  /** Paths restorecon must relabel (recursively) after installing or removing the module. */
  relabelPaths: string[];
  /** For every type of the module (objects, entry points, domains), the policies it comes from. */
  typePolicies: Record<string, string[]>;
  /** fromSource (and learning) domain → the binary whose processes run in it, to map AVCs back to binaries. */
  domainSources: Record<string, string>;
  /** Domains in permissive mode (learning), sorted. */
  permissiveDomains: string[];
  /** Rules SELinux cannot express. Non-empty: the host must not get this module. */
  problems: RenderProblem[];
  /** sha256 of `module`. */
  sha256: string;
}

/**
 * Entering a fromSource domain keeps the caller's environment, signal state and resource limits
 * (noatsecure, siginh, rlimitinh), as running the program did before: the domain confines the
 * program, it is not more privileged than its callers and needs no secure-exec scrubbing.
 */
const TRANSITION_PERMS = ['transition', 'noatsecure', 'siginh', 'rlimitinh'];

/** Header line the loader reads back from an installed module to know what to relabel on removal. */
export const RELABEL_HEADER = '; kvmservice-relabel-paths: ';

interface ObjectType {
  name: string;
  entries: FileContextEntry[];
  rules: ObjectRule[];
  /** fromSource binary whose entry point this is. */
  source?: string;
  inFileType: boolean;
  /** Classes worth rules: an entry point is a regular file. */
  classes: readonly FileClass[];
}

interface Subject {
  source: string;
  domain: string;
  exec: ObjectType;
  fileAllowList: boolean;
  processAllowList: boolean;
  network: NetworkRule[];
  capabilities: CapabilityRule[];
  policies: Set<string>;
  /** Learning mode: permissive, and an allow-list of its own rules for every class. */
  learning: boolean;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortedUnique = (items: Iterable<string>) => [...new Set(items)].sort(byString);

function sourcesOf(rule: HostPolicyRule): string[] {
  return rule.class === 'process' || rule.class === 'file' || rule.class === 'network' || rule.class === 'capability' ? rule.fromSource : [];
}

/** The rule with canonical paths (see `pathCanonicalizer`), so equal files compare equal. */
function canonicalRule(rule: HostPolicyRule, canon: (path: string) => string): HostPolicyRule {
  switch (rule.class) {
    case 'process':
    case 'file': {
      const t = rule.target;
      const target =
        t.kind === 'path' ? { ...t, path: canon(t.path) }
        : t.kind === 'dir' ? { ...t, dir: t.dir === '/' ? '/' : `${canon(t.dir.replace(/\/+$/, ''))}/` }
        : t.kind === 'pattern' ? { ...t, pattern: canon(t.pattern) }
        : t;
      return { ...rule, target, fromSource: rule.fromSource.map(canon) } as HostPolicyRule;
    }
    case 'network':
    case 'capability':
      return { ...rule, fromSource: rule.fromSource.map(canon) };
    default:
      return rule;
  }
}

function emptyResult(moduleName: string, problems: RenderProblem[]): RenderedSelinuxModule {
  const sorted = [...problems].sort((a, b) => byString(`${a.policy}\u0000${a.field}\u0000${a.reason}`, `${b.policy}\u0000${b.field}\u0000${b.reason}`));
  return { moduleName, module: '', fileContexts: [], relabelPaths: [], typePolicies: {}, domainSources: {}, permissiveDomains: [], problems: sorted, sha256: sha256Hex('') };
}

/** Renders the module for `host` from the policies that select it (selection is the caller's). Never throws. */
export function renderSelinuxModule(
  policies: readonly NormalizedHostPolicy[],
  host: { name: string },
  options?: SelinuxRenderOptions,
): RenderedSelinuxModule {
  const moduleName = moduleNameFor(host.name);
  try {
    return render(moduleName, policies, host, options);
  } catch (e) {
    // Unreachable for input the checks accept; a module is never emitted half-checked.
    const reason = e instanceof UnsafeCilText ? e.message : `internal error: ${(e as Error).message}`;
    return emptyResult(moduleName, [{ policy: policies.map((p) => p.name).join(','), field: '', reason }]);
  }
}

function render(moduleName: string, policies: readonly NormalizedHostPolicy[], host: { name: string }, options?: SelinuxRenderOptions): RenderedSelinuxModule {
  const postures = resolvePostures(options);
  if ('bad' in postures) {
    return emptyResult(moduleName, [{ policy: '', field: `options.posture.${postures.bad}`, reason: 'must be one of allow, audit, block' }]);
  }
  const ordered = [...policies].sort((a, b) => byString(a.name, b.name));
  const rules = ordered.flatMap((p) => p.rules);

  const canon = pathCanonicalizer(options?.pathAliases ?? DEFAULT_PATH_ALIASES);
  const problems: RenderProblem[] = ordered.flatMap(policyProblems);
  const usable: HostPolicyRule[] = [];
  for (const rule of rules) {
    const found = ruleProblems(rule, postures.file);
    problems.push(...found);
    if (found.length === 0) usable.push(canonicalRule(rule, canon));
  }
  const learning = new Set<string>();
  (options?.learning?.binaries ?? []).forEach((binary, i) => {
    const reason = typeof binary !== 'string' ? 'must be a string' : !/^\/.*[^/]$/.test(binary) ? "must be an absolute path without a trailing '/'" : unsafeTextReason(binary);
    if (reason) problems.push({ policy: '', field: `spec.learning.binaries[${i}]`, reason });
    else learning.add(canon(binary));
  });
  const objectRules = usable.filter((r): r is ObjectRule => r.class === 'process' || r.class === 'file');
  const sources = sortedUnique([...usable.flatMap(sourcesOf), ...learning]);
  const model = buildObjectModel(objectRules, sources);
  problems.push(...model.problems);
  if (problems.length > 0) return emptyResult(moduleName, problems);

  return emit(moduleName, host.name, postures, usable, sources, model.entries, model.targets, learning);
}

function emit(
  moduleName: string,
  hostName: string,
  postures: SelinuxPostures,
  rules: readonly HostPolicyRule[],
  sources: readonly string[],
  entries: Map<string, FileContextEntry>,
  targets: Map<string, { key: string; text: string; rules: ObjectRule[] }>,
  learning: ReadonlySet<string>,
): RenderedSelinuxModule {
  const prefix = `${NAME_PREFIX}_${hostId(hostName)}`;
  const names = new NameAllocator(prefix);
  const attr = {
    objects: `${prefix}_objects`,
    domains: `${prefix}_domains`,
    devices: `${prefix}_devices`,
    devicesAudited: `${prefix}_devices_audited`,
  };

  // ---- types of objects: one per distinct set of covering targets (+ entry-point role) ----------
  const groups = new Map<string, FileContextEntry[]>();
  for (const entry of [...entries.values()].sort((a, b) => byString(a.regex, b.regex))) {
    const signature = `${[...entry.targets].sort(byString).join('\n')}\u0000${entry.source ?? ''}`;
    groups.set(signature, [...(groups.get(signature) ?? []), entry]);
  }
  const objects: ObjectType[] = [];
  const domainOf = new Map<string, string>();
  for (const source of sources) domainOf.set(source, names.allocate(`domain:${source}`, source, '_t'));
  for (const [signature, members] of [...groups.entries()].sort((a, b) => byString(a[0], b[0]))) {
    const source = members.find((e) => e.source)?.source;
    const covering = sortedUnique(members.flatMap((e) => [...e.targets]));
    const objRules = covering.flatMap((k) => targets.get(k)!.rules);
    // Named after the most specific target (the longest path), which is the one the entries belong to.
    const readable = source ?? covering.map((k) => targets.get(k)!.text).sort((a, b) => b.length - a.length || byString(a, b))[0]!;
    const name = source ? names.allocate(`domain:${source}`, source, '_exec_t') : names.allocate(`object:${signature}`, readable, '_t');
    const globallyDenied = ACCESS_GROUPS.some((g) => !globalDecision(objRules, g).allowed);
    objects.push({ name, entries: members, rules: objRules, source, inFileType: !source && !globallyDenied, classes: source ? ['file'] : FILE_CLASSES });
  }
  objects.sort((a, b) => byString(a.name, b.name));
  const execOf = new Map(objects.filter((o) => o.source).map((o) => [o.source!, o]));

  const subjects: Subject[] = sources.map((source) => {
    const own = rules.filter((r) => sourcesOf(r).includes(source));
    return {
      source,
      domain: domainOf.get(source)!,
      exec: execOf.get(source)!,
      fileAllowList: own.some((r) => r.class === 'file' && r.action === 'Allow'),
      processAllowList: own.some((r) => r.class === 'process' && r.action === 'Allow'),
      network: own.filter((r): r is NetworkRule => r.class === 'network'),
      capabilities: own.filter((r): r is CapabilityRule => r.class === 'capability'),
      policies: new Set(own.map((r) => r.policy)),
      learning: learning.has(source),
    };
  });

  const out: string[] = [];
  const section = (title: string) => out.push('', cilComment(title));
  const cp = classPermissionNames(prefix);
  /** Rules for one access group on all classes of one of our object types (an entry point is a file). */
  const on = (kind: 'allow' | 'auditallow', source: string, o: ObjectType, group: AccessGroup | 'meta' | 'relabel'): string[] =>
    o.source
      ? avRule(kind, source, o.name, 'file', GROUP_PERMS[group].file.filter((p) => p !== 'execute_no_trans'))
      : [avRuleNamed(kind, source, o.name, cp[group])];

  // ---- declarations -------------------------------------------------------------------------
  section('permission groups (docs/selinux.md, "Mapping")');
  out.push(...classPermissions(cp));

  section('object types: files the policies name; entry points of fromSource binaries');
  out.push(attributeStatement(attr.objects));
  for (const o of objects) {
    const what = o.source ? `entry point of ${o.source}` : sortedUnique(o.rules.map((r) => `${r.policy} ${r.field}`)).join(', ');
    out.push(cilComment(`${o.name}: ${what}`), typeStatement(o.name), roleType('object_r', o.name));
  }
  out.push(...attributeSet(attr.objects, objects.map((o) => o.name)));
  for (const other of REF.associate) out.push(...avRule('allow', attr.objects, other, 'filesystem', ['associate']));
  out.push(...avRule('allow', attr.objects, 'self', 'filesystem', ['associate']));
  const inFileType = objects.filter((o) => o.inFileType).map((o) => o.name);
  out.push(...attributeSet(REF.fileType, inFileType), ...attributeSet('non_security_file_type', inFileType), ...attributeSet('non_auth_file_type', inFileType));

  if (subjects.length > 0) {
    section('fromSource domains');
    out.push(attributeStatement(attr.domains));
    for (const s of subjects) {
      out.push(cilComment(`${s.domain}: processes started from ${s.source}`), typeStatement(s.domain));
      for (const role of REF.roles) out.push(roleType(role, s.domain));
    }
    const domains = subjects.map((s) => s.domain);
    out.push(...attributeSet(REF.domain, domains), ...attributeSet(attr.domains, domains));
    for (const s of subjects.filter((x) => x.learning)) {
      out.push(cilComment(`learning mode: ${s.domain} is permissive (denials are logged with permissive=1, not enforced)`), typePermissive(s.domain));
    }
    out.push(
      attributeStatement(attr.devices),
      attributeExpression(attr.devices, REF.deviceNode, [...NEVERALLOW_DEVICE_TYPES]),
      attributeStatement(attr.devicesAudited),
      attributeExpression(attr.devicesAudited, attr.devices, [...RUNTIME_DEVICE_TYPES]),
    );
  }

  section('file contexts');
  const fileContexts: SelinuxFileContext[] = [];
  for (const o of objects) {
    for (const e of o.entries) {
      for (const regex of [e.regex, e.homeRootRegex].filter((r): r is string => r !== undefined)) {
        out.push(fileContext(regex, o.name));
        fileContexts.push({ pathRegex: regex, fileType: 'any', context: `system_u:object_r:${o.name}:s0` });
      }
    }
  }

  // ---- everyone ---------------------------------------------------------------------------------
  section(`everyone (${REF.everyone}): rules without fromSource`);
  for (const o of objects) {
    const decisions = Object.fromEntries(ACCESS_GROUPS.map((g) => [g, globalDecision(o.rules, g)])) as Record<AccessGroup, Decision>;
    if (!o.inFileType) {
      for (const g of ACCESS_GROUPS) if (decisions[g].allowed) out.push(...on('allow', REF.everyone, o, g));
      out.push(...on('allow', REF.everyone, o, 'meta'), ...on('allow', REF.everyone, o, 'relabel'));
      out.push(...on('allow', REF.setfiles, o, 'meta'), ...on('allow', REF.setfiles, o, 'relabel'));
      if (!o.source) out.push(...avRule('allow', REF.setfiles, o.name, 'dir', GROUP_PERMS.read.dir));
      if (subjects.length > 0) out.push(...on('allow', attr.domains, o, 'meta'));
    }
    for (const g of ACCESS_GROUPS) {
      if (decisions[g].audited && decisions[g].allowed) out.push(...on('auditallow', REF.domain, o, g));
    }
    if (o.source && decisions.exec.allowed) {
      const domain = domainOf.get(o.source)!;
      out.push(typeTransition(REF.everyone, o.name, domain), ...avRule('allow', REF.everyone, domain, 'process', TRANSITION_PERMS));
    }
  }

  // ---- fromSource domains -------------------------------------------------------------------------
  if (subjects.length > 0) {
    section('what every fromSource domain needs to run (as a process started by an unconfined one would)');
    out.push(...domainBase(attr.domains, cp));
  }
  const runtimeFiles = [...RUNTIME_READ_EXEC_TYPES, ...RUNTIME_READ_TYPES];
  for (const s of subjects) {
    section(`${s.domain} (${s.source})`);
    out.push(...avRule('allow', s.domain, s.exec.name, 'file', ['entrypoint', 'execute', 'execute_no_trans', ...GROUP_PERMS.read.file]));
    // Learning: nothing by default, so that everything no rule allows reaches the (permissive) denial.
    const fallback = (g: AccessGroup): Decision =>
      s.learning ? { allowed: false, audited: false }
      : (g === 'exec' ? s.processAllowList : s.fileAllowList) ? postureDecision(postures.file)
      : { allowed: true, audited: false };
    const same = (a: Decision, b: Decision) => a.allowed === b.allowed && a.audited === b.audited;
    for (const g of ACCESS_GROUPS) {
      const base = fallback(g);
      // What the domain may do by default, to every file_type but those where its rules decide otherwise.
      if (base.allowed) {
        const exceptions = objects.filter((o) => o.inFileType && !same(sourceDecision(o.rules, s.source, g, base), base)).map((o) => o.name);
        const all = `${s.domain}_${g}`;
        out.push(attributeStatement(all), attributeExpression(all, REF.fileType, [...NEVERALLOW_FILE_TYPES, ...exceptions]));
        out.push(avRuleNamed('allow', s.domain, all, cp[g]));
        if (g !== 'exec') out.push(...avRule('allow', s.domain, attr.devices, 'chr_file', GROUP_PERMS[g].chr_file), ...avRule('allow', s.domain, attr.devices, 'blk_file', GROUP_PERMS[g].blk_file));
        if (base.audited) {
          out.push(attributeStatement(`${all}_audited`), attributeExpression(`${all}_audited`, all, runtimeFiles));
          out.push(avRuleNamed('auditallow', s.domain, `${all}_audited`, cp[g]));
          if (g !== 'exec') out.push(...avRule('auditallow', s.domain, attr.devicesAudited, 'chr_file', GROUP_PERMS[g].chr_file), ...avRule('auditallow', s.domain, attr.devicesAudited, 'blk_file', GROUP_PERMS[g].blk_file));
        }
      }
      // Our types the default does not cover: those outside file_type, and the exceptions.
      for (const o of objects) {
        if (o === s.exec && g !== 'write') continue; // the entry point rule above
        const d = sourceDecision(o.rules, s.source, g, base);
        if (!d.allowed || (o.inFileType && same(d, base))) continue;
        out.push(...on('allow', s.domain, o, g));
        if (d.audited) out.push(...on('auditallow', s.domain, o, g));
      }
    }
    for (const o of objects) {
      if (!o.source || o.source === s.source || !sourceDecision(o.rules, s.source, 'exec', fallback('exec')).allowed) continue;
      const target = domainOf.get(o.source)!;
      out.push(typeTransition(s.domain, o.name, target), ...avRule('allow', s.domain, target, 'process', TRANSITION_PERMS));
    }
    out.push(...networkRules(s, postures), ...capabilityRules(s, postures));
  }

  const module = [
    cilComment(`KVMService SELinux policy module ${moduleName} for host ${hostName}; generated, do not edit`),
    `${RELABEL_HEADER}${JSON.stringify(relabelPaths(objects))}`,
    ...out,
    '',
  ].join('\n');

  const typePolicies: Record<string, string[]> = {};
  for (const o of objects) {
    const fromSubject = o.source ? [...subjects.find((s) => s.source === o.source)!.policies] : [];
    typePolicies[o.name] = sortedUnique([...o.rules.map((r) => r.policy), ...fromSubject]);
  }
  for (const s of subjects) typePolicies[s.domain] = sortedUnique(s.policies);

  return {
    moduleName,
    module,
    fileContexts,
    relabelPaths: relabelPaths(objects),
    typePolicies: Object.fromEntries(Object.entries(typePolicies).sort((a, b) => byString(a[0], b[0]))),
    domainSources: Object.fromEntries(subjects.map((s) => [s.domain, s.source] as const).sort((a, b) => byString(a[0], b[0]))),
    permissiveDomains: subjects.filter((s) => s.learning).map((s) => s.domain).sort(byString),
    problems: [],
    sha256: sha256Hex(module),
  };
}

/** restorecon roots: one per entry, without those inside another (restorecon -R covers them). */
function relabelPaths(objects: readonly ObjectType[]): string[] {
  const all = sortedUnique(objects.flatMap((o) => o.entries.map((e) => e.relabel)));
  return all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}/`)));
}

type Group = AccessGroup | 'meta' | 'relabel';
const GROUPS: readonly Group[] = ['read', 'write', 'exec', 'meta', 'relabel'];

/** Names of the module's class permissions: one per access group, over every file class. */
function classPermissionNames(prefix: string): Record<Group, string> {
  return Object.fromEntries(GROUPS.map((g) => [g, `${prefix}_${g}_perms`])) as Record<Group, string>;
}

/** `(classpermission …)` and its `(classpermissionset …)` per file class (CIL's named permission sets). */
function classPermissions(cp: Record<Group, string>): string[] {
  return GROUPS.flatMap((g) => [
    `(classpermission ${cilIdentifier(cp[g])})`,
    ...FILE_CLASSES.filter((cls) => GROUP_PERMS[g][cls].length > 0).map(
      (cls) => `(classpermissionset ${cilIdentifier(cp[g])} (${cls} (${GROUP_PERMS[g][cls].map(cilIdentifier).join(' ')})))`,
    ),
  ]);
}

/** Base access of every fromSource domain: itself, its parent processes, stat and traversal, the dynamic loader, terminals. */
function domainBase(domains: string, cp: Record<Group, string>): string[] {
  const out: string[] = [];
  out.push(...avRule('allow', domains, 'self', 'process', SELF_PROCESS_PERMS));
  out.push(...avRule('allow', domains, 'self', 'fifo_file', ['open', 'read', 'write', 'getattr', 'ioctl', 'append', 'lock']));
  const ipc = ['create', 'destroy', 'getattr', 'setattr', 'read', 'write', 'associate', 'unix_read', 'unix_write'];
  out.push(...avRule('allow', domains, 'self', 'sem', ipc), ...avRule('allow', domains, 'self', 'shm', [...ipc, 'lock']));
  out.push(...avRule('allow', domains, 'self', 'msgq', [...ipc, 'enqueue']), ...avRule('allow', domains, 'self', 'msg', ['send', 'receive']));
  out.push(...avRule('allow', domains, 'self', 'key', ['view', 'read', 'write', 'search', 'link', 'setattr', 'create']));
  // Parents and peers: inherited descriptors, pipes and sockets, signals, /proc/<pid>.
  out.push(...avRule('allow', domains, REF.domain, 'fd', ['use']));
  out.push(...avRule('allow', domains, REF.domain, 'process', ['sigchld', 'sigkill', 'sigstop', 'signull', 'signal', 'getattr']));
  out.push(...avRule('allow', domains, REF.domain, 'fifo_file', ['read', 'write', 'getattr', 'ioctl', 'append', 'lock']));
  for (const cls of ['unix_stream_socket', 'unix_dgram_socket']) {
    out.push(...avRule('allow', domains, REF.domain, cls, ['read', 'write', 'getattr', 'ioctl', 'append', 'getopt', 'setopt', 'shutdown']));
  }
  out.push(...avRule('allow', domains, REF.domain, 'dir', ['getattr', 'search', 'open', 'read']));
  out.push(...avRule('allow', domains, REF.domain, 'file', ['getattr', 'open', 'read']));
  out.push(...avRule('allow', domains, REF.domain, 'lnk_file', ['getattr', 'read']));
  // Stat and path traversal everywhere (not mediated by KubeArmor rules either).
  out.push(avRuleNamed('allow', domains, REF.fileType, cp.meta));
  out.push(...avRule('allow', domains, REF.deviceNode, 'chr_file', ['getattr']), ...avRule('allow', domains, REF.deviceNode, 'blk_file', ['getattr']));
  out.push(...avRule('allow', domains, REF.filesystemType, 'filesystem', ['getattr']));
  // The dynamic loader, shared libraries, locale, /proc and /sys basics, terminals and null devices.
  for (const t of RUNTIME_READ_EXEC_TYPES) {
    out.push(...avRule('allow', domains, t, 'file', [...GROUP_PERMS.read.file, 'execute']), ...avRule('allow', domains, t, 'lnk_file', GROUP_PERMS.read.lnk_file));
    out.push(...avRule('allow', domains, t, 'dir', GROUP_PERMS.read.dir));
  }
  for (const t of RUNTIME_READ_TYPES) {
    out.push(...avRule('allow', domains, t, 'file', GROUP_PERMS.read.file), ...avRule('allow', domains, t, 'dir', GROUP_PERMS.read.dir));
    out.push(...avRule('allow', domains, t, 'lnk_file', GROUP_PERMS.read.lnk_file));
  }
  for (const t of RUNTIME_DEVICE_TYPES) {
    out.push(...avRule('allow', domains, t, 'chr_file', [...GROUP_PERMS.read.chr_file.filter((p) => p !== 'map'), 'write', 'append']));
  }
  return out;
}

function socketDecision(s: Subject, cls: string, posture: SelinuxPostures['network']): Decision {
  const naming = s.network.filter((r) => PROTOCOL_CLASSES[r.protocol].includes(cls));
  const audited = naming.some((r) => r.action === 'Audit');
  if (naming.some((r) => r.action === 'Block')) return { allowed: false, audited: false };
  if (naming.some((r) => r.action === 'Allow')) return { allowed: true, audited };
  const allowList = (s.learning || s.network.some((r) => r.action === 'Allow')) && (POSTURE_SOCKET_CLASSES as readonly string[]).includes(cls);
  const base = allowList ? postureDecision(s.learning ? 'block' : posture) : { allowed: true, audited: false };
  return { allowed: base.allowed, audited: base.allowed && (audited || base.audited) };
}

function networkRules(s: Subject, postures: SelinuxPostures): string[] {
  const out: string[] = [];
  for (const cls of ALL_SOCKET_CLASSES) {
    const d = socketDecision(s, cls, postures.network);
    if (!d.allowed) continue;
    const perms = [...SOCKET_PERMS, ...(SOCKET_EXTRA_SELF[cls] ?? [])];
    out.push(...avRule('allow', s.domain, 'self', cls, perms));
    if (d.audited) out.push(...avRule('auditallow', s.domain, 'self', cls, perms));
    const ports = PORT_CLASSES[cls];
    if (ports) {
      out.push(...avRule('allow', s.domain, REF.portType, cls, ports.port), ...avRule('allow', s.domain, REF.nodeType, cls, ports.node));
    }
    if (cls === 'unix_stream_socket') out.push(...avRule('allow', s.domain, REF.domain, cls, ['connectto']));
    if (cls === 'unix_dgram_socket') out.push(...avRule('allow', s.domain, REF.domain, cls, ['sendto']));
  }
  return out;
}

function capabilityRules(s: Subject, postures: SelinuxPostures): string[] {
  const named = s.capabilities.map((r) => r.capability as string);
  const universe = sortedUnique([...DEFAULT_CAPABILITIES, ...DEFAULT_CAPABILITIES2, ...named]);
  const allowList = s.learning || s.capabilities.some((r) => r.action === 'Allow');
  const capabilityPosture = s.learning ? 'block' : postures.capabilities;
  const allowed: string[] = [];
  const audited: string[] = [];
  for (const cap of universe) {
    const rules = s.capabilities.filter((r) => r.capability === cap);
    let d: Decision;
    if (rules.some((r) => r.action === 'Block')) d = { allowed: false, audited: false };
    else if (rules.some((r) => r.action === 'Allow')) d = { allowed: true, audited: rules.some((r) => r.action === 'Audit') };
    else {
      const base = allowList ? postureDecision(capabilityPosture) : { allowed: true, audited: false };
      const byDefault = DEFAULT_CAPABILITIES.includes(cap) || DEFAULT_CAPABILITIES2.includes(cap);
      d = { allowed: base.allowed && byDefault, audited: base.allowed && byDefault && (base.audited || rules.some((r) => r.action === 'Audit')) };
    }
    if (d.allowed) allowed.push(cap);
    if (d.allowed && d.audited) audited.push(cap);
  }
  const inCapability2 = new Set<string>([...CAPABILITY2, ...DEFAULT_CAPABILITIES2]);
  const split = (caps: string[]) => ({ one: caps.filter((c) => !inCapability2.has(c)), two: caps.filter((c) => inCapability2.has(c)) });
  const out: string[] = [];
  for (const [kind, caps] of [['allow', allowed], ['auditallow', audited]] as const) {
    const { one, two } = split(caps);
    out.push(...avRule(kind, s.domain, 'self', 'capability', one), ...avRule(kind, s.domain, 'self', 'cap_userns', one));
    out.push(...avRule(kind, s.domain, 'self', 'capability2', two), ...avRule(kind, s.domain, 'self', 'cap2_userns', two));
  }
  if (allowed.includes('sys_module')) out.push(...attributeSet(REF.loadKernelModule, [s.domain]));
  return out;
}
