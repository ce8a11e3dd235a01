import type { KubeArmorHostPolicy, RuleMeta, SourcePath, SyscallSourceSelector } from './kubearmor-host-policy.js';
import { splitCommaList } from './kubearmor-host-policy.js';
import type {
  Capability,
  HostPolicyRule,
  NetworkProtocol,
  NormalizedHostPolicy,
  PathTarget,
  PolicyAction,
  SyscallSource,
} from './normalized.js';

/** Upstream case-folds the action (`allow` → `Allow`) and defaults it to Block. */
export function foldAction(action: string | undefined): PolicyAction | undefined {
  switch (action?.toLowerCase()) {
    case 'allow':
      return 'Allow';
    case 'audit':
      return 'Audit';
    case 'block':
      return 'Block';
    default:
      return undefined;
  }
}

interface Inherited {
  action: PolicyAction;
  severity?: number;
  tags: string[];
  message?: string;
}

/** item ← block ← policy for severity/tags/message/action (upstream `ParseAndUpdateHostSecurityPolicy`). */
function inherit(parent: Inherited, own: RuleMeta | undefined): Inherited {
  return {
    action: foldAction(own?.action) ?? parent.action,
    severity: own?.severity ? own.severity : parent.severity,
    tags: own?.tags && own.tags.length > 0 ? own.tags : parent.tags,
    message: own?.message ? own.message : parent.message,
  };
}

function withoutUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

const sources = (list: SourcePath[] | undefined): string[] => (list ?? []).map((s) => s.path).filter((p): p is string => !!p);

function syscallSources(list: SyscallSourceSelector[] | undefined): SyscallSource[] {
  return (list ?? []).flatMap((s): SyscallSource[] => {
    if (s.path) return [{ path: s.path }];
    if (s.dir) return [{ dir: s.dir, recursive: s.recursive ?? false }];
    return [];
  });
}

/**
 * Derives the normalised view of a valid policy. It never mutates the input and never throws on a
 * valid object; rules appear in the order they are written.
 */
export function normalizeHostPolicy(policy: KubeArmorHostPolicy): NormalizedHostPolicy {
  const spec = policy.spec;
  const name = policy.metadata.name;
  const top = inherit({ action: 'Block', tags: [] }, spec);
  const rules: HostPolicyRule[] = [];
  const base = (field: string, meta: Inherited) => withoutUndefined({ policy: name, field, ...meta });

  const proc = spec.process;
  if (proc) {
    const block = inherit(top, proc);
    (proc.matchPaths ?? []).forEach((m, i) => {
      const target: PathTarget = m.path !== undefined ? { kind: 'path', path: m.path } : { kind: 'execname', name: m.execname ?? '' };
      rules.push({
        ...base(`spec.process.matchPaths[${i}]`, inherit(block, m)),
        class: 'process',
        target,
        fromSource: sources(m.fromSource),
        ownerOnly: m.ownerOnly ?? false,
        pts: m.pts ?? false,
        allowedArgs: m.allowedArgs ?? [],
      });
    });
    (proc.matchDirectories ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.process.matchDirectories[${i}]`, inherit(block, m)),
        class: 'process',
        target: { kind: 'dir', dir: m.dir, recursive: m.recursive ?? false },
        fromSource: sources(m.fromSource),
        ownerOnly: m.ownerOnly ?? false,
        pts: m.pts ?? false,
        allowedArgs: [],
      });
    });
    (proc.matchPatterns ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.process.matchPatterns[${i}]`, inherit(block, m)),
        class: 'process',
        target: { kind: 'pattern', pattern: m.pattern },
        fromSource: [],
        ownerOnly: m.ownerOnly ?? false,
        pts: false,
        allowedArgs: [],
      });
    });
  }

  const file = spec.file;
  if (file) {
    const block = inherit(top, file);
    (file.matchPaths ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.file.matchPaths[${i}]`, inherit(block, m)),
        class: 'file',
        target: { kind: 'path', path: m.path },
        fromSource: sources(m.fromSource),
        readOnly: m.readOnly ?? false,
        ownerOnly: m.ownerOnly ?? false,
        pts: m.pts ?? false,
      });
    });
    (file.matchDirectories ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.file.matchDirectories[${i}]`, inherit(block, m)),
        class: 'file',
        target: { kind: 'dir', dir: m.dir, recursive: m.recursive ?? false },
        fromSource: sources(m.fromSource),
        readOnly: m.readOnly ?? false,
        ownerOnly: m.ownerOnly ?? false,
        pts: m.pts ?? false,
      });
    });
    (file.matchPatterns ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.file.matchPatterns[${i}]`, inherit(block, m)),
        class: 'file',
        target: { kind: 'pattern', pattern: m.pattern },
        fromSource: [],
        readOnly: m.readOnly ?? false,
        ownerOnly: m.ownerOnly ?? false,
        pts: false,
      });
    });
  }

  const net = spec.network;
  if (net) {
    const block = inherit(top, net);
    (net.matchProtocols ?? []).forEach((m, i) => {
      for (const protocol of splitCommaList(m.protocol)) {
        rules.push({
          ...base(`spec.network.matchProtocols[${i}]`, inherit(block, m)),
          class: 'network',
          protocol: protocol.toLowerCase() as NetworkProtocol,
          fromSource: sources(m.fromSource),
        });
      }
    });
    (net.matchDNSQueries ?? []).forEach((m, i) => {
      for (const domain of splitCommaList(m.domain)) {
        rules.push({
          ...base(`spec.network.matchDNSQueries[${i}]`, inherit(block, m)),
          class: 'dns',
          domain,
          fromSource: sources(m.fromSource),
        });
      }
    });
  }

  const caps = spec.capabilities;
  if (caps) {
    const block = inherit(top, caps);
    (caps.matchCapabilities ?? []).forEach((m, i) => {
      for (const capability of splitCommaList(m.capability)) {
        rules.push({
          ...base(`spec.capabilities.matchCapabilities[${i}]`, inherit(block, m)),
          class: 'capability',
          capability: capability.toLowerCase() as Capability,
          fromSource: sources(m.fromSource),
        });
      }
    });
  }

  const sys = spec.syscalls;
  if (sys) {
    // Syscall rules inherit severity/tags/message only; upstream always treats them as Audit.
    const block = inherit(top, { severity: sys.severity, tags: sys.tags, message: sys.message });
    (sys.matchSyscalls ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.syscalls.matchSyscalls[${i}]`, { ...block, action: 'Audit' }),
        class: 'syscall',
        action: 'Audit',
        syscalls: m.syscall ?? [],
        fromSource: syscallSources(m.fromSource),
      });
    });
    (sys.matchPaths ?? []).forEach((m, i) => {
      rules.push({
        ...base(`spec.syscalls.matchPaths[${i}]`, { ...block, action: 'Audit' }),
        class: 'syscall',
        action: 'Audit',
        syscalls: m.syscall ?? [],
        ...(m.path !== undefined ? { path: { path: m.path, recursive: m.recursive ?? false } } : {}),
        fromSource: syscallSources(m.fromSource),
      });
    });
  }

  const dev = spec.device;
  if (dev) {
    const block = inherit(top, dev);
    (dev.matchDevice ?? []).forEach((m, i) => {
      rules.push(
        withoutUndefined({
          ...base(`spec.device.matchDevice[${i}]`, inherit(block, m)),
          class: 'device' as const,
          deviceClass: m.class,
          subClass: m.subClass,
          protocol: m.protocol,
          level: m.level,
        }),
      );
    });
  }

  return withoutUndefined({
    name,
    resourceVersion: policy.metadata.resourceVersion,
    uid: policy.metadata.uid,
    nodeSelector: { ...spec.nodeSelector.matchLabels },
    action: top.action,
    rules,
    apparmor: spec.apparmor,
  });
}
