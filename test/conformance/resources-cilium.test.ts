/**
 * Cilium policies: every upstream host example loads (or is listed with the field we name), every
 * policy we accept satisfies Cilium's CRD schema (ajv), and L7 HTTP rules are refused in host
 * (nodeSelector) policies, where Cilium would silently drop them (cilium#44493).
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDocuments, parseDocuments, problemLines, toYaml, validateResource } from '@kvmservice/resources';
import { conformanceDir } from '../support/conformance.js';
import { ciliumSchemaValidator } from '../support/crd-schemas.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upstream host examples that do not satisfy Cilium 1.18's own CRD schema. */
const UPSTREAM_MISTAKES: Record<string, string> = {
  // `- protocol: VRRP` without a port: needs --enable-extended-ip-protocols and a newer CRD; 1.18.2 requires `port`.
  'allow-extended-protocols.yaml': 'spec.egress[0].toPorts[0].ports[5].port: is required',
};

const hostDir = () => conformanceDir('cilium', 'examples', 'host');
const l7Dir = () => conformanceDir('cilium', 'examples', 'l7');
const read = (dir: string, file: string) => parseDocuments(readFileSync(`${dir}/${file}`, 'utf8'), file).map((d) => d.object as Obj);

/** The same rules, as a host policy: endpointSelector replaced by a nodeSelector. */
function asHostPolicy(policy: Obj): Obj {
  const p = structuredClone(policy);
  p.kind = 'CiliumClusterwideNetworkPolicy';
  for (const rule of [p.spec, ...((p.specs as unknown[]) ?? [])].filter(isObj)) {
    rule.nodeSelector = rule.endpointSelector;
    delete rule.endpointSelector;
  }
  return p;
}

describe('Cilium host policy examples', () => {
  const files = readdirSync(hostDir()).filter((f) => f.endsWith('.yaml'));

  it('finds the examples', () => expect(files.length).toBeGreaterThanOrEqual(5));

  it.each(files)('%s loads, or is a listed upstream mistake', (file) => {
    const problems = problemLines(checkDocuments(readFileSync(`${hostDir()}/${file}`, 'utf8'), file));
    const expected = UPSTREAM_MISTAKES[file];
    if (expected === undefined) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toContain(expected);
  });

  it.each(files.filter((f) => !(f in UPSTREAM_MISTAKES)))('%s satisfies the CRD schema and round-trips', (file) => {
    const validate = ciliumSchemaValidator('CiliumClusterwideNetworkPolicy');
    for (const object of read(hostDir(), file)) {
      expect(validate(object), JSON.stringify(validate.errors)).toBe(true);
      expect(parseDocuments(toYaml([object]), 'x')[0]!.object).toEqual(object);
    }
  });
});

describe('L7 rules', () => {
  it('HTTP examples load as endpoint policies', () => {
    for (const file of ['http.yaml', 'l7_multi.yaml']) {
      for (const object of read(l7Dir(), file)) {
        const result = validateResource(object);
        expect(result.valid, JSON.stringify(result)).toBe(true);
        expect(ciliumSchemaValidator('CiliumNetworkPolicy')(object)).toBe(true);
      }
    }
  });

  it.each(['http.yaml', 'l7_multi.yaml'])('%s is refused with a nodeSelector, naming the http rule', (file) => {
    for (const object of read(l7Dir(), file)) {
      const result = validateResource(asHostPolicy(object));
      expect(result.valid).toBe(false);
      if (result.valid) continue;
      // Cilium's schema alone would accept it: that is the trap.
      expect(ciliumSchemaValidator('CiliumClusterwideNetworkPolicy')(asHostPolicy(object))).toBe(true);
      expect(result.errors.some((e) => /toPorts\[\d+\]\.rules\.http$/.test(e.field) && e.reason.includes('only DNS L7'))).toBe(true);
    }
  });

  it('DNS L7 rules are allowed in a host policy', () => {
    for (const object of read(l7Dir(), 'dns.yaml')) {
      const host = asHostPolicy(object);
      expect(validateResource(host).valid).toBe(true);
      expect(ciliumSchemaValidator('CiliumClusterwideNetworkPolicy')(host)).toBe(true);
    }
  });
});

describe('every Cilium policy we accept satisfies the CRD schema', () => {
  const VALUES: unknown[] = [
    '10.0.0.0/8', '10.0.0.1', 'fd00::/64', '300.1.1.1/8', 'world', 'bogus-entity', 'TCP', 'UDP', 'ICMP', 'tcp', '53', '80', '65536',
    'http', '80abc', '-1', '', 'cilium.io', '*.cilium.io', 'a b', 'EchoRequest', 8, 256, -1, 0, 65535, 65536, true, null, [], ['world'],
    ['10.0.0.0/8'], [{ port: '443', protocol: 'TCP' }], [{ matchName: 'example.com' }], [{ matchPattern: '*.example.com', matchName: 'x.com' }],
    {}, { matchLabels: { app: 'web' } }, { matchLabels: { app: 'bad value!' } }, { dns: [{ matchPattern: '*' }] },
    { http: [{ method: 'GET', path: '/' }] }, { l7proto: 'x' }, [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }],
    [{ cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }], [{ fields: [{ type: 8, family: 'IPv4' }] }],
  ];
  const KEYS = ['fromEntities', 'toEntities', 'fromCIDR', 'toCIDR', 'toCIDRSet', 'toFQDNs', 'toPorts', 'ports', 'port', 'protocol', 'endPort', 'rules', 'icmps', 'nodeSelector', 'endpointSelector', 'egress', 'ingress', 'bogus'];

  const seeds = [
    ...readdirSync(hostDir()).filter((f) => f.endsWith('.yaml') && !(f in UPSTREAM_MISTAKES)).flatMap((f) => read(hostDir(), f)),
    ...['http.yaml', 'l7_multi.yaml', 'dns.yaml'].flatMap((f) => read(l7Dir(), f)).map(asHostPolicy),
  ];

  function mutate(root: Obj, pick: number, value: number, key: number, op: number): void {
    const paths: { parent: Obj | unknown[]; key: string | number }[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach((c, i) => { paths.push({ parent: v, key: i }); walk(c); });
      else if (isObj(v)) for (const [k, c] of Object.entries(v)) { paths.push({ parent: v, key: k }); walk(c); }
    };
    walk(root.spec);
    const target = paths[pick % paths.length];
    if (!target) return;
    const v = structuredClone(VALUES[value % VALUES.length]);
    if (op === 0 && Array.isArray(target.parent)) target.parent.splice(target.key as number, 1);
    else if (op === 0) delete (target.parent as Obj)[target.key as string];
    else if (op === 1 && isObj((target.parent as Obj)[target.key as string])) ((target.parent as Obj)[target.key as string] as Obj)[KEYS[key % KEYS.length]!] = v;
    else (target.parent as Record<string | number, unknown>)[target.key] = v;
  }

  it('on 400 mutated policies', () => {
    const schema = ciliumSchemaValidator('CiliumClusterwideNetworkPolicy');
    let accepted = 0;
    fc.assert(
      fc.property(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(500), fc.nat(500), fc.nat(500), fc.nat(2)), { maxLength: 3 }), (seed, steps) => {
        const policy = structuredClone(seeds[seed]!);
        for (const [p, v, k, op] of steps) mutate(policy, p, v, k, op);
        if (validateResource(policy).valid) {
          accepted++;
          expect(schema(policy), `${JSON.stringify(policy)}\n${JSON.stringify(schema.errors)}`).toBe(true);
        }
      }),
      { numRuns: 400, seed: Number(process.env.FC_SEED ?? 20261128) },
    );
    expect(accepted).toBeGreaterThan(80);
  });
});
