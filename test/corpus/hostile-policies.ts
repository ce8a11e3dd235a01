/**
 * A deterministic corpus of malformed and hostile policy files for `hostile-policies.test.ts`.
 * Every document says what it attacks (family, note), what a correct product must do with it
 * (refuse it naming a field, accept it, or either as long as every path agrees) and how a client
 * sends it to the ControlService (`wire`: one JSON text per object, as `kvmctl apply` sends them).
 *
 * Expectations are written here by hand from the policy reference (docs/policy-reference.md), not
 * computed with the validation under test. Seeded with `prng` (mulberry32): the same seed gives
 * the same corpus.
 */
import { toYaml } from '@kvmservice/resources';
import { prng } from '../support/policy-storm.js';

export const FAMILIES = [
  'wrong-types',
  'missing-required',
  'apparmor-injection',
  'cil-injection',
  'huge',
  'deep-nesting',
  'yaml-bomb',
  'unknown-fields',
  'wrong-kind',
  'duplicates',
  'multi-document',
] as const;
export type Family = (typeof FAMILIES)[number];

/** Text a path or pattern may carry; it must never show up in a profile outside a quoted string. */
export const MARKER = '/kvm-injected-marker';
/** The host label every corpus policy selects. */
export const HOST_LABELS = { 'kubearmor.io/hostname': 'hostile-host' };

export interface Expectation {
  /**
   * `invalid`: every path refuses it; `valid`: every path accepts it; `either`: the product decides,
   * but kvmctl validate and the server must agree, and an accepted document must render safely.
   */
  verdict: 'invalid' | 'valid' | 'either';
  /**
   * For a refusal: the field the problem line must name (that field or one below it). Empty: the
   * problem is the whole document or object (YAML syntax, limits, duplicates).
   */
  field?: string;
  /** 1-based position of the refused object in the file (and among the corpus objects of the apply). */
  object?: number;
  /** kvmctl refuses the document before it is an object (YAML syntax, nesting or alias limits). */
  documentLevel?: boolean;
  /** The refusal must give this reason (checked on kvmctl's line and on the server's). */
  reason?: RegExp;
}

export interface HostileDocument {
  /** `<family>-<n>`; also the file's name without extension. */
  id: string;
  family: Family;
  /** What the document attacks, for failure messages. */
  note: string;
  format: 'yaml' | 'json';
  text: string;
  /**
   * The objects of the file as a client sends them to Apply: each document's object as JSON, or
   * the document's raw text when it is not an object a client could send (YAML that does not parse).
   */
  wire: string[];
  /** Where kvmctl places each wire object in the file: `` (the only document), `#2`, `#1 items[3]`. */
  locations: string[];
  expect: Expectation;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
type Path = (string | number)[];

// --- Valid objects every family starts from --------------------------------------------------

const HSP_API = 'security.kubearmor.com/v1';

export function hostPolicy(name: string, spec: Obj = baseHostSpec()): Obj {
  return { apiVersion: HSP_API, kind: 'KubeArmorHostPolicy', metadata: { name }, spec: { nodeSelector: { matchLabels: { ...HOST_LABELS } }, ...spec } };
}

function baseHostSpec(): Obj {
  return {
    severity: 5,
    tags: ['corpus'],
    message: 'hostile corpus',
    action: 'Block',
    file: {
      matchPaths: [{ path: '/srv/corpus/secret.key', readOnly: true, fromSource: [{ path: '/usr/bin/cat' }] }],
      matchDirectories: [{ dir: '/srv/corpus/data/', recursive: true }],
      matchPatterns: [{ pattern: '/srv/corpus/*.log' }],
    },
    process: {
      matchPaths: [{ path: '/usr/local/bin/corpus-tool', allowedArgs: ['-v'] }],
      matchDirectories: [{ dir: '/opt/corpus/bin/' }],
    },
    network: { matchProtocols: [{ protocol: 'raw', fromSource: [{ path: '/usr/bin/ping' }] }] },
    capabilities: { matchCapabilities: [{ capability: 'net_raw', fromSource: [{ path: '/usr/bin/ping' }] }] },
    syscalls: { matchSyscalls: [{ syscall: ['unlink'] }] },
  };
}

function clusterPolicy(name: string): Obj {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumClusterwideNetworkPolicy',
    metadata: { name },
    spec: {
      description: 'corpus host firewall',
      nodeSelector: { matchLabels: { env: 'corpus' } },
      ingress: [{ fromCIDR: ['10.0.0.0/8'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }],
      egress: [{ toEndpoints: [{ matchLabels: { app: 'dns' } }], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*.example.com' }] } }] }],
      enableDefaultDeny: { ingress: true, egress: false },
    },
  };
}

function networkPolicy(name: string): Obj {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name },
    spec: {
      endpointSelector: { matchLabels: { app: 'web' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/api/.*' }] } }] }],
    },
  };
}

function discoveredPolicy(name: string, policy: Obj, status = 'Inactive'): Obj {
  return { apiVersion: HSP_API, kind: 'DiscoveredPolicy', metadata: { name }, spec: { status, policy } };
}

function virtualMachine(name: string): Obj {
  return {
    apiVersion: HSP_API,
    kind: 'KubeArmorVirtualMachine',
    metadata: { name, labels: { env: 'corpus', role: 'web' } },
    spec: { defaultPosture: { file: 'block', network: 'audit' }, visibility: ['process', 'file'], learning: { binaries: ['/usr/bin/curl'], until: '2030-01-01T00:00:00Z' } },
  };
}

type Maker = (name: string) => Obj;
const MAKERS: Record<string, Maker> = {
  hsp: (n) => hostPolicy(n),
  ccnp: clusterPolicy,
  cnp: networkPolicy,
  dsp: (n) => discoveredPolicy(n, hostPolicy(`${n}-inner`)),
  vm: virtualMachine,
};

// --- Helpers ------------------------------------------------------------------------------------

const clone = <T extends Json>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** `spec.file.matchPaths[0].path`, as the product names fields (written here independently). */
export function fieldOf(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

function parentOf(root: Obj, path: Path): { parent: Obj | Json[]; key: string | number } {
  let cur: Json = root;
  for (const p of path.slice(0, -1)) {
    const next: Json | undefined = (cur as Obj)[p as string];
    if (next === undefined || next === null || typeof next !== 'object') throw new Error(`corpus: no ${fieldOf(path)} in the base object`);
    cur = next;
  }
  return { parent: cur as Obj, key: path[path.length - 1]! };
}

function setAt(root: Obj, path: Path, value: Json): Obj {
  const copy = clone(root);
  const { parent, key } = parentOf(copy, path);
  (parent as Obj)[key as string] = value;
  return copy;
}

function deleteAt(root: Obj, path: Path): Obj {
  const copy = clone(root);
  const { parent, key } = parentOf(copy, path);
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key as string];
  return copy;
}

/**
 * JSON text of `root` with `key: value` added to the object at `path`, written as text so that a
 * key such as `__proto__` stays an ordinary key (as it is in any JSON or YAML parser's output).
 */
function jsonWithKey(root: Obj, path: Path, key: string, value: Json): string {
  const placeholder = '__corpus_placeholder_key__';
  const copy = clone(root);
  (parentOf(copy, [...path, placeholder]).parent as Obj)[placeholder] = value;
  return JSON.stringify(copy).replace(JSON.stringify(placeholder), JSON.stringify(key));
}

/** YAML text of an object: block style from the library the CLI uses, or JSON (also YAML). */
function emit(object: Json, format: 'yaml' | 'json'): string {
  return format === 'json' ? `${JSON.stringify(object, null, 1)}\n` : toYaml([object]);
}

// --- The corpus ----------------------------------------------------------------------------------

export interface Corpus {
  documents: HostileDocument[];
  counts: Record<Family, number>;
}

export function hostileCorpus(seed = 20250611): Corpus {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const documents: HostileDocument[] = [];
  const counters = Object.fromEntries(FAMILIES.map((f) => [f, 0])) as Record<Family, number>;
  /** A unique, valid object name for the next document of a family. */
  const nameFor = (family: Family) => `${family}-${counters[family] + 1}`;
  const add: Add = (family, note, d, expect) => {
    counters[family]++;
    const format = d.format ?? (counters[family] % 2 === 0 ? 'json' : 'yaml');
    const text = d.text ?? emit(d.object!, format);
    const wire = d.wire ?? [JSON.stringify(d.object)];
    const locations = d.locations ?? (wire.length === 1 ? [''] : wire.map((_, i) => `#${i + 1}`));
    documents.push({ id: `${family}-${String(counters[family]).padStart(3, '0')}`, family, note, format, text, wire, locations, expect });
  };

  wrongTypes(add, nameFor, pick);
  missingRequired(add, nameFor);
  apparmorInjection(add, nameFor);
  cilInjection(add, nameFor);
  huge(add, nameFor);
  deepNesting(add, nameFor);
  yamlBombs(add, nameFor);
  unknownFields(add, nameFor);
  wrongKinds(add, nameFor);
  duplicates(add, nameFor);
  multiDocument(add, nameFor, pick);
  return { documents, counts: counters };
}

type Add = (family: Family, note: string, d: { format?: 'yaml' | 'json'; text?: string; wire?: string[]; locations?: string[]; object?: Json }, expect: Expectation) => void;
type NameFor = (family: Family) => string;

// Wrong types: one field of a valid object gets a value of another type.
const WRONG: Record<'string' | 'int' | 'bool' | 'list' | 'object' | 'stringList', Json[]> = {
  string: [42, -1.5, true, null, [], ['/etc/shadow'], { path: '/etc/shadow' }, 1e308],
  int: ['5', 5.5, true, null, [], { v: 5 }, 1e308, -0.5],
  bool: ['true', 'yes', 1, 0, null, [], {}],
  list: ['x', 1, true, null, { 0: 'a' }],
  object: ['x', 1, false, null, [], ['a']],
  stringList: ['x', [1], [null], [['a']], [{}], 7],
};

function wrongTypes(add: Add, nameFor: NameFor, pick: <T>(items: readonly T[]) => T): void {
  const family: Family = 'wrong-types';
  const cases: [string, Path, keyof typeof WRONG, string?][] = [
    ['hsp', ['metadata', 'name'], 'string'],
    ['hsp', ['metadata'], 'object'],
    ['hsp', ['metadata', 'labels'], 'object'],
    ['hsp', ['spec'], 'object'],
    ['hsp', ['spec', 'nodeSelector'], 'object'],
    ['hsp', ['spec', 'nodeSelector', 'matchLabels'], 'object'],
    ['hsp', ['spec', 'action'], 'string'],
    ['hsp', ['spec', 'severity'], 'int'],
    ['hsp', ['spec', 'tags'], 'stringList'],
    ['hsp', ['spec', 'message'], 'string'],
    ['hsp', ['spec', 'file'], 'object'],
    ['hsp', ['spec', 'file', 'matchPaths'], 'list'],
    // A list item of the wrong type is named by its list ("must be a list of objects").
    ['hsp', ['spec', 'file', 'matchPaths', 0], 'object', 'spec.file.matchPaths'],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'path'], 'string'],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'readOnly'], 'bool'],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'fromSource'], 'list'],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'fromSource', 0, 'path'], 'string'],
    ['hsp', ['spec', 'file', 'matchDirectories', 0, 'dir'], 'string'],
    ['hsp', ['spec', 'file', 'matchDirectories', 0, 'recursive'], 'bool'],
    ['hsp', ['spec', 'file', 'matchPatterns', 0, 'pattern'], 'string'],
    ['hsp', ['spec', 'process', 'matchPaths', 0, 'path'], 'string'],
    ['hsp', ['spec', 'process', 'matchPaths', 0, 'allowedArgs'], 'stringList'],
    ['hsp', ['spec', 'network', 'matchProtocols', 0, 'protocol'], 'string'],
    ['hsp', ['spec', 'capabilities', 'matchCapabilities', 0, 'capability'], 'string'],
    ['hsp', ['spec', 'syscalls', 'matchSyscalls', 0, 'syscall'], 'stringList'],
    ['hsp', ['spec', 'file', 'severity'], 'int'],
    ['hsp', ['spec', 'apparmor'], 'string'],
    ['ccnp', ['spec', 'nodeSelector'], 'object'],
    ['ccnp', ['spec', 'ingress'], 'list'],
    ['ccnp', ['spec', 'ingress', 0, 'fromCIDR'], 'stringList'],
    ['ccnp', ['spec', 'ingress', 0, 'toPorts', 0, 'ports', 0, 'port'], 'string'],
    ['ccnp', ['spec', 'ingress', 0, 'toPorts', 0, 'ports', 0, 'protocol'], 'string'],
    ['ccnp', ['spec', 'enableDefaultDeny', 'ingress'], 'bool'],
    ['ccnp', ['spec', 'description'], 'string'],
    ['cnp', ['spec', 'endpointSelector', 'matchLabels'], 'object'],
    ['cnp', ['spec', 'ingress', 0, 'toPorts', 0, 'rules', 'http'], 'list'],
    ['cnp', ['spec', 'ingress', 0, 'toPorts', 0, 'rules', 'http', 0, 'method'], 'string'],
    ['dsp', ['spec', 'status'], 'string'],
    ['dsp', ['spec', 'policy'], 'object'],
    ['dsp', ['spec', 'policy', 'spec', 'file', 'matchPaths', 0, 'path'], 'string'],
    ['vm', ['metadata', 'labels'], 'object'],
    ['vm', ['spec', 'defaultPosture', 'file'], 'string'],
    ['vm', ['spec', 'visibility'], 'stringList'],
    ['vm', ['spec', 'learning', 'binaries'], 'stringList'],
    ['vm', ['spec', 'learning', 'until'], 'string'],
    ['vm', ['spec'], 'object'],
  ];
  for (const [kind, path, type, field] of cases) {
    // Two different wrong values per field (three for the path fields renderers read).
    const values = [...WRONG[type]];
    const n = path[path.length - 1] === 'path' || path[path.length - 1] === 'pattern' ? 3 : 2;
    for (let i = 0; i < n && values.length > 0; i++) {
      const value = values.splice(Math.floor(pick([0, 0.25, 0.5, 0.75]) * values.length), 1)[0]!;
      const name = nameFor(family);
      add(family, `${kind} ${fieldOf(path)} = ${JSON.stringify(value)}`, { object: setAt(MAKERS[kind]!(name), path, value) }, { verdict: 'invalid', field: field ?? fieldOf(path) });
    }
  }
  // Label and selector maps with a value that is not a string: the map is the field.
  for (const [kind, path, value] of [
    ['hsp', ['metadata', 'labels'], { app: 7 }],
    ['hsp', ['spec', 'nodeSelector', 'matchLabels'], { 'kubearmor.io/hostname': ['hostile-host'] }],
    ['vm', ['metadata', 'labels'], { env: null }],
    ['ccnp', ['spec', 'nodeSelector', 'matchLabels'], { env: { x: 'y' } }],
  ] as [string, Path, Json][]) {
    const name = nameFor(family);
    add(family, `${kind} ${fieldOf(path)} = ${JSON.stringify(value)}`, { object: setAt(MAKERS[kind]!(name), path, value) }, { verdict: 'invalid', field: fieldOf(path) });
  }
  // YAML scalars that are not what they look like (YAML 1.2 core schema), and tags.
  const yamlScalars: [string, Json, string][] = [
    ['0x1F', 31, 'path'],
    ['.inf', null, 'path'],
    ['~', null, 'path'],
    ['!!binary L2V0Yy9zaGFkb3c=', null, 'path'],
    ['!!set {/etc/shadow}', null, 'path'],
    ['!!omap [a: 1]', null, 'path'],
    ['!!timestamp 2001-12-14', null, 'path'],
    ['yes', 'yes', 'readOnly'],
    ['"true"', 'true', 'readOnly'],
    ['!!str 5', '5', 'severity'],
  ];
  for (const [literal, wireValue, field] of yamlScalars) {
    const name = nameFor(family);
    const object = hostPolicy(name, { file: { matchPaths: [{ path: '/srv/x' }] } });
    const path: Path = field === 'severity' ? ['spec', 'severity'] : ['spec', 'file', 'matchPaths', 0, field];
    const text = toYaml([setAt(object, path, '__SCALAR__')]).replace(/'?__SCALAR__'?/, literal);
    add(family, `YAML scalar ${literal} as ${fieldOf(path)}`, { format: 'yaml', text, wire: [JSON.stringify(setAt(object, path, wireValue))] }, { verdict: 'invalid', field: fieldOf(path) });
  }
}

function missingRequired(add: Add, nameFor: NameFor): void {
  const family: Family = 'missing-required';
  const cases: [string, Path, string?][] = [
    ['hsp', ['apiVersion']],
    ['hsp', ['kind']],
    ['hsp', ['metadata']],
    ['hsp', ['metadata', 'name']],
    ['hsp', ['spec']],
    ['hsp', ['spec', 'nodeSelector']],
    ['hsp', ['spec', 'nodeSelector', 'matchLabels']],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'path']],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'fromSource', 0, 'path']],
    ['hsp', ['spec', 'file', 'matchDirectories', 0, 'dir']],
    ['hsp', ['spec', 'file', 'matchPatterns', 0, 'pattern']],
    ['hsp', ['spec', 'process', 'matchPaths', 0, 'path'], 'spec.process.matchPaths[0]'],
    ['hsp', ['spec', 'process', 'matchDirectories', 0, 'dir']],
    ['hsp', ['spec', 'network', 'matchProtocols', 0, 'protocol']],
    ['hsp', ['spec', 'network', 'matchProtocols', 0, 'fromSource']],
    ['hsp', ['spec', 'capabilities', 'matchCapabilities', 0, 'capability']],
    ['hsp', ['spec', 'capabilities', 'matchCapabilities', 0, 'fromSource']],
    ['ccnp', ['apiVersion']],
    ['ccnp', ['metadata', 'name']],
    ['ccnp', ['spec', 'nodeSelector'], 'spec'],
    ['ccnp', ['spec', 'ingress', 0, 'toPorts', 0, 'ports', 0, 'port']],
    ['cnp', ['spec', 'endpointSelector'], 'spec'],
    ['cnp', ['metadata']],
    ['dsp', ['spec']],
    ['dsp', ['spec', 'status']],
    ['dsp', ['spec', 'policy']],
    ['dsp', ['spec', 'policy', 'kind'], 'spec.policy.kind'],
    ['dsp', ['spec', 'policy', 'metadata', 'name']],
    ['dsp', ['spec', 'policy', 'spec', 'nodeSelector']],
    ['vm', ['kind']],
    ['vm', ['metadata', 'name']],
    ['vm', ['spec', 'learning', 'binaries']],
    ['vm', ['spec', 'learning', 'until']],
  ];
  for (const [kind, path, field] of cases) {
    const name = nameFor(family);
    add(family, `${kind} without ${fieldOf(path)}`, { object: deleteAt(MAKERS[kind]!(name), path) }, { verdict: 'invalid', field: field ?? fieldOf(path) });
  }
  // Empty where something is required.
  const empties: [string, Path, Json, string?][] = [
    ['hsp', ['spec', 'nodeSelector', 'matchLabels'], {}],
    ['hsp', ['metadata', 'name'], ''],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'path'], ''],
    ['hsp', ['spec', 'network', 'matchProtocols', 0, 'protocol'], ''],
    ['hsp', ['spec', 'process', 'matchPaths', 0], {}, 'spec.process.matchPaths[0]'],
    ['hsp', ['spec', 'syscalls', 'matchSyscalls', 0], { fromSource: [{ recursive: true }] }, 'spec.syscalls.matchSyscalls[0].fromSource[0]'],
    ['ccnp', ['spec'], { nodeSelector: { matchLabels: { env: 'corpus' } } }, 'spec'],
    ['vm', ['spec', 'learning', 'binaries'], ['']],
  ];
  for (const [kind, path, value, field] of empties) {
    const name = nameFor(family);
    add(family, `${kind} ${fieldOf(path)} empty: ${JSON.stringify(value)}`, { object: setAt(MAKERS[kind]!(name), path, value) }, { verdict: 'invalid', field: field ?? fieldOf(path) });
  }
  // The CRD sets no minimum on fromSource: an empty list is the product's call, as long as it is consistent.
  {
    const name = nameFor(family);
    add(family, 'hsp spec.network.matchProtocols[0].fromSource empty', { object: setAt(hostPolicy(name), ['spec', 'network', 'matchProtocols', 0, 'fromSource'], []) }, { verdict: 'either', field: 'spec.network.matchProtocols[0]' });
  }
}

/**
 * Text that means something in an AppArmor profile. Each is tried inside paths, directories,
 * patterns, execnames, sources and learning binaries; what validation must refuse is marked.
 */
const APPARMOR_PAYLOADS: { text: string; refused?: boolean; note: string }[] = [
  { text: `\n${MARKER} rw,`, refused: true, note: 'newline and a rule' },
  { text: `}\n${MARKER} rw,\nprofile x {`, refused: true, note: 'close the profile, newline' },
  { text: `" ${MARKER} rw, "`, refused: true, note: 'close the quote' },
  { text: `\u0000${MARKER}`, refused: true, note: 'NUL' },
  { text: `\r${MARKER} rw,`, refused: true, note: 'carriage return' },
  { text: `\\" ${MARKER} rw,`, refused: true, note: 'backslash-escaped quote' },
  { text: `@{HOME}${MARKER}`, refused: true, note: 'variable expansion' },
  { text: `/@{`, refused: true, note: 'bare @{' },
  { text: `, ${MARKER} rw,`, note: 'comma and a rule' },
  { text: `} ${MARKER} px,`, note: 'closing brace and a rule' },
  { text: `{ ${MARKER}`, note: 'opening brace' },
  { text: ` #include <abstractions/kvm-injected-marker>`, note: '#include' },
  { text: ` # ${MARKER} rw,`, note: 'comment sign' },
  { text: '/**', note: '** glob' },
  { text: ' -> kvm-injected-marker', note: 'exec transition' },
  { text: ` deny ${MARKER} rw`, note: 'deny keyword' },
  { text: ` audit ${MARKER} rw`, note: 'audit keyword' },
  { text: ` owner ${MARKER} rw`, note: 'owner keyword' },
  { text: ` px,\n`, refused: true, note: 'px and newline' },
  { text: ` Px -> kubearmor.host,`, note: 'Px to the dispatcher' },
  { text: ` ix, ${MARKER} ux,`, note: 'unconfined exec' },
  { text: '/../../etc/shadow', note: '.. components' },
  { text: '/./x//y', note: '. and // components' },
  { text: '/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}', note: 'alternation product (128 paths)' },
  { text: `/${'{a,{b,{c,{d,'.repeat(6)}z${'}}}}'.repeat(6)}`, note: 'nested alternations' },
  { text: '/**'.repeat(40), note: '** glob bomb' },
  { text: '/*[a-z]?'.repeat(20), note: 'class glob bomb' },
  { text: '/{,**}'.repeat(20), note: 'optional ** bomb' },
  { text: `\u2028${MARKER} rw,`, note: 'Unicode line separator' },
  { text: `\u0085${MARKER} rw,`, note: 'C1 next-line control' },
  { text: `\u202e${MARKER}`, note: 'right-to-left override' },
  { text: '\ud800', refused: true, note: 'lone UTF-16 surrogate (UTF-8 has no such character)' },
  { text: ` $(touch /tmp/pwned)';|&<>`, note: 'shell metacharacters' },
];

function apparmorInjection(add: Add, nameFor: NameFor): void {
  const family: Family = 'apparmor-injection';
  type Target = { field: Path; spec: (value: string) => Obj; kind?: 'vm' | 'dsp'; value: (payload: string) => string };
  const targets: Target[] = [
    { field: ['spec', 'file', 'matchPaths', 0, 'path'], spec: (v) => ({ file: { matchPaths: [{ path: v }] } }), value: (p) => `/srv/a${p}` },
    { field: ['spec', 'file', 'matchPatterns', 0, 'pattern'], spec: (v) => ({ file: { matchPatterns: [{ pattern: v }] } }), value: (p) => `/srv/p${p}` },
    { field: ['spec', 'process', 'matchPaths', 0, 'path'], spec: (v) => ({ process: { matchPaths: [{ path: v }] }, action: 'Allow' }), value: (p) => `/usr/local/bin/x${p}` },
    { field: ['spec', 'file', 'matchPaths', 0, 'fromSource', 0, 'path'], spec: (v) => ({ file: { matchPaths: [{ path: '/srv/src-target', fromSource: [{ path: v }] }] }, action: 'Allow' }), value: (p) => `/usr/bin/s${p}` },
  ];
  const rotating: Target[] = [
    { field: ['spec', 'file', 'matchDirectories', 0, 'dir'], spec: (v) => ({ file: { matchDirectories: [{ dir: v, recursive: true }] } }), value: (p) => `/srv/d${p}/` },
    { field: ['spec', 'process', 'matchPaths', 0, 'execname'], spec: (v) => ({ process: { matchPaths: [{ execname: v }] } }), value: (p) => `e${p.replace(/\//g, '')}` },
    { field: ['spec', 'process', 'matchPatterns', 0, 'pattern'], spec: (v) => ({ process: { matchPatterns: [{ pattern: v }] }, action: 'Audit' }), value: (p) => `/opt/p${p}` },
    { field: ['spec', 'network', 'matchProtocols', 0, 'fromSource', 0, 'path'], spec: (v) => ({ network: { matchProtocols: [{ protocol: 'tcp', fromSource: [{ path: v }] }] } }), value: (p) => `/usr/bin/n${p}` },
    { field: ['spec', 'capabilities', 'matchCapabilities', 0, 'fromSource', 0, 'path'], spec: (v) => ({ capabilities: { matchCapabilities: [{ capability: 'sys_admin', fromSource: [{ path: v }] }] } }), value: (p) => `/usr/sbin/c${p}` },
    { field: ['spec', 'learning', 'binaries', 0], kind: 'vm', spec: () => ({}), value: (p) => `/usr/bin/l${p}` },
    { field: ['spec', 'policy', 'spec', 'file', 'matchPaths', 0, 'path'], kind: 'dsp', spec: (v) => ({ file: { matchPaths: [{ path: v }] } }), value: (p) => `/srv/dsp${p}` },
    { field: ['spec', 'process', 'matchDirectories', 0, 'dir'], spec: (v) => ({ process: { matchDirectories: [{ dir: v }] } }), value: (p) => `/opt/pd${p}/` },
    { field: ['spec', 'syscalls', 'matchPaths', 0, 'path'], spec: (v) => ({ syscalls: { matchPaths: [{ path: v, syscall: ['unlink'] }] } }), value: (p) => `/srv/sys${p}` },
  ];
  const objectFor = (target: Target, name: string, value: string): Obj => {
    if (target.kind === 'vm') return setAt(virtualMachine(name), ['spec', 'learning', 'binaries'], [value]);
    if (target.kind === 'dsp') return discoveredPolicy(name, hostPolicy(`${name}-inner`, target.spec(value)), 'Active');
    return hostPolicy(name, target.spec(value));
  };
  APPARMOR_PAYLOADS.forEach((payload, i) => {
    for (const target of [...targets, rotating[i % rotating.length]!]) {
      const value = target.value(payload.text);
      const name = nameFor(family);
      add(family, `${payload.note} in ${fieldOf(target.field)}: ${JSON.stringify(value).slice(0, 120)}`, { object: objectFor(target, name, value) }, { verdict: payload.refused ? 'invalid' : 'either', field: fieldOf(target.field) });
    }
  });
  // Spec text that reaches a profile only as native rules (off unless a person turns them on).
  for (const text of [`${MARKER} rw,\n  capability sys_admin,`, `}\nprofile evil ${MARKER} {\n  /** rwix,\n}`]) {
    const name = nameFor(family);
    add(family, 'spec.apparmor native rules (must not render by default)', { object: hostPolicy(name, { apparmor: text, file: { matchPaths: [{ path: '/srv/native' }] } }) }, { verdict: 'either', field: 'spec.apparmor' });
  }
  // Messages and tags end up in comments at most.
  for (const text of [`x\n${MARKER} rw,`, `*/ ${MARKER} rw, #`]) {
    const name = nameFor(family);
    add(family, 'message and tags with rules', { object: hostPolicy(name, { message: text, tags: [text], file: { matchPaths: [{ path: '/srv/msg', message: text, tags: [text] }] } }) }, { verdict: 'either', field: 'spec.message' });
  }
  // Source binaries whose profile names collide once sanitised, and one named like the dispatcher.
  const collide = ['/usr/bin/a b', '/usr/bin/ab', '/usr/bin/a-b', '/usr/bin/a.b', '/usr/bin/kubearmor.host', '/{usr/,}bin/*sh'];
  for (let i = 0; i < 3; i++) {
    const name = nameFor(family);
    const sources = collide.slice(i, i + 4).map((path) => ({ path }));
    add(family, `fromSource profile names that collide: ${sources.map((s) => s.path).join(' ')}`, { object: hostPolicy(name, { file: { matchPaths: [{ path: `/srv/collide${i}`, fromSource: sources }] }, action: 'Allow' }) }, { verdict: 'either', field: 'spec.file.matchPaths[0].fromSource' });
  }
  // Lengths around the limits.
  const lengths: [Path, string, boolean][] = [
    [['spec', 'file', 'matchPaths', 0, 'path'], `/${'a'.repeat(199)}`, false],
    [['spec', 'file', 'matchPaths', 0, 'path'], `/${'a'.repeat(200)}`, true],
    [['spec', 'file', 'matchPatterns', 0, 'pattern'], `/${'*'.repeat(255)}`, false],
    [['spec', 'file', 'matchPatterns', 0, 'pattern'], `/${'b'.repeat(256)}`, true],
    [['spec', 'file', 'matchDirectories', 0, 'dir'], `/${'c/'.repeat(2047)}`, false],
    [['spec', 'file', 'matchDirectories', 0, 'dir'], `/${'d/'.repeat(2048)}`, true],
  ];
  for (const [path, value, refused] of lengths) {
    const name = nameFor(family);
    const block = path[2] as string;
    const item: Obj = { [block === 'matchPaths' ? 'path' : block === 'matchPatterns' ? 'pattern' : 'dir']: value };
    add(family, `${fieldOf(path)} of ${value.length} characters`, { object: hostPolicy(name, { file: { [block]: [item] } }) }, refused ? { verdict: 'invalid', field: fieldOf(path) } : { verdict: 'either', field: fieldOf(path) });
  }
}

/** Text that means something in CIL, a file_contexts regex, or a shell. */
const CIL_PAYLOADS: { text: string; refused?: boolean }[] = [
  { text: ') (allow unconfined_t shadow_t (file (read)))' },
  { text: '")(allow unconfined_t shadow_t (file (read)))(filecon "/x', refused: true },
  { text: '\n(allow unconfined_t shadow_t (file (read)))', refused: true },
  { text: ' ; (typeattributeset cil_gen_require shadow_t)' },
  { text: '(' },
  { text: ')' },
  { text: '((((((((((' },
  { text: '(filecon "/etc/shadow" any ())', refused: true },
  { text: '(filecon /etc/shadow any ())' },
  { text: '.*' },
  { text: '^$|+?' },
  { text: '[^/]' },
  { text: '\\Q.*\\E', refused: true },
  { text: '(?=x)' },
  { text: '<<none>>' },
  { text: 'system_u:object_r:shadow_t:s0' },
  { text: '\t(allow x y (file (read)))', refused: true },
  { text: ' (blockinherit x)' },
  { text: ' (macro m ((type t)) (allow t self (file (read))))' },
  { text: 'ü日本€' },
  { text: '#x;y' },
  { text: '"', refused: true },
];

function cilInjection(add: Add, nameFor: NameFor): void {
  const family: Family = 'cil-injection';
  type Target = { field: Path; spec: (p: string) => Obj; kind?: 'vm' };
  const targets: Target[] = [
    { field: ['spec', 'file', 'matchPaths', 0, 'path'], spec: (p) => ({ file: { matchPaths: [{ path: `/srv/c${p}x`, readOnly: true }] } }) },
    { field: ['spec', 'file', 'matchDirectories', 0, 'dir'], spec: (p) => ({ file: { matchDirectories: [{ dir: `/srv/cd${p}/`, recursive: true }] }, action: 'Audit' }) },
    { field: ['spec', 'process', 'matchPaths', 0, 'path'], spec: (p) => ({ process: { matchPaths: [{ path: `/usr/local/bin/c${p}x`, fromSource: [{ path: `/usr/bin/s${p}x` }] }] } }) },
  ];
  const rotating: Target[] = [
    { field: ['spec', 'file', 'matchPaths', 0, 'fromSource', 0, 'path'], spec: (p) => ({ file: { matchPaths: [{ path: '/srv/ctarget', fromSource: [{ path: `/usr/bin/cs${p}x` }] }] }, action: 'Allow' }) },
    { field: ['spec', 'network', 'matchProtocols', 0, 'fromSource', 0, 'path'], spec: (p) => ({ network: { matchProtocols: [{ protocol: 'udp', fromSource: [{ path: `/usr/bin/cn${p}x` }] }] } }) },
    { field: ['spec', 'learning', 'binaries', 0], kind: 'vm', spec: () => ({}) },
    { field: ['spec', 'file', 'matchPatterns', 0, 'pattern'], spec: (p) => ({ file: { matchPatterns: [{ pattern: `/srv/cp/${p.replace(/[[\]{}]/g, '')}*` }] } }) },
  ];
  CIL_PAYLOADS.forEach((payload, i) => {
    for (const target of [...targets, rotating[i % rotating.length]!]) {
      const name = nameFor(family);
      const object = target.kind === 'vm' ? setAt(virtualMachine(name), ['spec', 'learning', 'binaries'], [`/usr/bin/cl${payload.text}x`]) : hostPolicy(name, target.spec(payload.text));
      add(family, `CIL payload ${JSON.stringify(payload.text)} in ${fieldOf(target.field)}`, { object }, payload.refused ? { verdict: 'invalid', field: fieldOf(target.field) } : { verdict: 'either', field: fieldOf(target.field) });
    }
  });
}

/** Documents of up to a few MiB: long strings everywhere, many items, many problems. */
function huge(add: Add, nameFor: NameFor): void {
  const family: Family = 'huge';
  const MiB = 1024 * 1024;
  const cases: [string, (name: string) => Obj | string, Expectation][] = [
    ['1 MiB path', (n) => hostPolicy(n, { file: { matchPaths: [{ path: `/${'p'.repeat(MiB)}` }] } }), { verdict: 'invalid', field: 'spec.file.matchPaths[0].path' }],
    ['1 MiB pattern', (n) => hostPolicy(n, { file: { matchPatterns: [{ pattern: `/${'{a,b}'.repeat(MiB / 5)}` }] } }), { verdict: 'invalid', field: 'spec.file.matchPatterns[0].pattern' }],
    ['1 MiB directory', (n) => hostPolicy(n, { file: { matchDirectories: [{ dir: `/${'d/'.repeat(MiB / 2)}` }] } }), { verdict: 'invalid', field: 'spec.file.matchDirectories[0].dir' }],
    ['2 MiB kind', (n) => ({ ...hostPolicy(n), kind: `K${'k'.repeat(2 * MiB)}` }), { verdict: 'invalid', field: 'kind' }],
    ['1 MiB apiVersion', (n) => ({ ...hostPolicy(n), apiVersion: `v${'1'.repeat(MiB)}` }), { verdict: 'invalid', field: 'apiVersion' }],
    ['1 MiB name', () => hostPolicy(`n${'a'.repeat(MiB)}`), { verdict: 'invalid', field: 'metadata.name' }],
    ['1 MiB unknown field name', (n) => setAt(hostPolicy(n), ['spec', `x${'k'.repeat(MiB)}`], 1), { verdict: 'invalid', field: 'spec' }],
    ['1 MiB protocol', (n) => hostPolicy(n, { network: { matchProtocols: [{ protocol: `tcp,${'x'.repeat(MiB)}`, fromSource: [{ path: '/usr/bin/x' }] }] } }), { verdict: 'invalid', field: 'spec.network.matchProtocols[0].protocol' }],
    ['1 MiB capability list', (n) => hostPolicy(n, { capabilities: { matchCapabilities: [{ capability: `${'chown,'.repeat(MiB / 6)}nope`, fromSource: [{ path: '/usr/bin/x' }] }] } }), { verdict: 'invalid', field: 'spec.capabilities.matchCapabilities[0].capability' }],
    ['1 MiB syscall name', (n) => hostPolicy(n, { syscalls: { matchSyscalls: [{ syscall: [`s${'y'.repeat(MiB)}`] }] } }), { verdict: 'invalid', field: 'spec.syscalls.matchSyscalls[0].syscall' }],
    ['1 MiB label value', (n) => setAt(virtualMachine(n), ['metadata', 'labels', 'env'], 'v'.repeat(MiB)), { verdict: 'invalid', field: 'metadata.labels' }],
    ['1 MiB CIDR', (n) => setAt(clusterPolicy(n), ['spec', 'ingress', 0, 'fromCIDR', 0], `10.0.0.0/${'8'.repeat(MiB)}`), { verdict: 'invalid', field: 'spec.ingress[0].fromCIDR' }],
    ['1 MiB DiscoveredPolicy status', (n) => setAt(MAKERS.dsp!(n), ['spec', 'status'], `A${'c'.repeat(MiB)}`), { verdict: 'invalid', field: 'spec.status' }],
    ['1 MiB learning binary', (n) => setAt(virtualMachine(n), ['spec', 'learning', 'binaries'], [`/${'b'.repeat(MiB)}`]), { verdict: 'invalid', field: 'spec.learning.binaries[0]' }],
    ['5 000 invalid items', (n) => hostPolicy(n, { file: { matchPaths: Array.from({ length: 5000 }, (_, i) => ({ path: `relative/${i}` })) } }), { verdict: 'invalid', field: 'spec.file.matchPaths' }],
    ['2 000 unknown fields', (n) => hostPolicy(n, Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`unknown${i}`, i]))), { verdict: 'invalid', field: 'spec' }],
    ['25 000 tags (over the 1 MiB a stored object may take)', (n) => hostPolicy(n, { tags: Array.from({ length: 25_000 }, (_, i) => `tag-${String(i).padStart(40, '0')}`), file: { matchPaths: [{ path: '/srv/tags' }] } }), { verdict: 'either' }],
    ['3 MiB message (over the 1 MiB a stored object may take)', (n) => hostPolicy(n, { message: 'm'.repeat(3 * MiB), file: { matchPaths: [{ path: '/srv/message' }] } }), { verdict: 'either' }],
    ['20 000 valid file rules (over the 1 MiB a stored object may take)', (n) => hostPolicy(n, { file: { matchPaths: Array.from({ length: 20_000 }, (_, i) => ({ path: `/srv/many/${i}/${'f'.repeat(40)}` })) } }), { verdict: 'either' }],
    ['5 000 labels', (n) => setAt(virtualMachine(n), ['metadata', 'labels'], Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`corpus.example/l${i}`, `v${i}`]))), { verdict: 'either' }],
    ['3 MiB of YAML comments around a valid policy', () => '', { verdict: 'valid' }],
  ];
  for (const [note, make, expect] of cases) {
    const name = nameFor(family);
    if (note.startsWith('3 MiB of YAML comments')) {
      const object = hostPolicy(name, { file: { matchPaths: [{ path: '/srv/comments' }] } });
      const comment = `# ${'c'.repeat(1000)}\n`.repeat(1536);
      add(family, note, { format: 'yaml', text: `${comment}${toYaml([object])}${comment}`, wire: [JSON.stringify(object)] }, expect);
      continue;
    }
    const object = make(name) as Obj;
    // Huge documents as JSON: the YAML emitter would fold the long strings over many lines.
    add(family, note, { format: 'json', text: `${JSON.stringify(object)}\n`, object }, expect);
  }
}

/** Nesting beyond the documented 64 levels, in JSON and YAML, in known and unknown fields. */
function deepNesting(add: Add, nameFor: NameFor): void {
  const family: Family = 'deep-nesting';
  const HOLE = '"__HOLE__"';
  const places: [string, (name: string) => Obj, Path][] = [
    ['unknown field', (n) => hostPolicy(n), ['spec', 'zzz']],
    ['file block', (n) => hostPolicy(n), ['spec', 'file']],
    ['matchPaths list', (n) => hostPolicy(n), ['spec', 'file', 'matchPaths']],
    ['labels', (n) => virtualMachine(n), ['metadata', 'labels']],
    ['wrapped policy', (n) => discoveredPolicy(n, hostPolicy(`${n}-inner`)), ['spec', 'policy', 'spec', 'file']],
    ['cilium rule', (n) => clusterPolicy(n), ['spec', 'ingress', 0, 'toPorts']],
  ];
  places.forEach(([where, make, path], p) => {
    for (const depth of [65, 200, 1000, 10_000, ...(p === 0 ? [100_000] : [])]) {
      const name = nameFor(family);
      const list = p % 2 === 0;
      const nested = list ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const json = JSON.stringify(setAt(make(name), path, '__HOLE__')).replace(HOLE, nested);
      // In YAML, as flow collections (JSON is YAML) for every second one, else as JSON files.
      add(family, `${depth} levels of ${list ? 'lists' : 'maps'} in ${where}`, { format: depth <= 1000 && p % 3 === 0 ? 'yaml' : 'json', text: `${json}\n`, wire: [json] }, { verdict: 'invalid', field: fieldOf(path), documentLevel: true });
    }
  });
  // Block-style YAML nesting (indentation), and flow maps with plain keys.
  for (const depth of [65, 300, 1000]) {
    const name = nameFor(family);
    let block = '';
    for (let i = 0; i < depth; i++) block += `${' '.repeat(4 + i)}k:\n`;
    block += `${' '.repeat(4 + depth)}v: 1\n`;
    const head = toYaml([setAt(hostPolicy(name), ['spec', 'zzz'], '__HOLE__')]).replace(/zzz: __HOLE__\n/, `zzz:\n${block}`);
    const json = JSON.stringify(setAt(hostPolicy(name), ['spec', 'zzz'], '__HOLE__')).replace(HOLE, `${'{"k":'.repeat(depth)}{"v":1}${'}'.repeat(depth)}`);
    add(family, `${depth} levels of block mappings`, { format: 'yaml', text: head, wire: [json] }, { verdict: 'invalid', field: 'spec.zzz', documentLevel: true });
  }
  for (const depth of [65, 5000]) {
    const name = nameFor(family);
    const text = toYaml([setAt(hostPolicy(name), ['spec', 'zzz'], '__HOLE__')]).replace(/__HOLE__/, `${'{k: '.repeat(depth)}v${'}'.repeat(depth)}`);
    const json = JSON.stringify(setAt(hostPolicy(name), ['spec', 'zzz'], '__HOLE__')).replace(HOLE, `${'{"k":'.repeat(depth)}"v"${'}'.repeat(depth)}`);
    add(family, `${depth} levels of flow mappings with plain keys`, { format: 'yaml', text, wire: [json] }, { verdict: 'invalid', field: 'spec.zzz', documentLevel: true });
  }
}

/** "Billion laughs" and other alias tricks. */
function yamlBombs(add: Add, nameFor: NameFor): void {
  const family: Family = 'yaml-bomb';
  const head = (name: string) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: ${name}\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: hostile-host\n`;
  const laughs = (levels: number, width: number, indent: string) => {
    const lines = [`${indent}l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
    for (let i = 1; i < levels; i++) lines.push(`${indent}l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
    return lines.join('\n');
  };
  const refused = (name: string, body: string, note: string, field = '') => add(family, note, { format: 'yaml', text: `${head(name)}${body}\n`, wire: [`${head(name)}${body}\n`] }, { verdict: 'invalid', documentLevel: true, field });
  for (const [levels, width] of [[9, 9], [10, 10], [6, 30], [3, 200], [20, 2], [30, 2]] as const) {
    const name = nameFor(family);
    refused(name, `  zzz:\n${laughs(levels, width, '    ')}`, `billion laughs ${width}^${levels} under spec.zzz`, 'spec.zzz');
  }
  {
    const name = nameFor(family);
    refused(name, `  file:\n    matchPaths: &m [{path: /srv/a}, {path: /srv/b}]\n    zzz:\n${laughs(12, 4, '      ')}`, 'laughs beside real rules', 'spec.file');
  }
  {
    const name = nameFor(family);
    const refs = Array(101).fill('*p').join(', ');
    refused(name, `  file:\n    matchPaths: [&p {path: /srv/p}, ${refs}]`, '102 uses of one anchor (limit 100)', 'spec.file.matchPaths');
  }
  {
    const name = nameFor(family);
    refused(name, `  file: &self\n    matchPaths: [*self]`, 'alias of an enclosing node (recursion)', 'spec.file');
  }
  {
    const name = nameFor(family);
    refused(name, `  file:\n    matchPaths: [*nowhere]`, 'alias to an anchor that does not exist', 'spec.file.matchPaths');
  }
  {
    const name = nameFor(family);
    refused(name, `  base: &b {file: {matchPaths: [{path: /srv/m}]}}\n  <<: [*b, *b, *b]\n  zzz:\n${laughs(8, 8, '    ')}`, 'merge keys of a bomb', 'spec');
  }
  {
    const name = nameFor(family);
    refused(name, `  ? &k file\n  : {matchPaths: [{path: /srv/k}]}\n  *k : {}`, 'an aliased key repeated (duplicate key)', 'spec');
  }
  // Within the alias limit: expands, and validation then speaks of the expanded object.
  {
    const name = nameFor(family);
    const body = `  file:\n    matchPaths:\n    - &item {path: /srv/alias, readOnly: true}\n${Array(60).fill('    - *item').join('\n')}`;
    const object = hostPolicy(name, { file: { matchPaths: Array(61).fill({ path: '/srv/alias', readOnly: true }) } });
    add(family, '61 uses of one valid item (within the limit)', { format: 'yaml', text: `${head(name)}${body}\n`, wire: [JSON.stringify(object)] }, { verdict: 'either' });
  }
  {
    const name = nameFor(family);
    const body = `  file:\n    matchPaths:\n    - &item {path: relative/alias}\n${Array(30).fill('    - *item').join('\n')}`;
    const object = hostPolicy(name, { file: { matchPaths: Array(31).fill({ path: 'relative/alias' }) } });
    add(family, 'an invalid item used 31 times through an alias', { format: 'yaml', text: `${head(name)}${body}\n`, wire: [JSON.stringify(object)] }, { verdict: 'invalid', field: 'spec.file.matchPaths[0].path' });
  }
  {
    const name = nameFor(family);
    const text = `apiVersion: &v security.kubearmor.com/v1\nkind: &k KubeArmorHostPolicy\nmetadata: &m\n  name: ${name}\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: hostile-host\n  zzz: [*v, *k, *m]\n`;
    const object = setAt(hostPolicy(name), ['spec', 'zzz'], [HSP_API, 'KubeArmorHostPolicy', { name }]);
    add(family, 'aliases of the object\'s own fields into an unknown field', { format: 'yaml', text, wire: [JSON.stringify(object)] }, { verdict: 'invalid', field: 'spec.zzz' });
  }
  {
    const name = nameFor(family);
    const text = `${head(name)}  file: !!js/function "function () { return 1 }"\n`;
    add(family, 'a JavaScript tag', { format: 'yaml', text, wire: [text] }, { verdict: 'invalid', documentLevel: true, field: 'spec.file' });
  }
  {
    const name = nameFor(family);
    const text = `${head(name)}  file: !<tag:yaml.org,2002:python/object/apply:os.system> ["id"]\n`;
    add(family, 'a python/object tag', { format: 'yaml', text, wire: [text] }, { verdict: 'invalid', documentLevel: true, field: 'spec.file' });
  }
  // Many documents, each within the alias limit, together far beyond it (the limit is per document).
  {
    const name = nameFor(family);
    const doc = (i: number) => `${head(`${name}-${i}`)}  zzz: [&a x, ${Array(59).fill('*a').join(', ')}]\n`;
    const text = Array.from({ length: 4 }, (_, i) => doc(i)).join('---\n');
    const wire = Array.from({ length: 4 }, (_, i) => JSON.stringify(setAt(hostPolicy(`${name}-${i}`), ['spec', 'zzz'], Array(60).fill('x'))));
    add(family, '4 documents of 59 aliases each', { format: 'yaml', text, wire }, { verdict: 'invalid', field: 'spec.zzz', object: 1 });
  }
}

/** Keys that are not in the schema, including JavaScript's own property names. */
function unknownFields(add: Add, nameFor: NameFor): void {
  const family: Family = 'unknown-fields';
  const places: [string, Path][] = [
    ['hsp', []],
    ['hsp', ['metadata']],
    ['hsp', ['spec']],
    ['hsp', ['spec', 'nodeSelector']],
    ['hsp', ['spec', 'file']],
    ['hsp', ['spec', 'file', 'matchPaths', 0]],
    ['hsp', ['spec', 'file', 'matchPaths', 0, 'fromSource', 0]],
    ['hsp', ['spec', 'process', 'matchPaths', 0]],
    ['hsp', ['spec', 'network', 'matchProtocols', 0]],
    ['ccnp', ['spec']],
    ['ccnp', ['spec', 'ingress', 0]],
    ['ccnp', ['spec', 'ingress', 0, 'toPorts', 0, 'ports', 0]],
    ['cnp', ['spec', 'ingress', 0, 'toPorts', 0, 'rules', 'http', 0]],
    ['dsp', ['spec']],
    ['dsp', ['spec', 'policy', 'spec', 'file', 'matchPaths', 0]],
    ['vm', ['spec']],
    ['vm', ['spec', 'learning']],
    ['vm', ['spec', 'defaultPosture']],
  ];
  const keys = ['readonly', 'Path', 'matchpaths', 'ownerOnIy', 'x-extra', 'fromGroups', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf', 'prototype', '', ' path', 'a.b', 'a\nb: 1', '0', '$ref'];
  let k = 0;
  for (const [kind, path] of places) {
    // Every place gets a plain misspelling and one or two of the others, round robin.
    const chosen = [keys[k % 6]!, keys[6 + (k % (keys.length - 6))]!, ...(k % 2 === 0 ? [keys[6 + ((k + 7) % (keys.length - 6))]!] : [])];
    k++;
    for (const key of chosen) {
      const name = nameFor(family);
      const base = MAKERS[kind]!(name);
      const json = jsonWithKey(base, path, key, key === '__proto__' ? { file: { matchPaths: [{ path: `relative ${MARKER}` }] } } : 'x');
      const format: 'yaml' | 'json' = k % 2 === 0 ? 'yaml' : 'json';
      // YAML keeps `__proto__` as a plain key too; emitted as JSON (JSON is YAML) to keep it exact.
      const plainKey = /^[A-Za-z_$][\w$-]*$/.test(key);
      add(family, `unknown field ${JSON.stringify(key)} in ${fieldOf(path) || 'the object'}`, { format, text: `${json}\n`, wire: [json] }, { verdict: 'invalid', field: plainKey ? fieldOf([...path, key]) : fieldOf(path), reason: /unknown field|reserved by JavaScript/ });
    }
  }
  // The same names as keys of maps (labels, selectors): legal label keys, but not to JavaScript.
  for (const [kind, path, key] of [
    ['hsp', ['spec', 'nodeSelector', 'matchLabels'], 'constructor'],
    ['vm', ['metadata', 'labels'], '__proto__'],
    ['vm', ['metadata', 'labels'], 'toString'],
    ['ccnp', ['spec', 'nodeSelector', 'matchLabels'], 'hasOwnProperty'],
  ] as [string, Path, string][]) {
    const name = nameFor(family);
    const json = jsonWithKey(MAKERS[kind]!(name), path, key, 'x');
    add(family, `${JSON.stringify(key)} as a key of ${fieldOf(path)}`, { format: 'json', text: `${json}\n`, wire: [json] }, { verdict: 'invalid', field: fieldOf(path) });
  }
  // Cilium fields KVMService does not support, and a KubeArmor field only container policies have.
  for (const [kind, path, value] of [
    ['ccnp', ['spec', 'ingress', 0, 'authentication'], { mode: 'required' }],
    ['ccnp', ['spec', 'egress', 0, 'toGroups'], [{ aws: { securityGroupsIds: ['sg-1'] } }]],
    ['ccnp', ['spec', 'ingress', 0, 'fromRequires'], [{ matchLabels: { a: 'b' } }]],
    ['hsp', ['spec', 'selector'], { matchLabels: { app: 'x' } }],
  ] as [string, Path, Json][]) {
    const name = nameFor(family);
    add(family, `unsupported field ${fieldOf(path)}`, { object: setAt(MAKERS[kind]!(name), path, value) }, { verdict: 'invalid', field: fieldOf(path), reason: /unknown field/ });
  }
}

function wrongKinds(add: Add, nameFor: NameFor): void {
  const family: Family = 'wrong-kind';
  const kinds: [Json, string][] = [
    ['Pod', 'kind'],
    ['KubeArmorPolicy', 'kind'],
    ['kubearmorhostpolicy', 'kind'],
    ['KubeArmorHostPolicies', 'kind'],
    ['hsp', 'kind'],
    [' KubeArmorHostPolicy', 'kind'],
    ['KubeArmorHostPolicy\n', 'kind'],
    ['KubeArmorHostPolicy\nobject 1 KubeArmorHostPolicy/forged: spec: forged line', 'kind'],
    ['', 'kind'],
    ['List', 'kind'],
    ['KubeArmorHostPolicyList', 'kind'],
    [42, 'kind'],
    [null, 'kind'],
    [['KubeArmorHostPolicy'], 'kind'],
    [{ kind: 'KubeArmorHostPolicy' }, 'kind'],
    ['CiliumClusterwideNetworkPolicy', 'apiVersion'],
    ['DiscoveredPolicy', 'spec.status'],
    ['KubeArmorVirtualMachine', 'spec.nodeSelector'],
  ];
  for (const [kind, field] of kinds) {
    const name = nameFor(family);
    add(family, `kind ${JSON.stringify(kind)} on a host policy`, { object: { ...hostPolicy(name), kind } }, { verdict: 'invalid', field });
  }
  const apiVersions: [string, Json][] = [
    ['hsp', 'security.kubearmor.com/v2'],
    ['hsp', 'security.kubearmor.com/v1beta1'],
    ['hsp', 'v1'],
    ['hsp', ''],
    ['hsp', 'cilium.io/v2'],
    ['hsp', 'Security.KubeArmor.com/v1'],
    ['hsp', 1],
    ['hsp', null],
    ['ccnp', 'security.kubearmor.com/v1'],
    ['ccnp', 'cilium.io/v2alpha1'],
    ['cnp', 'cilium.io/v1'],
    ['dsp', 'security.kubearmor.com/v1 '],
    ['vm', 'kubearmor.com/v1'],
  ];
  for (const [kind, apiVersion] of apiVersions) {
    const name = nameFor(family);
    add(family, `${kind} with apiVersion ${JSON.stringify(apiVersion)}`, { object: { ...MAKERS[kind]!(name), apiVersion } }, { verdict: 'invalid', field: 'apiVersion' });
  }
  // What a DiscoveredPolicy wraps.
  const wrapped: [string, (n: string) => Json, string][] = [
    ['a DiscoveredPolicy', (n) => discoveredPolicy(`${n}-inner`, hostPolicy(`${n}-inner2`)), 'spec.policy.kind'],
    ['a host', (n) => virtualMachine(`${n}-inner`), 'spec.policy.kind'],
    ['a Pod', (n) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${n}-inner` } }), 'spec.policy.kind'],
    ['a policy with the wrong apiVersion', (n) => ({ ...hostPolicy(`${n}-inner`), apiVersion: 'cilium.io/v2' }), 'spec.policy.apiVersion'],
    ['a policy without kind', (n) => deleteAt(hostPolicy(`${n}-inner`), ['kind']), 'spec.policy.kind'],
    ['a string', () => 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy', 'spec.policy'],
    ['a list of policies', (n) => [hostPolicy(`${n}-inner`)], 'spec.policy'],
  ];
  for (const [what, inner, field] of wrapped) {
    const name = nameFor(family);
    add(family, `DiscoveredPolicy wrapping ${what}`, { object: discoveredPolicy(name, inner(name) as Obj, 'Active') }, { verdict: 'invalid', field });
  }
  // A List whose items are not objects of ours.
  {
    const name = nameFor(family);
    const list = { apiVersion: 'v1', kind: 'List', items: [hostPolicy(name), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-cm` } }] };
    add(family, 'a List with a ConfigMap item', { format: 'json', text: `${JSON.stringify(list)}\n`, wire: list.items.map((i) => JSON.stringify(i)), locations: [' items[0]', ' items[1]'] }, { verdict: 'invalid', field: 'kind', object: 2 });
  }
  // Not an object at all.
  for (const [text, value, note] of [['"KubeArmorHostPolicy"\n', 'KubeArmorHostPolicy', 'a string'], ['- kind: KubeArmorHostPolicy\n', [{ kind: 'KubeArmorHostPolicy' }], 'a list'], ['42\n', 42, 'a number'], ['null\n', null, 'null'], ['true\n', true, 'a boolean']] as [string, Json, string][]) {
    add(family, `a document that is ${note}`, { format: 'yaml', text, wire: [JSON.stringify(value)] }, { verdict: 'invalid', field: '' });
  }
}

/** The same kind and name more than once in one file (one apply). */
function duplicates(add: Add, nameFor: NameFor): void {
  const family: Family = 'duplicates';
  const multi = (objects: Obj[]) => ({ format: 'yaml' as const, text: toYaml(objects), wire: objects.map((o) => JSON.stringify(o)) });
  const cases: [string, (name: string) => Obj[], Expectation][] = [
    ['identical host policy twice', (n) => [hostPolicy(n), hostPolicy(n)], { verdict: 'invalid', field: '', object: 2 }],
    ['host policy twice, different rules', (n) => [hostPolicy(n), hostPolicy(n, { file: { matchPaths: [{ path: '/srv/other' }] } })], { verdict: 'invalid', field: '', object: 2 }],
    ['host policy three times', (n) => [hostPolicy(n), hostPolicy(n, { action: 'Audit' }), hostPolicy(n, { action: 'Allow' })], { verdict: 'invalid', field: '', object: 2 }],
    ['duplicate after other objects', (n) => [hostPolicy(`${n}-a`), clusterPolicy(`${n}-b`), virtualMachine(`${n}-c`), hostPolicy(`${n}-a`)], { verdict: 'invalid', field: '', object: 4 }],
    ['host twice', (n) => [virtualMachine(n), setAt(virtualMachine(n), ['metadata', 'labels'], { env: 'other' })], { verdict: 'invalid', field: '', object: 2 }],
    ['clusterwide policy twice', (n) => [clusterPolicy(n), clusterPolicy(n)], { verdict: 'invalid', field: '', object: 2 }],
    ['network policy twice', (n) => [networkPolicy(n), networkPolicy(n)], { verdict: 'invalid', field: '', object: 2 }],
    ['discovered policy twice', (n) => [MAKERS.dsp!(n), setAt(MAKERS.dsp!(n), ['spec', 'status'], 'Active')], { verdict: 'invalid', field: '', object: 2 }],
    ['active discovered policy and the policy it puts in force', (n) => [discoveredPolicy(n, hostPolicy(`${n}-p`), 'Active'), hostPolicy(`${n}-p`)], { verdict: 'invalid', field: '' }],
    ['two active discovered policies putting one policy in force', (n) => [discoveredPolicy(`${n}-a`, hostPolicy(`${n}-p`), 'Active'), discoveredPolicy(`${n}-b`, hostPolicy(`${n}-p`), 'Active')], { verdict: 'invalid', field: '', object: 2 }],
    ['one name in two kinds (allowed)', (n) => [hostPolicy(n), clusterPolicy(n), networkPolicy(n), MAKERS.dsp!(n), virtualMachine(n)], { verdict: 'valid' }],
    ['names differing in case', (n) => [hostPolicy(n), hostPolicy(n.toUpperCase())], { verdict: 'invalid', field: 'metadata.name', object: 2 }],
    ['name with a trailing dot', (n) => [hostPolicy(n), hostPolicy(`${n}.`)], { verdict: 'invalid', field: 'metadata.name', object: 2 }],
  ];
  for (const [note, make, expect] of cases) {
    const name = nameFor(family);
    add(family, note, multi(make(name)), expect);
  }
  // Duplicates inside Lists (as `kvmctl get -o yaml` prints them) and across a List and a document.
  {
    const name = nameFor(family);
    const items = [hostPolicy(name), hostPolicy(name)];
    add(family, 'duplicate inside a List', { format: 'json', text: `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items })}\n`, wire: items.map((i) => JSON.stringify(i)), locations: [' items[0]', ' items[1]'] }, { verdict: 'invalid', field: '', object: 2 });
  }
  {
    const name = nameFor(family);
    const items = [hostPolicy(name), clusterPolicy(name)];
    const text = `${toYaml([{ apiVersion: 'v1', kind: 'List', items }])}---\n${toYaml([clusterPolicy(name)])}`;
    add(family, 'duplicate across a List and a document', { format: 'yaml', text, wire: [...items, clusterPolicy(name)].map((i) => JSON.stringify(i)), locations: ['#1 items[0]', '#1 items[1]', '#2'] }, { verdict: 'invalid', field: '', object: 3 });
  }
  // Many copies: the message must stay bounded.
  {
    const name = nameFor(family);
    const objects = Array.from({ length: 300 }, () => hostPolicy(name));
    add(family, '300 copies of one policy', multi(objects), { verdict: 'invalid', field: '', object: 2 });
  }
  {
    const name = nameFor(family);
    const objects = Array.from({ length: 120 }, (_, i) => hostPolicy(`${name}-${i % 60}`));
    add(family, '60 policies, each twice', multi(objects), { verdict: 'invalid', field: '', object: 61 });
  }
}

/** Files with several documents, one of them bad. */
function multiDocument(add: Add, nameFor: NameFor, pick: <T>(items: readonly T[]) => T): void {
  const family: Family = 'multi-document';
  type Bad = { note: string; text: (n: string) => string; wire: (n: string) => string; field: string; documentLevel?: boolean };
  const bads: Bad[] = [
    { note: 'a wrong type', text: (n) => toYaml([setAt(hostPolicy(n), ['spec', 'severity'], 'high')]), wire: (n) => JSON.stringify(setAt(hostPolicy(n), ['spec', 'severity'], 'high')), field: 'spec.severity' },
    { note: 'an unknown field', text: (n) => toYaml([setAt(hostPolicy(n), ['spec', 'file', 'matchPaths', 0, 'readonly'], true)]), wire: (n) => JSON.stringify(setAt(hostPolicy(n), ['spec', 'file', 'matchPaths', 0, 'readonly'], true)), field: 'spec.file.matchPaths[0].readonly' },
    { note: 'an injected path', text: (n) => toYaml([hostPolicy(n, { file: { matchPaths: [{ path: `/srv/x\n${MARKER} rw,` }] } })]), wire: (n) => JSON.stringify(hostPolicy(n, { file: { matchPaths: [{ path: `/srv/x\n${MARKER} rw,` }] } })), field: 'spec.file.matchPaths[0].path' },
    { note: 'a YAML syntax error', text: (n) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: ${n}\nspec: [unclosed\n`, wire: (n) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: ${n}\nspec: [unclosed\n`, field: '', documentLevel: true },
    { note: 'a duplicate key', text: (n) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: ${n}}\nspec: {nodeSelector: {matchLabels: {a: b}}}\nspec: {nodeSelector: {matchLabels: {c: d}}}\n`, wire: (n) => `{"apiVersion":"security.kubearmor.com/v1","kind":"KubeArmorHostPolicy","metadata":{"name":"${n}"},"spec":{"nodeSelector":{"matchLabels":{"a":"b"}}},"spec":{"nodeSelector":{"matchLabels":{"c":"d"}}}}`, field: '', documentLevel: true },
    { note: 'tab indentation', text: (n) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n\tname: ${n}\n`, wire: (n) => `apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n\tname: ${n}\n`, field: '', documentLevel: true },
    { note: 'a scalar document', text: () => 'just a string\n', wire: () => JSON.stringify('just a string'), field: '' },
    { note: 'a missing name', text: (n) => toYaml([deleteAt(hostPolicy(n), ['metadata', 'name'])]), wire: (n) => JSON.stringify(deleteAt(hostPolicy(n), ['metadata', 'name'])), field: 'metadata.name' },
    { note: 'a wrong kind', text: (n) => toYaml([{ ...hostPolicy(n), kind: 'KubeArmorPolicy' }]), wire: (n) => JSON.stringify({ ...hostPolicy(n), kind: 'KubeArmorPolicy' }), field: 'kind' },
    { note: 'a directive in the middle', text: (n) => `%YAML 1.1\n${toYaml([hostPolicy(n)])}`, wire: (n) => `%YAML 1.1\n${toYaml([hostPolicy(n)])}`, field: '', documentLevel: true },
  ];
  const goods: ((n: string) => Obj)[] = [(n) => hostPolicy(n), clusterPolicy, networkPolicy, (n) => MAKERS.dsp!(n), virtualMachine];
  for (let i = 0; i < 30; i++) {
    const name = nameFor(family);
    const bad = bads[i % bads.length]!;
    const count = 2 + (i % 4);
    const position = i % count;
    const texts: string[] = [];
    const wire: string[] = [];
    for (let d = 0; d < count; d++) {
      const n = `${name}-${d}`;
      if (d === position) {
        texts.push(bad.text(n));
        wire.push(bad.wire(n));
      } else {
        const object = pick(goods)(n);
        texts.push(d % 2 === 0 ? toYaml([object]) : `${JSON.stringify(object)}\n`);
        wire.push(JSON.stringify(object));
      }
    }
    const crlf = i % 7 === 3;
    const text = texts.map((t) => (crlf ? t.replace(/\n/g, '\r\n') : t)).join(crlf ? '---\r\n' : i % 5 === 0 ? '--- # next\n' : '---\n');
    add(family, `${count} documents, #${position + 1} has ${bad.note}${crlf ? ' (CRLF)' : ''}`, { format: 'yaml', text, wire }, { verdict: 'invalid', field: bad.field, object: position + 1, ...(bad.documentLevel ? { documentLevel: true } : {}) });
  }
}
