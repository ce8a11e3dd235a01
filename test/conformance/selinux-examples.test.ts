/**
 * Upstream host policies on SELinux:
 * - every KubeArmorHostPolicy among the upstream examples (examples/host-security-policies,
 *   examples/vagrant-selinux, tests/nonk8s_env, docs) either renders or is refused with the field
 *   SELinux cannot express; all rendered modules link together against Debian's refpolicy in a
 *   private store with neverallow checking on (one semodule transaction);
 * - for each upstream SELinux example (examples/vagrant-selinux/host-policies), the command its
 *   comments document is checked on the linked policy: which type the file gets (libselinux's
 *   lookup over the store's file contexts), which domain the program runs in (type_transition),
 *   and whether the access is allowed — with the rule of the module that decides it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDocuments, normalizeHostPolicy, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import {
  createPrivateStore,
  linkSelinuxModules,
  lookupFileContext,
  lookupOrder,
  openPolicyOracle,
  parseFileContexts,
  parsePathAliases,
  policyFile,
  renderSelinuxModule,
  searchAvRules,
  type FileContextSpec,
  type PathAlias,
  type PolicyOracle,
  type PrivateStore,
  type RenderedSelinuxModule,
} from '@kvmservice/selinux';
import { readFileSync, existsSync } from 'node:fs';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';
import { requireTool } from '../support/tools.js';

const dir = conformanceDir('kubearmor');
const EXAMPLES = /^(selinux-example-hsp|example-hsp|test-nonk8s-hsp|docs-hsp)__.*\.yaml$/;

interface Example {
  file: string;
  policy?: NormalizedHostPolicy;
  /** Why our validation refuses the upstream file (then it never reaches a renderer). */
  invalid?: string;
}

function loadExamples(): Example[] {
  const out: Example[] = [];
  for (const file of readdirSync(dir).filter((f) => EXAMPLES.test(f)).sort()) {
    for (const doc of checkDocuments(readConformanceFile(dir, file), file)) {
      if (doc.result.valid) out.push({ file, policy: normalizeHostPolicy(doc.result.resource as unknown as KubeArmorHostPolicy) });
      else out.push({ file, invalid: doc.result.errors.map((e) => `${e.field}: ${e.reason}`).join('; ') });
    }
  }
  return out;
}

const examples = loadExamples();
const stem = (file: string) => file.replace(/\.yaml$/, '');

/** Rules SELinux cannot express, per upstream file: the fields the renderer must name. */
const INEXPRESSIBLE: Record<string, string[]> = {
  'docs-hsp__host_security_policy_examples__audit-all-unlink.yaml': ['spec.syscalls.matchSyscalls[0]'],
  'docs-hsp__host_security_policy_examples__audit-home-rmdir.yaml': ['spec.syscalls.matchPaths[0]'],
  'docs-hsp__usb_device_handler__hsp-block-keybd.yaml': ['spec.device.matchDevice[0].class'],
  'test-nonk8s-hsp__hsp-audit-syscall.yaml': ['spec.syscalls.matchPaths[0]'],
};
/** Upstream non-k8s fixtures the CRD itself rejects (upstream's non-k8s path does not validate). */
const REFUSED_AT_VALIDATION: Record<string, RegExp> = {
  'test-nonk8s-hsp__hsp-audit-network-protocol.yaml': /fromSource/,
  'test-nonk8s-hsp__hsp-block-process-dir-bin.yaml': /dir/,
};

// Every example renders once with the default postures; the SELinux examples whose comments
// expect an allow-list ("cannot access any others") also with the file posture "block".
const renders = new Map<string, RenderedSelinuxModule>();
for (const e of examples) {
  if (e.policy) renders.set(e.file, renderSelinuxModule([e.policy], { name: stem(e.file) }));
}
const blockPosture = new Map<string, RenderedSelinuxModule>();
for (const e of examples.filter((x) => x.file.startsWith('selinux-example-hsp__') && x.policy)) {
  blockPosture.set(e.file, renderSelinuxModule([e.policy!], { name: `${stem(e.file)}-posture-block` }, { posture: { file: 'block' } }));
}

describe('upstream host policies render for SELinux or are refused naming the field', () => {
  it('covers every upstream host policy example', () => {
    expect(examples.filter((e) => e.file.startsWith('selinux-example-hsp__'))).toHaveLength(10);
    expect(examples.length).toBeGreaterThanOrEqual(30);
  });

  it.each(examples.map((e) => [e.file, e] as const))('%s', (file, e) => {
    if (e.invalid !== undefined) {
      expect(REFUSED_AT_VALIDATION[file], `${file} is refused at validation: ${e.invalid}`).toBeDefined();
      expect(e.invalid).toMatch(REFUSED_AT_VALIDATION[file]!);
      return;
    }
    const r = renders.get(file)!;
    const expected = INEXPRESSIBLE[file];
    if (expected) {
      expect(r.problems.map((p) => p.field)).toEqual(expected);
      expect(r.module).toBe('');
    } else {
      expect(r.problems).toEqual([]);
      expect(r.module).toMatch(/\(filecon /);
    }
  });
});

type Access = 'read' | 'write' | 'execute';
const PERMS: Record<Access, string[]> = { read: ['open', 'read'], write: ['open', 'write'], execute: ['execute'] };
const GROUP: Record<Access, string> = { read: 'read', write: 'write', execute: 'exec' };

interface Case {
  /** The command the upstream file documents, run in /home/vagrant/selinux-test. */
  command: string;
  /** The program (null: the login shell itself, unconfined_t) and what it touches. */
  program: string | null;
  path: string;
  access: Access;
  expect: 'allowed' | 'denied';
  /** The rule of the module that decides it (allowed), or why nothing allows it (denied). */
  because: string;
}

const T = '/home/vagrant/selinux-test';
const SELINUX_CASES: Record<string, { posture: 'default' | 'block'; cases: Case[] }> = {
  'selinux-example-hsp__hsp-kubearmor-dev-file-dir-allow-fromSource.yaml': {
    posture: 'block',
    cases: [
      { command: './read matchDir/test1', program: `${T}/read`, path: `${T}/matchDir/test1`, access: 'read', expect: 'allowed', because: 'allow <read domain> <matchDir type> file read (the Allow rule)' },
      { command: './read file.txt', program: `${T}/read`, path: `${T}/file.txt`, access: 'read', expect: 'denied', because: 'file posture block: the read domain gets only the runtime types besides its Allow rules; user_home_t is not among them' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-dir-block-fromSource.yaml': {
    posture: 'default',
    cases: [
      { command: './read matchDir/test1', program: `${T}/read`, path: `${T}/matchDir/test1`, access: 'read', expect: 'denied', because: 'the matchDir type is left out of <read domain>_read (the default) and no rule grants it (Block)' },
      { command: './read file.txt', program: `${T}/read`, path: `${T}/file.txt`, access: 'read', expect: 'allowed', because: 'allow <read domain> <read domain>_read (every file_type its rules leave alone)' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-path-allow-fromSource-readOnly.yaml': {
    posture: 'block',
    cases: [
      { command: './readwrite -r file.txt', program: `${T}/readwrite`, path: `${T}/file.txt`, access: 'read', expect: 'allowed', because: 'allow <readwrite domain> <file.txt type> file read (readOnly Allow)' },
      { command: './readwrite matchDir/test1', program: `${T}/readwrite`, path: `${T}/matchDir/test1`, access: 'read', expect: 'denied', because: 'file posture block: user_home_t is not allowed to the readwrite domain' },
      { command: './readwrite -w file.txt', program: `${T}/readwrite`, path: `${T}/file.txt`, access: 'write', expect: 'denied', because: 'readOnly Allow grants only the read group; write falls to the posture (block)' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-path-allow-fromSource.yaml': {
    posture: 'block',
    cases: [
      { command: './read file.txt', program: `${T}/read`, path: `${T}/file.txt`, access: 'read', expect: 'allowed', because: 'allow <read domain> <file.txt type> file read (the Allow rule)' },
      { command: './read read.c', program: `${T}/read`, path: `${T}/read.c`, access: 'read', expect: 'denied', because: 'file posture block: user_home_t is not allowed to the read domain' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-path-block-fromSource-readOnly.yaml': {
    posture: 'default',
    cases: [
      { command: './readwrite -r file.txt', program: `${T}/readwrite`, path: `${T}/file.txt`, access: 'read', expect: 'allowed', because: 'readOnly Block denies only writes, so the file.txt type stays in <readwrite domain>_read' },
      { command: './readwrite -r matchDir/test1', program: `${T}/readwrite`, path: `${T}/matchDir/test1`, access: 'read', expect: 'allowed', because: 'allow <readwrite domain> <readwrite domain>_read' },
      { command: './readwrite -w file.txt', program: `${T}/readwrite`, path: `${T}/file.txt`, access: 'write', expect: 'denied', because: 'readOnly Block: no rule grants write on the file.txt type to the readwrite domain' },
      { command: './readwrite -w matchDir/test1', program: `${T}/readwrite`, path: `${T}/matchDir/test1`, access: 'write', expect: 'allowed', because: 'allow <readwrite domain> <readwrite domain>_write' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-path-block-fromSource.yaml': {
    posture: 'default',
    cases: [
      { command: './read file.txt', program: `${T}/read`, path: `${T}/file.txt`, access: 'read', expect: 'denied', because: 'the file.txt type is left out of <read domain>_read and no rule grants it (Block)' },
      { command: './read read.c', program: `${T}/read`, path: `${T}/read.c`, access: 'read', expect: 'allowed', because: 'allow <read domain> <read domain>_read' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-file-path-block.yaml': {
    posture: 'default',
    cases: [
      { command: 'cat file.txt', program: null, path: `${T}/file.txt`, access: 'read', expect: 'denied', because: 'the file.txt type is not a file_type and files_unconfined_type gets only getattr and relabelling on it' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-proc-path-allow-fromSource.yaml': {
    posture: 'block',
    cases: [
      { command: './bash -c ./write', program: `${T}/bash`, path: `${T}/write`, access: 'execute', expect: 'allowed', because: 'allow <bash domain> <write type> file execute execute_no_trans (the Allow rule; write runs in the bash domain)' },
      { command: './bash -c ./read', program: `${T}/bash`, path: `${T}/read`, access: 'execute', expect: 'denied', because: 'file posture block with a process Allow: the bash domain may execute nothing else' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-proc-path-block-fromSource.yaml': {
    posture: 'default',
    cases: [
      { command: './bash -c ./write', program: `${T}/bash`, path: `${T}/write`, access: 'execute', expect: 'denied', because: 'process Block: no rule grants execute on the write type to the bash domain' },
      { command: './bash -c ./read', program: `${T}/bash`, path: `${T}/read`, access: 'execute', expect: 'allowed', because: 'allow <bash domain> <bash domain>_exec' },
    ],
  },
  'selinux-example-hsp__hsp-kubearmor-dev-proc-path-block.yaml': {
    posture: 'default',
    cases: [
      { command: './read', program: null, path: `${T}/read`, access: 'execute', expect: 'denied', because: 'the read type is not a file_type; files_unconfined_type gets read and write on it but not execute' },
    ],
  },
};

describe('upstream SELinux examples: the documented commands on the linked refpolicy', () => {
  let store: PrivateStore;
  let oracle: PolicyOracle;
  let ordered: FileContextSpec[];
  let aliases: PathAlias[];

  beforeAll(async () => {
    for (const [tool, pkg] of [['semodule', 'semodule-utils'], ['matchpathcon', 'selinux-utils'], ['sesearch', 'setools']]) requireTool(tool!, pkg!);
    store = createPrivateStore({ checkNeverallow: true });
    const modules = [...renders.values(), ...blockPosture.values()].filter((r) => r.problems.length === 0);
    const linked = await linkSelinuxModules(modules, { root: store.root, timeoutMs: 600_000 });
    expect(linked.error).toBeUndefined();
    oracle = await openPolicyOracle(policyFile(store.root)!);
    const files = join(store.root, 'etc/selinux/default/contexts/files');
    const read = (n: string) => (existsSync(join(files, n)) ? readFileSync(join(files, n), 'utf8') : '');
    ordered = lookupOrder(...['file_contexts', 'file_contexts.homedirs', 'file_contexts.local'].map((n) => parseFileContexts(read(n), n).specs));
    aliases = [...parsePathAliases(read('file_contexts.subs')), ...parsePathAliases(read('file_contexts.subs_dist'))];
  }, 600_000);
  afterAll(() => {
    oracle?.close();
    store?.dispose();
  });

  /**
   * The type `module` gives `path` on a host where it is the only module of ours: the store entry
   * that wins the lookup must be one of the module's own entries (libsemanage keeps one of several
   * identical entries from different modules of this shared store, so it may carry another
   * module's type), or a base entry when the module does not label the path.
   */
  function typeOf(module: RenderedSelinuxModule, path: string): string {
    const home = (regex: string) => regex.replace(/^HOME_ROOT\//, '/home/');
    const own = new Map(module.fileContexts.map((f) => [home(f.pathRegex), f.context]));
    const specs = ordered.filter((s) => !s.context.includes(':kvms_') || own.has(s.regex));
    const winner = lookupFileContext(path, specs, aliases);
    if (!winner) throw new Error(`no file context for ${path}`);
    return (own.get(winner.regex) ?? winner.context).split(':')[2]!;
  }
  const execTypeOf = (module: RenderedSelinuxModule, program: string) => {
    const t = typeOf(module, program);
    expect(t, `${program} is an entry point of the module`).toMatch(/_exec_t$/);
    return t;
  };

  const entries = Object.entries(SELINUX_CASES).flatMap(([file, spec]) => spec.cases.map((c) => [file, spec.posture, c] as const));
  it.each(entries.map(([file, posture, c]) => [`${stem(file).replace('selinux-example-hsp__', '')} — ${c.command} → ${c.expect}`, file, posture, c] as const))(
    '%s',
    async (_title, file, posture, c) => {
      const module = posture === 'block' ? blockPosture.get(file)! : renders.get(file)!;
      expect(module.problems).toEqual([]);
      // The shell runs unconfined_t; a fromSource program enters its own domain when executed.
      let subject = 'unconfined_t';
      if (c.program) {
        const exec = execTypeOf(module, c.program);
        const domains = await oracle.transitions('unconfined_t', exec);
        expect(domains).toHaveLength(1);
        subject = domains[0]!;
        expect(module.typePolicies[subject]).toEqual([module.typePolicies[exec]![0]]);
      }
      const object = typeOf(module, c.path);
      const perms = await oracle.perms(subject, object, 'file');
      const granted = PERMS[c.access].every((p) => perms.has(p));
      expect(granted ? 'allowed' : 'denied', `${c.command}: ${subject} on ${object}: ${[...perms].join(' ')} — ${c.because}`).toBe(c.expect);
      // The deciding rule, stated in the module: an explicit rule on the object type, or the
      // domain's default for the group (an attribute of every file_type its rules leave alone).
      const group = GROUP[c.access];
      const explicit = new RegExp(`^\\(allow ${subject} ${object} kvms_[0-9a-f]+_${group}_perms\\)$`, 'm');
      const inDefault = (await oracle.attributes(object)).includes(`${subject}_${group}`);
      if (c.expect === 'allowed' && !inDefault) {
        expect(module.module).toMatch(explicit);
      } else if (c.expect === 'allowed') {
        expect(module.module).toMatch(new RegExp(`^\\(allow ${subject} ${subject}_${group} kvms_[0-9a-f]+_${group}_perms\\)$`, 'm'));
      } else {
        expect(module.module).not.toMatch(explicit);
        expect(await oracle.attributes(object)).not.toContain(`${subject}_${group}`);
      }
    },
    120_000,
  );

  it('agrees with the sesearch command on a denied and an allowed access (the oracle is its library)', async () => {
    const r = renders.get('selinux-example-hsp__hsp-kubearmor-dev-file-path-block-fromSource.yaml')!;
    const [read] = await oracle.transitions('unconfined_t', typeOf(r, `${T}/read`));
    const file = typeOf(r, `${T}/file.txt`);
    const denied = await searchAvRules(policyFile(store.root)!, { source: read!, target: file, cls: 'file', perms: ['read'] });
    expect(denied).toEqual([]);
    const allowed = await searchAvRules(policyFile(store.root)!, { source: read!, target: 'user_home_t', cls: 'file', perms: ['read'] });
    if ('error' in allowed) throw new Error(allowed.error);
    expect(allowed.map((a) => `${a.source} ${a.target}`)).toEqual([`${read} ${read}_read`]);
  }, 120_000);

  it('labels the documented files with the module\'s types, ahead of the generated home-directory contexts', () => {
    const r = renders.get('selinux-example-hsp__hsp-kubearmor-dev-file-dir-allow-fromSource.yaml')!;
    const dirType = typeOf(r, `${T}/matchDir`);
    expect(dirType).toMatch(/^kvms_.*matchdir.*_t$/);
    for (const p of [`${T}/matchDir/test1`, `${T}/matchDir/test5`, `${T}/matchDir/new/deeper`]) expect(typeOf(r, p), p).toBe(dirType);
    expect(typeOf(r, `${T}/file.txt`)).toBe('user_home_t');
    const nonRecursive = renders.get('selinux-example-hsp__hsp-kubearmor-dev-file-dir-block-fromSource.yaml')!;
    const nr = typeOf(nonRecursive, `${T}/matchDir/test1`);
    expect(nr).toMatch(/^kvms_/);
    expect(typeOf(nonRecursive, `${T}/matchDir/sub/test1`)).toBe('user_home_t'); // not recursive
  });
});
