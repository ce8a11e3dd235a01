/**
 * Random valid host policies (fast-check) through the SELinux renderer:
 * - at least 100 of them render without problems, and all of those link together against
 *   Debian's refpolicy in one semodule transaction with neverallow checking on;
 * - none injects a statement: every module parses into the statements the renderer writes, policy
 *   text appears only inside filecon strings, every other token is a plain identifier, and every
 *   literal path is matched by exactly one file context;
 * - policies the renderer refuses name a field of the policy.
 * Paths are drawn from characters that are special to CIL, to regexes, to file_contexts and to
 * globs. The seed is printed so a failure can be replayed (KVMS_CORPUS_SEED=…).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import {
  createPrivateStore,
  leaves,
  linkSelinuxModules,
  parseCil,
  renderSelinuxModule,
  toByteString,
  type CilNode,
  type PrivateStore,
  type RenderedSelinuxModule,
} from '@kvmservice/selinux';

import { requireTool } from '../support/tools.js';

const seed = Number(process.env.KVMS_CORPUS_SEED ?? Date.now() % 2 ** 31);
const COUNT = 130;

// Path components: plain words and text with characters special somewhere along the way.
const component = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('etc', 'usr', 'bin', 'srv', 'opt', 'data', 'app', 'home', 'vagrant', 'log', 'x', 'a.b', 'conf.d') },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('a b', 'a(b)', 'a) (allow unconfined_t shadow_t (file (read)))', 'x;y', '#x', '$HOME', 'a|b', 'a^b', 'a+b', 'ü', '日本', 'a*b', 'q?', 'b[1]', '{x}', 'HOME_ROOT', '..x', '-'),
  },
);
const absPath = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => `/${c.join('/')}`);
const dirPath = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => `/${c.join('/')}/`);
const globPart = fc.oneof(component.filter((c) => !/[*?[\]{},]/.test(c)), fc.constantFrom('*', '*.log', 'a?', '[a-c]*', '{a,b}', '{x,y/z}', '[^0-9]x'));
const pattern = fc
  .tuple(fc.array(fc.constantFrom('etc', 'srv', 'opt', 'tmp', 'home'), { minLength: 1, maxLength: 2 }), fc.array(globPart, { minLength: 1, maxLength: 2 }), fc.boolean())
  .map(([lit, glob, deep]) => `/${[...lit, ...glob].join('/')}${deep ? '/**' : ''}`);
const action = fc.constantFrom('Allow', 'Audit', 'Block', undefined);
const fromSource = fc.array(absPath.map((path) => ({ path })), { minLength: 0, maxLength: 2 });
const sourced = fc.array(absPath.map((path) => ({ path })), { minLength: 1, maxLength: 2 });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const spec = fc.record(
  {
    action,
    process: optional(
      fc.record(
        {
          matchPaths: optional(fc.array(fc.record({ path: absPath, fromSource, action }, { requiredKeys: ['path'] }), { minLength: 1, maxLength: 2 })),
          matchDirectories: optional(fc.array(fc.record({ dir: dirPath, recursive: fc.boolean(), fromSource }, { requiredKeys: ['dir'] }), { maxLength: 1 })),
          matchPatterns: optional(fc.array(fc.record({ pattern }, { requiredKeys: ['pattern'] }), { maxLength: 1 })),
        },
        { requiredKeys: [] },
      ),
    ),
    file: optional(
      fc.record(
        {
          matchPaths: optional(fc.array(fc.record({ path: absPath, readOnly: fc.boolean(), fromSource, action }, { requiredKeys: ['path'] }), { minLength: 1, maxLength: 3 })),
          matchDirectories: optional(fc.array(fc.record({ dir: dirPath, recursive: fc.boolean(), readOnly: fc.boolean(), fromSource }, { requiredKeys: ['dir'] }), { maxLength: 2 })),
          matchPatterns: optional(fc.array(fc.record({ pattern, readOnly: fc.boolean() }, { requiredKeys: ['pattern'] }), { maxLength: 1 })),
        },
        { requiredKeys: [] },
      ),
    ),
    network: optional(fc.record({ matchProtocols: fc.array(fc.record({ protocol: fc.constantFrom('tcp', 'udp', 'icmp', 'raw', 'TCP,udp', 'stream', 'all'), fromSource: sourced, action }, { requiredKeys: ['protocol', 'fromSource'] }), { minLength: 1, maxLength: 2 }) })),
    capabilities: optional(fc.record({ matchCapabilities: fc.array(fc.record({ capability: fc.constantFrom('net_raw', 'sys_admin', 'chown,setuid', 'sys_module', 'mac_admin'), fromSource: sourced, action }, { requiredKeys: ['capability', 'fromSource'] }), { minLength: 1, maxLength: 2 }) })),
  },
  { requiredKeys: [] },
);

/** Drops keys whose value is undefined (the generator's "absent"). */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, clean(x)]));
  return v;
}

interface Rendered {
  index: number;
  object: Record<string, unknown>;
  result: RenderedSelinuxModule;
}

function corpus(): { rendered: Rendered[]; invalid: number } {
  const samples = fc.sample(spec, { numRuns: COUNT * 3, seed });
  const rendered: Rendered[] = [];
  let invalid = 0;
  samples.forEach((s, index) => {
    const object = clean({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: `corpus-${index}` }, spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': '*' } }, ...(s as object) } }) as Record<string, unknown>;
    const checked = validateResource(object);
    if (!checked.valid) {
      invalid++;
      return;
    }
    const policy = normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
    if (policy.rules.length === 0) return;
    rendered.push({ index, object, result: renderSelinuxModule([policy], { name: `corpus-host-${index}` }) });
  });
  return { rendered, invalid };
}

const STATEMENTS = new Set(['classpermission', 'classpermissionset', 'type', 'roletype', 'typeattribute', 'typeattributeset', 'allow', 'auditallow', 'typetransition', 'filecon']);

describe(`random host policies on SELinux (seed ${seed})`, () => {
  const { rendered } = corpus();
  const usable = rendered.filter((r) => r.result.problems.length === 0).slice(0, COUNT);
  let store: PrivateStore | undefined;
  afterAll(() => store?.dispose());

  it('renders at least 100 of them without problems; refusals name a field of the policy', () => {
    expect(usable.length).toBeGreaterThanOrEqual(100);
    for (const r of rendered.filter((x) => x.result.problems.length > 0)) {
      expect(r.result.module).toBe('');
      for (const p of r.result.problems) {
        expect(p.policy).toBe(`corpus-${r.index}`);
        expect(p.field).toMatch(/^spec\.(process|file|network|capabilities)\.match\w+\[\d+\]/);
      }
    }
  });

  it('lets no policy text add a statement', () => {
    const violations: string[] = [];
    const ATOM = /^[A-Za-z0-9_]+$/;
    for (const { index, object, result } of usable) {
      const where = `corpus-${index}: ${JSON.stringify(object.spec)}`;
      const parsed = parseCil(result.module);
      if (!Array.isArray(parsed)) {
        violations.push(`${where}: ${parsed.error}`);
        continue;
      }
      let filecons = 0;
      for (const statement of parsed as CilNode[][]) {
        const head = (statement[0] as { atom: string }).atom;
        if (!STATEMENTS.has(head)) violations.push(`${where}: statement ${head}`);
        const all = leaves(statement);
        const strings = all.filter((l) => 'string' in l);
        if (strings.length !== (head === 'filecon' ? 1 : 0)) violations.push(`${where}: ${strings.length} strings in ${head}`);
        if (head === 'filecon') filecons++;
        for (const l of all) if ('atom' in l && !ATOM.test(l.atom)) violations.push(`${where}: token ${l.atom}`);
      }
      if (filecons !== result.fileContexts.length) violations.push(`${where}: ${filecons} filecon statements for ${result.fileContexts.length} file contexts`);
      // Every literal path of the policy is matched by exactly one exact (non-regex) file context.
      const spec = object.spec as { file?: { matchPaths?: { path: string }[] }; process?: { matchPaths?: { path: string }[] } };
      const exact = result.fileContexts.filter((f) => f.pathRegex.endsWith('\\Q\\E') && !/[.^$?*+|[({]/.test(f.pathRegex.replace(/\\./g, '')));
      for (const { path } of [...(spec.file?.matchPaths ?? []), ...(spec.process?.matchPaths ?? [])]) {
        const canonical = toByteString(path.replace(/\/{2,}/g, '/').replace(/^\/(bin|sbin|lib)(?=\/|$)/, '/usr/$1'));
        const hits = exact.filter((f) => new RegExp(`^(?:${f.pathRegex.slice(0, -4)})$`).test(canonical));
        if (hits.length !== 1) violations.push(`${where}: ${path} has ${hits.length} exact file contexts`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('links all of them against the refpolicy in one transaction (neverallow checked)', async () => {
    requireTool('semodule', 'semodule-utils');
    store = createPrivateStore({ checkNeverallow: true });
    const linked = await linkSelinuxModules(
      usable.map((u) => u.result),
      { root: store.root, timeoutMs: 600_000 },
    );
    const culprit = /\/([^/\s]+)\.cil\/?/.exec(linked.error ?? '')?.[1] ?? /modules\/400\/([^/]+)\//.exec(linked.error ?? '')?.[1];
    const which = culprit ? usable.find((u) => u.result.moduleName === culprit) : undefined;
    expect(linked.error, which ? `corpus-${which.index}: ${JSON.stringify(which.object.spec)}` : undefined).toBeUndefined();
    expect(linked.ok).toBe(true);
  }, 600_000);
});
