/**
 * Differential test: for generated policies (valid upstream examples and mutations of them), our
 * verdict equals ajv's verdict on the CRD's openAPIV3Schema with Kubernetes strict field validation,
 * combined with our documented stricter rules (docs/policy-reference.md), each re-stated below
 * independently of the implementation.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocuments, validateResource } from '@kvmservice/resources';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';
import { hostPolicyCrdValidator } from '../support/crd-schemas.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function seeds(): Obj[] {
  const dir = conformanceDir('kubearmor');
  const out: Obj[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.startsWith('crd__'))) {
    for (const doc of parseDocuments(readConformanceFile(dir, file), file)) {
      if (isObj(doc.object) && doc.object.kind === 'KubeArmorHostPolicy' && validateResource(doc.object).valid) out.push(doc.object);
    }
  }
  return out;
}

// ---- stricter rules, restated ------------------------------------------------------------------
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const PROTOCOLS = ['tcp', 'udp', 'raw', 'icmp', 'icmpv6', 'sctp', 'stream', 'dgram', 'rdm', 'seqpacket', 'dccp', 'packet', 'all'];
const CAPS = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin'];
const commaItems = (s: string) => s.split(',').map((x) => x.replace(/\s+/g, '')).filter((x) => x !== '');
const stringMap = (v: Json | undefined) => isObj(v) && Object.values(v).every((x) => typeof x === 'string');
const safe = (s: Json | undefined) => typeof s !== 'string' || !(/[\u0000-\u001f\u007f"\\]/.test(s) || s.includes('@{'));
function balanced(p: string): boolean {
  let depth = 0;
  let bracket = false;
  for (const ch of p) {
    if (bracket) { if (ch === ']') bracket = false; continue; }
    if (ch === '[') bracket = true;
    else if (ch === ']') return false;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth < 0) return false;
  }
  return !bracket && depth === 0;
}
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const get = (o: Json | undefined, k: string): Json | undefined => (isObj(o) ? o[k] : undefined);

/** Each rule returns true when the object satisfies it. Only meaningful on CRD-valid objects. */
const STRICTER_RULES: Record<string, (p: Obj) => boolean> = {
  'apiVersion and kind are exactly security.kubearmor.com/v1 KubeArmorHostPolicy': (p) => p.apiVersion === 'security.kubearmor.com/v1' && p.kind === 'KubeArmorHostPolicy',
  'metadata has a DNS-1123 name and only known fields with the right types': (p) => {
    const m = p.metadata;
    if (!isObj(m)) return false;
    const known = ['name', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp'];
    if (!Object.keys(m).every((k) => known.includes(k))) return false;
    if (typeof m.name !== 'string' || m.name.length > 253 || !DNS1123.test(m.name)) return false;
    if (m.labels !== undefined && !(stringMap(m.labels) && Object.entries(m.labels as Obj).every(([k, v]) => LABEL_KEY.test(k) && LABEL_VALUE.test(v as string)))) return false;
    if (m.annotations !== undefined && !stringMap(m.annotations)) return false;
    if (m.uid !== undefined && typeof m.uid !== 'string') return false;
    if (m.resourceVersion !== undefined && !(typeof m.resourceVersion === 'string' && /^[0-9]+$/.test(m.resourceVersion))) return false;
    if (m.generation !== undefined && !(Number.isInteger(m.generation) && (m.generation as number) >= 0)) return false;
    if (m.creationTimestamp !== undefined && typeof m.creationTimestamp !== 'string') return false;
    return true;
  },
  'spec is present (the CRD does not require it)': (p) => isObj(p.spec),
  'nodeSelector.matchLabels is present and not empty': (p) => {
    const ml = get(get(p.spec, 'nodeSelector'), 'matchLabels');
    return isObj(ml) && Object.keys(ml).length > 0;
  },
  'process.matchPaths items set exactly one of path and execname': (p) =>
    list(get(get(p.spec, 'process'), 'matchPaths')).every((m) => (get(m, 'path') === undefined) !== (get(m, 'execname') === undefined)),
  'fromSource items name a path (syscall sources a path or a dir)': (p) => {
    const spec = (isObj(p.spec) ? p.spec : {}) as Obj;
    const items = [
      ...['matchPaths', 'matchDirectories'].flatMap((b) => [...list(get(spec.process, b)), ...list(get(spec.file, b))]),
      ...list(get(spec.network, 'matchProtocols')),
      ...list(get(spec.network, 'matchDNSQueries')),
      ...list(get(spec.capabilities, 'matchCapabilities')),
    ];
    const sys = [...list(get(spec.syscalls, 'matchSyscalls')), ...list(get(spec.syscalls, 'matchPaths'))];
    return (
      items.every((m) => list(get(m, 'fromSource')).every((s) => get(s, 'path') !== undefined)) &&
      sys.every((m) => list(get(m, 'fromSource')).every((s) => get(s, 'path') !== undefined || get(s, 'dir') !== undefined))
    );
  },
  'every comma-separated protocol and capability is a known one; domains are not empty': (p) => {
    const spec = (isObj(p.spec) ? p.spec : {}) as Obj;
    const protocols = list(get(spec.network, 'matchProtocols')).map((m) => get(m, 'protocol') as string);
    const caps = list(get(spec.capabilities, 'matchCapabilities')).map((m) => get(m, 'capability') as string);
    const domains = list(get(spec.network, 'matchDNSQueries')).map((m) => get(m, 'domain') as string);
    return (
      protocols.every((s) => commaItems(s).length > 0 && commaItems(s).every((x) => PROTOCOLS.includes(x.toLowerCase()))) &&
      caps.every((s) => commaItems(s).length > 0 && commaItems(s).every((x) => CAPS.includes(x.toLowerCase()))) &&
      domains.every((s) => commaItems(s).length > 0)
    );
  },
  'paths, patterns, names and domains contain no control character, quote, backslash or "@{"': (p) => {
    const spec = (isObj(p.spec) ? p.spec : {}) as Obj;
    const texts: (Json | undefined)[] = [];
    for (const block of [spec.process, spec.file]) {
      for (const m of list(get(block, 'matchPaths'))) texts.push(get(m, 'path'), get(m, 'execname'), ...list(get(m, 'fromSource')).map((s) => get(s, 'path')));
      for (const m of list(get(block, 'matchDirectories'))) texts.push(get(m, 'dir'), ...list(get(m, 'fromSource')).map((s) => get(s, 'path')));
      for (const m of list(get(block, 'matchPatterns'))) texts.push(get(m, 'pattern'));
    }
    for (const m of [...list(get(spec.network, 'matchProtocols')), ...list(get(spec.capabilities, 'matchCapabilities'))]) texts.push(...list(get(m, 'fromSource')).map((s) => get(s, 'path')));
    for (const m of list(get(spec.network, 'matchDNSQueries'))) texts.push(get(m, 'domain'), ...list(get(m, 'fromSource')).map((s) => get(s, 'path')));
    for (const m of [...list(get(spec.syscalls, 'matchSyscalls')), ...list(get(spec.syscalls, 'matchPaths'))]) {
      texts.push(get(m, 'path'), ...list(get(m, 'fromSource')).flatMap((s) => [get(s, 'path'), get(s, 'dir')]));
    }
    return texts.every(safe);
  },
  'matchPatterns are absolute with balanced braces and brackets': (p) =>
    [get(p.spec, 'process'), get(p.spec, 'file')].every((b) =>
      list(get(b, 'matchPatterns')).every((m) => {
        const pat = get(m, 'pattern');
        return typeof pat !== 'string' || (pat.startsWith('/') && balanced(pat));
      }),
    ),
};

// ---- mutations ------------------------------------------------------------------------------------
const VALUES: Json[] = [
  '/etc/passwd', '/usr/bin/', 'relative/path', '', '/tmp/*', '/tmp/{a,b', '/a"b', '/a\nb', '/a\\b', '/home/@{USER}/x', '/etc/',
  '/', 'bash', '*', 'a,b', 'example.com', 'tcp', 'TCP', 'xtcp', 'tcp,udp', 'tcp, bogus', 'Tcp', 'net_raw', 'NET_RAW', 'xnet_raw',
  'net_raw,chown', 'Allow', 'allow', 'Block', 'Audit', 'Deny', 'unlink', 'notasyscall', 'UPPER', 'x'.repeat(201),
  0, 1, 5, 10, 11, -1, 2.5, 2147483648, true, false, null, [], ['x'], ['unlink', 'rmdir'], [{ path: '/bin/ls' }], [{}], [{ dir: '/bin/' }],
  {}, { matchLabels: { a: 'b' } }, { matchLabels: {} }, { path: '/bin/ls' }, { 'bad key': 'v' }, { app: 'web' },
];
const KEYS = [
  'path', 'dir', 'recursive', 'readOnly', 'ownerOnly', 'fromSource', 'severity', 'action', 'tags', 'message', 'matchPaths',
  'matchDirectories', 'matchPatterns', 'protocol', 'capability', 'execname', 'allowedArgs', 'pts', 'pattern', 'domain',
  'syscall', 'labels', 'name', 'bogus', 'Path', 'readonly',
];
const ITEMS: Record<string, Json[]> = {
  'spec.process.matchPaths': [{ path: '/usr/bin/curl' }, { execname: 'nc' }, { path: '/bin/sh', execname: 'sh' }, {}, { path: '/bin/ls', fromSource: [{ path: '/bin/bash' }], action: 'Allow' }],
  'spec.file.matchDirectories': [{ dir: '/var/log/', recursive: true, readOnly: true }, { dir: '/var/log' }, { dir: '/etc/', fromSource: [{}] }],
  'spec.file.matchPatterns': [{ pattern: '/tmp/*.sh' }, { pattern: '*.sh' }, { pattern: '/tmp/[ab' }],
  'spec.network.matchProtocols': [{ protocol: 'tcp', fromSource: [{ path: '/usr/bin/curl' }] }, { protocol: 'icmp' }, { protocol: 'udp,raw', fromSource: [{ path: '/bin/ping' }] }],
  'spec.capabilities.matchCapabilities': [{ capability: 'net_raw', fromSource: [{ path: '/bin/ping' }] }, { capability: 'sys_admin,bogus', fromSource: [{ path: '/bin/x' }] }],
  'spec.syscalls.matchSyscalls': [{ syscall: ['unlink'] }, { syscall: ['bogus'] }, { syscall: ['rmdir'], fromSource: [{ dir: '/usr/bin/', recursive: true }] }, { fromSource: [{ recursive: true }] }],
};

type Step = { op: 'set' | 'delete' | 'add' | 'push'; pick: number; value: number; key: number };

function nodes(root: Json, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(root)) root.forEach((v, i) => nodes(v, [...path, i], out));
  else if (isObj(root)) for (const [k, v] of Object.entries(root)) nodes(v, [...path, k], out);
  return out;
}

function apply(obj: Obj, step: Step): void {
  const all = nodes(obj).filter((p) => p.length > 0);
  if (step.op === 'push') {
    const keys = Object.keys(ITEMS);
    const where = keys[step.pick % keys.length]!;
    const [, block, field] = where.split('.') as [string, string, string];
    const spec = (obj.spec ??= {}) as Obj;
    if (!isObj(spec)) return;
    const b = isObj(spec[block]) ? (spec[block] as Obj) : (spec[block] = {});
    const items = ITEMS[where]!;
    const arr = Array.isArray(b[field]) ? (b[field] as Json[]) : (b[field] = []);
    arr.push(structuredClone(items[step.value % items.length]!));
    return;
  }
  const target = step.op === 'add' ? [[], ...all].filter((p) => isObj(at(obj, p)))[step.pick % [[], ...all].filter((p) => isObj(at(obj, p))).length] : all[step.pick % all.length];
  if (!target) return;
  if (step.op === 'add') {
    (at(obj, target) as Obj)[KEYS[step.key % KEYS.length]!] = structuredClone(VALUES[step.value % VALUES.length]!);
    return;
  }
  const parent = at(obj, target.slice(0, -1));
  const last = target[target.length - 1]!;
  if (step.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else if (isObj(parent)) delete parent[last as string];
  } else if (Array.isArray(parent)) parent[last as number] = structuredClone(VALUES[step.value % VALUES.length]!);
  else if (isObj(parent)) parent[last as string] = structuredClone(VALUES[step.value % VALUES.length]!);
}

function at(root: Json, path: (string | number)[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const k of path) cur = Array.isArray(cur) ? cur[k as number] : isObj(cur) ? cur[k as string] : undefined;
  return cur;
}

describe('KubeArmorHostPolicy validation agrees with ajv on the CRD schema plus the stricter rules', () => {
  const base = seeds();
  const ajv = hostPolicyCrdValidator({ unknownFields: 'reject' });
  const step = fc.record({
    op: fc.constantFrom<Step['op']>('set', 'delete', 'add', 'push'),
    pick: fc.nat(1000),
    value: fc.nat(1000),
    key: fc.nat(1000),
  });

  it('has upstream seeds', () => expect(base.length).toBeGreaterThanOrEqual(40));

  it('on 600 generated policies', () => {
    const verdicts = { valid: 0, invalid: 0, stricterOnly: 0 };
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.array(step, { minLength: 0, maxLength: 3 }), (seed, steps) => {
        const policy = structuredClone(base[seed]!);
        for (const s of steps) apply(policy, s);
        const crdValid = ajv(policy) === true;
        const failed = crdValid ? Object.entries(STRICTER_RULES).filter(([, ok]) => !ok(policy)).map(([name]) => name) : [];
        const expected = crdValid && failed.length === 0;
        const ours = validateResource(policy);
        if (ours.valid) verdicts.valid++;
        else verdicts.invalid++;
        if (crdValid && failed.length > 0) verdicts.stricterOnly++;
        const detail = ours.valid ? 'ours: valid' : `ours: ${JSON.stringify(ours.errors)}`;
        expect(ours.valid, `${JSON.stringify(policy)}\najv: ${JSON.stringify(ajv.errors)}\nstricter rules broken: ${failed.join('; ')}\n${detail}`).toBe(expected);
      }),
      { numRuns: 600, seed: Number(process.env.FC_SEED ?? 20261128) },
    );
    // The generator must exercise both verdicts and the stricter rules, or the test proves nothing.
    expect(verdicts.valid).toBeGreaterThan(100);
    expect(verdicts.invalid).toBeGreaterThan(100);
    expect(verdicts.stricterOnly).toBeGreaterThan(20);
  });
});
