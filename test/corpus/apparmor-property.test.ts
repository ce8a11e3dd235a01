/**
 * Property test of the AppArmor renderer: at least 500 random valid KubeArmorHostPolicy objects
 * (fast-check; hostile characters in every string, a marker path injected into paths, patterns,
 * sources, messages and tags), rendered in small groups per host, must
 * - render deterministically and independently of policy order,
 * - compile with the real apparmor_parser (`-Q -K -M <pinned features>`, batched),
 * - contain only lines of the shapes the renderer writes, with every quoted string derived from a
 *   path of the policy, so the marker never appears outside a quoted path (never as its own rule),
 * - report every syscall, device and DNS rule as unenforceable.
 * The seed is random per run and printed on failure (KVM_PROPERTY_SEED=N replays it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compileAppArmorFiles, renderAppArmorProfiles, type AppArmorRender, type Posture } from '@kvmservice/apparmor';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { appArmorRenderProblems } from '../support/apparmor-render-checks.js';

const MARKER = '/kvm-injected-marker';
const SEED = Number(process.env.KVM_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const WANTED_POLICIES = 500;

// --- Generators ----------------------------------------------------------------------------------

/** Characters a path may hold that mean something to AppArmor or a shell; all must render safely. */
const TRICKY = [' ', ',', '#', '*', '?', '{', '}', '[', ']', '^', '@', '$', "'", '(', ')', '!', '+', '=', '~', '%', '&', ';', '|', '<', '>', '-', '_', '.', 'ü', '€'];
/** What validation refuses; generated rarely, so that most policies stay valid. */
const REFUSED = ['\n', '"', '\\', '\t', '@{x}', '\u0000'];
const PLAIN = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
const chars = (pool: string[], max: number) => fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: max }).map((cs) => cs.join(''));
const segment = fc.oneof({ weight: 3, arbitrary: chars(PLAIN, 8) }, { weight: 2, arbitrary: chars([...PLAIN, ...TRICKY], 8) });
/** A path, sometimes carrying the marker as if to start a rule of its own, rarely something refused. */
const path = fc
  .tuple(
    fc.array(segment, { minLength: 1, maxLength: 4 }),
    fc.oneof(
      { weight: 12, arbitrary: fc.constant('') },
      { weight: 4, arbitrary: fc.constantFrom(`, ${MARKER} rw,`, ` ${MARKER}`, `}, ${MARKER} px,`) },
      { weight: 1, arbitrary: fc.constantFrom(...REFUSED, `,\n${MARKER} rw,`, `" ${MARKER} rw, "`) },
    ),
  )
  .map(([segs, tail]) => `/${segs.join('/')}${tail}`)
  .filter((p) => !p.endsWith('/'));
const dir = fc.oneof({ weight: 6, arbitrary: path.map((p) => `${p}/`) }, { weight: 1, arbitrary: fc.constant('/') });
const classArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('[a-z]', '[^0-9]', '[abc]', '[-x]', '[,.]', '[^-]') }, { weight: 1, arbitrary: fc.constantFrom('[]', '[a-]', '[z-a]', '[*]') });
const patternText = chars([...PLAIN, ' ', ',', '#', '^', '$', "'", '(', ')', '!', '+', '=', '~', '%', '&', ';', '|', '-', '_', '.', 'ü'], 6);
const globPiece: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: patternText },
  { weight: 3, arbitrary: fc.constantFrom('*', '?', '/', '/', '*.log', '**', '/**/') },
  { weight: 1, arbitrary: classArb },
  { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: chars(PLAIN, 4) }, { weight: 1, arbitrary: fc.constantFrom('', '**') }), { minLength: 2, maxLength: 3 }).map((alts) => `{${alts.join(',')}}`) },
  { weight: 1, arbitrary: fc.constantFrom(MARKER, `${MARKER} rw,`) },
);
const pattern = fc.array(globPiece, { minLength: 1, maxLength: 5 }).map((ps) => `/${ps.join('')}`);
const SOURCES = ['/usr/bin/head', '/usr/bin/bash', '/opt/my app/bin*', `/srv/a,b #c${MARKER}`, '/usr/bin/cat'];
const fromSource = fc.option(fc.uniqueArray(fc.constantFrom(...SOURCES), { minLength: 1, maxLength: 2 }).map((ps) => ps.map((p) => ({ path: p }))), { nil: undefined, freq: 2 });
const action = fc.option(fc.constantFrom('Allow', 'Audit', 'Block'), { nil: undefined });
const bool = fc.option(fc.boolean(), { nil: undefined });
const meta = fc.record(
  {
    action,
    severity: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    message: fc.option(fc.constantFrom(`${MARKER} rw,`, 'hello', `x",\n${MARKER} rw,`), { nil: undefined }),
    tags: fc.option(fc.array(fc.constantFrom('a', MARKER, `}\n${MARKER} rw,`), { maxLength: 2 }), { nil: undefined }),
  },
  { requiredKeys: [] },
);
const strip = <T extends object>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

const processBlock = fc.record(
  {
    matchPaths: fc.array(
      fc.tuple(meta, fc.oneof(path.map((p) => ({ path: p })), segment.map((e) => ({ execname: e }))), bool, fromSource).map(([m, t, ownerOnly, fs]) => ({ ...m, ...t, ownerOnly, fromSource: fs })),
      { maxLength: 3 },
    ),
    matchDirectories: fc.array(fc.tuple(meta, dir, bool, bool, fromSource).map(([m, d, recursive, ownerOnly, fs]) => ({ ...m, dir: d, recursive, ownerOnly, fromSource: fs })), { maxLength: 2 }),
    matchPatterns: fc.array(fc.tuple(meta, pattern, bool).map(([m, p, ownerOnly]) => ({ ...m, pattern: p, ownerOnly })), { maxLength: 1 }),
  },
  { requiredKeys: [] },
);
const fileBlock = fc.record(
  {
    matchPaths: fc.array(fc.tuple(meta, path, bool, bool, fromSource).map(([m, p, readOnly, ownerOnly, fs]) => ({ ...m, path: p, readOnly, ownerOnly, fromSource: fs })), { maxLength: 3 }),
    matchDirectories: fc.array(
      fc.tuple(meta, dir, bool, bool, bool, fromSource).map(([m, d, recursive, readOnly, ownerOnly, fs]) => ({ ...m, dir: d, recursive, readOnly, ownerOnly, fromSource: fs })),
      { maxLength: 2 },
    ),
    matchPatterns: fc.array(fc.tuple(meta, pattern, bool, bool).map(([m, p, readOnly, ownerOnly]) => ({ ...m, pattern: p, readOnly, ownerOnly })), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const PROTOCOLS = ['tcp', 'UDP', 'icmp', 'raw', 'stream', 'dgram', 'rdm', 'seqpacket', 'packet', 'all', 'icmpv6', 'sctp', 'dccp', 'tcp,udp', 'TCP, icmp'];
const CAPS = ['chown', 'net_raw', 'net_bind_service', 'sys_admin', 'setuid,setgid', 'dac_override', 'mac_admin'];
const SOURCE_REQUIRED = fc.uniqueArray(fc.constantFrom(...SOURCES), { minLength: 1, maxLength: 2 }).map((ps) => ps.map((p) => ({ path: p })));
const networkBlock = fc.record(
  {
    matchProtocols: fc.array(fc.tuple(meta, fc.constantFrom(...PROTOCOLS), SOURCE_REQUIRED).map(([m, protocol, fs]) => ({ ...m, protocol, fromSource: fs })), { minLength: 1, maxLength: 2 }),
    matchDNSQueries: fc.array(fc.constantFrom('example.com', 'a.b,c.d').map((domain) => ({ domain })), { maxLength: 1 }),
  },
  { requiredKeys: [] },
);
const capabilitiesBlock = fc.record({
  matchCapabilities: fc.array(fc.tuple(meta, fc.constantFrom(...CAPS), SOURCE_REQUIRED).map(([m, capability, fs]) => ({ ...m, capability, fromSource: fs })), { minLength: 1, maxLength: 2 }),
});
const spec = fc.record(
  {
    process: fc.tuple(meta, processBlock).map(([m, b]) => ({ ...m, ...b })),
    file: fc.tuple(meta, fileBlock).map(([m, b]) => ({ ...m, ...b })),
    network: networkBlock,
    capabilities: capabilitiesBlock,
    syscalls: fc.constant({ matchSyscalls: [{ syscall: ['unlink'] }] }),
    device: fc.constant({ matchDevice: [{ class: 'HID' }] }),
    action,
    message: fc.option(fc.constant(`${MARKER} r,`), { nil: undefined }),
  },
  { requiredKeys: [] },
);
const policyObject = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), spec, fc.option(fc.integer({ min: 1, max: 99999 }), { nil: undefined })).map(([name, s, rv]) =>
  strip({
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name, ...(rv ? { resourceVersion: String(rv) } : {}) },
    spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': '*' } }, ...s },
  }),
);
const POSTURES: Posture[] = ['allow', 'audit', 'block'];
const group = fc.record({
  policies: fc.array(policyObject, { minLength: 6, maxLength: 12 }),
  postures: fc.record({ file: fc.constantFrom(...POSTURES), network: fc.constantFrom(...POSTURES), capabilities: fc.constantFrom(...POSTURES) }),
  allowNativeRules: fc.boolean(),
});

// --- What every rendered line may look like ------------------------------------------------------

function checkLines(render: AppArmorRender, policies: NormalizedHostPolicy[], native: boolean, where: string): void {
  expect(appArmorRenderProblems(render, policies, { native, where })).toEqual([]);
}

// --- The property --------------------------------------------------------------------------------

describe('AppArmor renderer properties (fast-check, real apparmor_parser)', () => {
  const work = mkdtempSync(join(tmpdir(), 'apparmor-property-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(`renders ≥ ${WANTED_POLICIES} random valid policies into profiles that compile and carry nothing the policies did not ask for (seed ${SEED})`, { timeout: 300_000 }, async () => {
    const groups: { policies: NormalizedHostPolicy[]; options: Parameters<typeof renderAppArmorProfiles>[2] }[] = [];
    let valid = 0;
    let invalid = 0;
    let rng = SEED;
    while (valid < WANTED_POLICIES) {
      for (const g of fc.sample(group, { numRuns: 10, seed: rng++ })) {
        const policies: NormalizedHostPolicy[] = [];
        for (const object of g.policies) {
          const checked = validateResource(object);
          if (checked.valid) policies.push(normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy));
          else invalid++;
        }
        if (policies.length === 0) continue;
        valid += policies.length;
        groups.push({ policies, options: { postures: g.postures, allowNativeRules: g.allowNativeRules } });
      }
    }

    const files: string[] = [];
    groups.forEach(({ policies, options }, i) => {
      const where = `seed ${SEED} group ${i}`;
      const render = renderAppArmorProfiles(policies, { name: 'prop-host' }, options);
      expect(renderAppArmorProfiles([...policies].reverse(), { name: 'prop-host' }, options), `${where}: order independence`).toEqual(render);
      checkLines(render, policies, options?.allowNativeRules ?? false, where);
      const reported = new Set(render.unenforceable.map((u) => `${u.policy} ${u.field}`));
      for (const p of policies) for (const r of p.rules) if (r.class === 'syscall' || r.class === 'device' || r.class === 'dns') expect(reported, where).toContain(`${p.name} ${r.field}`);
      const dir = mkdtempSync(join(work, `g${i}-`));
      for (const a of render.artifacts) {
        writeFileSync(join(dir, a.fileName), a.content);
        files.push(join(dir, a.fileName));
      }
    });
    const compiled = await compileAppArmorFiles(files);
    const failures = compiled.filter((c) => !c.ok);
    expect(failures, `seed ${SEED}: profiles that do not compile`).toEqual([]);
    console.log(`apparmor property: seed ${SEED}, ${valid} valid policies (${invalid} generated invalid), ${groups.length} renders, ${files.length} profiles compiled`);
    expect(valid).toBeGreaterThanOrEqual(WANTED_POLICIES);
    // The generators must mostly produce valid policies, or the property says little.
    expect(invalid).toBeLessThan(valid);
  });
});
