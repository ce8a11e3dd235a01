import { describe, expect, it } from 'vitest';
import { checkDocuments, problemLines } from './report.js';
import { validateResource } from './validate-resource.js';

const hsp = (spec: unknown, metadata: unknown = { name: 'p' }) => ({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata, spec });
const errorsOf = (o: unknown) => {
  const r = validateResource(o);
  return r.valid ? [] : r.errors.map((e) => `${e.field}: ${e.reason}`);
};

describe('validateResource', () => {
  it('names the field of a bad path', () => {
    expect(errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path: 'etc/passwd' }] } }))).toEqual([
      "spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'",
    ]);
  });

  it('refuses unknown fields, naming them', () => {
    expect(errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path: '/x', readonly: true }] } }))).toEqual([
      'spec.file.matchPaths[0].readonly: unknown field',
    ]);
  });

  it('says what is missing', () => {
    expect(errorsOf(hsp({}))).toEqual(['spec.nodeSelector: is required']);
    expect(errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } } }, {}))).toEqual(['metadata.name: is required']);
  });

  it('refuses text that could become a rule of its own', () => {
    const bad = ['/tmp/x"\n  /etc/shadow rw,', '/tmp/\u0000', '/home/@{HOME}/x', '/tmp/a\\b'];
    for (const path of bad) {
      const errors = errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path }] } }));
      expect(errors.length, path).toBe(1);
      expect(errors[0]).toMatch(/^spec\.file\.matchPaths\[0\]\.path: must not contain/);
    }
    expect(errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPatterns: [{ pattern: '/tmp/{a,b' }] } }))).toEqual([
      'spec.file.matchPatterns[0].pattern: has a "{" without a matching "}"',
    ]);
  });

  it('refuses an explicit null where a value is expected', () => {
    expect(errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, action: null }))).toEqual(['spec.action: must be one of Allow, Audit, Block']);
  });

  it('never throws, whatever it is given', () => {
    for (const v of [null, 1, 'x', [], { kind: 1 }, { kind: 'KubeArmorHostPolicy' }, hsp([]), hsp('x'), hsp({ nodeSelector: [] }), JSON.parse('{"__proto__": {"x": 1}, "kind": "KubeArmorHostPolicy"}')]) {
      expect(validateResource(v).valid).toBe(false);
    }
  });

  it('validates the policy a DiscoveredPolicy wraps', () => {
    const dsp = { apiVersion: 'security.kubearmor.com/v1', kind: 'DiscoveredPolicy', metadata: { name: 'd' }, spec: { status: 'Inactive', policy: hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path: '/x/' }] } }) } };
    expect(errorsOf(dsp)).toEqual(["spec.policy.spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'"]);
  });
});

describe('checkDocuments', () => {
  it('reports FILE#doc KIND/NAME: field: reason, one line per problem', () => {
    const text = [
      'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: good}\nspec: {nodeSelector: {matchLabels: {a: b}}}',
      'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: bad}\nspec: {nodeSelector: {matchLabels: {a: b}}, severity: 11}',
    ].join('\n---\n');
    expect(problemLines(checkDocuments(text, 'p.yaml'))).toEqual(['p.yaml#2 KubeArmorHostPolicy/bad: spec.severity: must be at most 10']);
  });

  it('bounds YAML alias expansion, nesting and size', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]', 'f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]'].join('\n');
    expect(problemLines(checkDocuments(bomb, 'bomb.yaml'))[0]).toMatch(/^bomb\.yaml: yaml: /);
    expect(problemLines(checkDocuments(`${'['.repeat(100)}${']'.repeat(100)}`, 'deep.yaml'))).toEqual(['deep.yaml: document is nested deeper than 64 levels']);
    expect(problemLines(checkDocuments('a: 1\na: 2\n', 'dup.yaml'))[0]).toMatch(/^dup\.yaml: yaml: .*unique/i);
  });

  it('expands Lists as kubectl prints them', () => {
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [hsp({ nodeSelector: { matchLabels: { a: 'b' } } }), hsp({ nodeSelector: { matchLabels: {} } }, { name: 'q' })] });
    expect(problemLines(checkDocuments(list, '-'))).toEqual(['- items[1] KubeArmorHostPolicy/q: spec.nodeSelector.matchLabels: must have at least one label (an empty selector selects no host)']);
  });
});

describe('hostile sizes', () => {
  it('refuses megabyte strings quickly, naming the field', () => {
    const started = process.hrtime.bigint();
    const errors = errorsOf(hsp({ nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path: '/'.repeat(1_000_000) }], matchDirectories: [{ dir: `/${'a'.repeat(1_000_000)}` }] } }));
    expect(errors).toContain('spec.file.matchPaths[0].path: must be at most 200 characters');
    expect(errors).toContain('spec.file.matchDirectories[0].dir: must be at most 4096 characters');
    // The CRD's path pattern backtracks quadratically: on this input it would run for hours.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(10);
  });
});

describe('hostile input (found by test/corpus/hostile-policies.test.ts)', () => {
  const base = { nodeSelector: { matchLabels: { a: 'b' } } };
  const fromJson = (spec: string, metadata = '{"name":"p"}') => JSON.parse(`{"apiVersion":"security.kubearmor.com/v1","kind":"KubeArmorHostPolicy","metadata":${metadata},"spec":${spec}}`) as unknown;

  it('refuses keys named like Object.prototype members, which class-transformer drops unseen', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      expect(errorsOf(fromJson(`{"nodeSelector":{"matchLabels":{"a":"b"}},"file":{"matchPaths":[{"path":"/x","${key}":1}]}}`)), key).toEqual([
        `spec.file.matchPaths[0].${key}: unknown field`,
      ]);
      expect(errorsOf(fromJson(`{"nodeSelector":{"matchLabels":{"a":"b"}},"${key}":{"file":{"matchPaths":[{"path":"rel"}]}}}`)), key).toEqual([`spec.${key}: unknown field`]);
    }
    expect(errorsOf(fromJson('{"nodeSelector":{"matchLabels":{"a":"b","constructor":"x"}}}'))).toEqual([
      'spec.nodeSelector.matchLabels.constructor: is a name reserved by JavaScript and cannot be used as a key',
    ]);
  });

  it('refuses nesting beyond 64 levels by field, at any depth, without recursing', () => {
    const deep = (n: number) => fromJson(`{"nodeSelector":{"matchLabels":{"a":"b"}},"zzz":${'{"x":'.repeat(n)}1${'}'.repeat(n)}}`);
    for (const n of [70, 100_000]) {
      const errors = errorsOf(deep(n));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^spec\.zzz(\.x)+: is nested deeper than 64 levels$/);
    }
    expect(problemLines(checkDocuments(`a: ${'['.repeat(5000)}${']'.repeat(5000)}`, 'deep.yaml'))).toEqual(['deep.yaml: document is nested deeper than 64 levels']);
  });

  it('keeps every problem line short whatever the input echoes, and bounds their number', () => {
    const long = 'x'.repeat(1_000_000);
    const lines = [
      ...problemLines(checkDocuments(JSON.stringify({ ...hsp(base), kind: long }), 'k.json')),
      ...problemLines(checkDocuments(JSON.stringify(hsp({ ...base, [long]: 1 })), 'key.json')),
      ...problemLines(checkDocuments(JSON.stringify(hsp({ ...base, network: { matchProtocols: [{ protocol: `tcp,${long}`, fromSource: [{ path: '/x' }] }] } })), 'p.json')),
      ...problemLines(checkDocuments(JSON.stringify(hsp(base, { name: long })), 'n.json')),
    ];
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.length, line.slice(0, 100)).toBeLessThan(600);
    const many = errorsOf(hsp({ ...base, file: { matchPaths: Array.from({ length: 1000 }, () => ({ path: 'rel' })) } }));
    expect(many).toHaveLength(51);
    expect(many.at(-1)).toBe(': and 950 more problems');
  });

  it('shows a kind or name that could break or forge a line quoted', () => {
    const r = validateResource({ ...hsp(base, { name: 'a\nobject 2 X/y: forged' }), kind: 'KubeArmorHostPolicy\nobject 3' });
    expect(r.valid).toBe(false);
    if (!r.valid) {
      expect(r.kind).toBe('"KubeArmorHostPolicy\\nobject 3"');
      expect(r.name).toBe('"a\\nobject 2 X/y: forged"');
    }
  });
});
