/**
 * The only code here that runs SELinux tools: detect SELinux, install a rendered module with
 * `semodule` in one transaction (replacing the host's previous module), relabel with `restorecon`,
 * remove. A dry run links against a private copy of the policy store (`semodule -p ROOT -n`) and
 * never touches the live one. Every spawn has a timeout; nothing here throws on tool failure —
 * results say what happened.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  findShadowedPaths,
  lookupOrder,
  parseFileContexts,
  parsePathAliases,
  type ShadowedPath,
} from './file-context-lookup.js';
import { NAME_PREFIX } from './render-names.js';
import type { PathAlias } from './render-options.js';
import { RELABEL_HEADER, type RenderedSelinuxModule } from './render-selinux-module.js';

export const DEFAULT_TIMEOUT_MS = 120_000;
/** restorecon on large trees can take long; it gets its own, longer bound. */
export const DEFAULT_RELABEL_TIMEOUT_MS = 600_000;

export interface ToolRun {
  command: string;
  args: string[];
  /** Exit code; null when the process did not exit normally (timeout, signal, not found). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: string;
}

/** Runs a tool with a timeout; never rejects. */
export function runTool(command: string, args: string[], options: { timeoutMs: number; cwd?: string }): Promise<ToolRun> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, cwd: options.cwd, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string | null }) | null;
        const timedOut = !!e?.killed && e.signal === 'SIGKILL';
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        done({
          command,
          args,
          code,
          stdout,
          stderr,
          timedOut,
          error: e && code === null ? (timedOut ? `timed out after ${options.timeoutMs} ms` : e.message) : undefined,
        });
      },
    );
  });
}

/** libsemanage prints this for every user in seusers without a passwd entry; it is not an error. */
const NOISE = /^libsemanage\.add_user: user \S+ not in password file$/;

/** The meaningful lines of a failed tool run, for one error message. */
export function toolFailure(run: ToolRun): string {
  const lines = `${run.stderr}\n${run.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !NOISE.test(l));
  const what = run.error ?? `exit code ${run.code}`;
  return `${run.command} ${what}${lines.length > 0 ? `: ${lines.slice(0, 12).join(' | ')}` : ''}`;
}

// ---- detection ---------------------------------------------------------------------------------

export interface SelinuxStatus {
  /** SELinux is enabled in the kernel (selinuxfs is mounted). */
  enabled: boolean;
  mode: 'enforcing' | 'permissive' | 'disabled';
  /** SELINUXTYPE from /etc/selinux/config: the store name (`targeted`, `default`, …). */
  policyType?: string;
  /** Why SELinux cannot be used, when it cannot. */
  reason?: string;
}

export interface DetectOptions {
  timeoutMs?: number;
  /** Defaults: /sys/fs/selinux and /etc/selinux/config. */
  selinuxfs?: string;
  config?: string;
}

/** SELINUXTYPE of a config file, or undefined. */
export function readPolicyType(configPath: string): string | undefined {
  if (!existsSync(configPath)) return undefined;
  const m = /^\s*SELINUXTYPE\s*=\s*(\S+)\s*$/m.exec(readFileSync(configPath, 'utf8'));
  return m?.[1];
}

export async function detectSelinux(options: DetectOptions = {}): Promise<SelinuxStatus> {
  const selinuxfs = options.selinuxfs ?? '/sys/fs/selinux';
  const policyType = readPolicyType(options.config ?? '/etc/selinux/config');
  const base = policyType ? { policyType } : {};
  if (!existsSync(join(selinuxfs, 'enforce'))) {
    return { enabled: false, mode: 'disabled', ...base, reason: `${selinuxfs} is not mounted: SELinux is disabled in this kernel or at boot` };
  }
  const run = await runTool('getenforce', [], { timeoutMs: options.timeoutMs ?? 10_000 });
  const answer = run.stdout.trim().toLowerCase();
  if (run.code !== 0 || !['enforcing', 'permissive', 'disabled'].includes(answer)) {
    return { enabled: true, mode: 'disabled', ...base, reason: `getenforce failed: ${toolFailure(run)}` };
  }
  const mode = answer as SelinuxStatus['mode'];
  return { enabled: mode !== 'disabled', mode, ...base, ...(policyType ? {} : { reason: 'no SELINUXTYPE in /etc/selinux/config' }) };
}

// ---- private stores ----------------------------------------------------------------------------

export interface PrivateStore {
  /** Use as `root` in dry runs. */
  root: string;
  policyType: string;
  dispose(): void;
}

/**
 * A copy of the live policy store (/etc/selinux and /var/lib/selinux) under a new directory, for
 * dry runs. `checkNeverallow` turns on libsemanage's `expand-check`, so a link also fails on the
 * reference policy's neverallow rules (stricter than Debian's and RHEL's defaults).
 */
export function createPrivateStore(options: { parent?: string; checkNeverallow?: boolean } = {}): PrivateStore {
  const root = mkdtempSync(join(options.parent ?? tmpdir(), 'kvms-selinux-'));
  cpSync('/etc/selinux', join(root, 'etc/selinux'), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  cpSync('/var/lib/selinux', join(root, 'var/lib/selinux'), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const conf = join(root, 'etc/selinux/semanage.conf');
  if (options.checkNeverallow && existsSync(conf)) {
    const text = readFileSync(conf, 'utf8');
    writeFileSync(conf, /^\s*expand-check\s*=/m.test(text) ? text.replace(/^\s*expand-check\s*=.*$/m, 'expand-check=1') : `${text}\nexpand-check=1\n`);
  }
  const policyType = readPolicyType(join(root, 'etc/selinux/config')) ?? 'default';
  return { root, policyType, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

// ---- semodule ---------------------------------------------------------------------------------

export interface StoreOptions {
  /** true: work on a private store (`root`, or a fresh copy of the live store); false: the live store. */
  dryRun: boolean;
  /** Root of a private store (dry runs only). */
  root?: string;
  timeoutMs?: number;
}

interface Target {
  args: string[];
  root?: string;
  policyType?: string;
  dispose(): void;
}

function storeTarget(options: StoreOptions): Target | string {
  if (!options.dryRun) {
    if (options.root !== undefined) return 'a live install has no root: use dryRun for a private store';
    return { args: [], dispose: () => {} };
  }
  if (options.root !== undefined) {
    const root = resolve(options.root);
    if (root === '/') return 'a dry run never uses the live store (root "/")';
    if (!existsSync(join(root, 'var/lib/selinux'))) return `${root} holds no policy store (var/lib/selinux)`;
    const policyType = readPolicyType(join(root, 'etc/selinux/config')) ?? 'default';
    return { args: ['-p', root, '-s', policyType, '-n'], root, policyType, dispose: () => {} };
  }
  const store = createPrivateStore();
  return { args: ['-p', store.root, '-s', store.policyType, '-n'], root: store.root, policyType: store.policyType, dispose: store.dispose };
}

export interface InstalledModule {
  name: string;
  priority: number;
  /** sha256 of the module text as installed (semodule -m). */
  sha256?: string;
}

/** Modules in the store (`semodule -lfull -m`). */
export async function listSelinuxModules(options: StoreOptions): Promise<InstalledModule[] | { error: string }> {
  const target = storeTarget(options);
  if (typeof target === 'string') return { error: target };
  try {
    return await listWith(target, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } finally {
    target.dispose();
  }
}

async function listWith(target: Target, timeoutMs: number): Promise<InstalledModule[] | { error: string }> {
  const base = target.args.filter((a) => a !== '-n');
  let run = await runTool('semodule', [...base, '-lfull', '-m'], { timeoutMs });
  // semodule before 3.2 (RHEL 8) has no checksums: list without them (every install then runs).
  if (run.code !== 0 && /invalid option|unrecognized option/.test(run.stderr)) run = await runTool('semodule', [...base, '-lfull'], { timeoutMs });
  if (run.code !== 0) return { error: toolFailure(run) };
  return run.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2 && /^\d+$/.test(f[0]!))
    .map((f) => ({ name: f[1]!, priority: Number(f[0]), sha256: f.find((x) => x.startsWith('sha256:'))?.slice(7) }));
}

/** The text of an installed module (`semodule -H -E`), or undefined. */
async function extractWith(target: Target, name: string, timeoutMs: number): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'kvms-extract-'));
  try {
    const run = await runTool('semodule', [...target.args.filter((a) => a !== '-n'), '-H', '-E', name], { timeoutMs, cwd: dir });
    const file = join(dir, `${name}.cil`);
    return run.code === 0 && existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of an installed module as stored (`semodule -H -E`), or undefined when it is not installed. */
export async function readInstalledModule(name: string, options: StoreOptions): Promise<string | undefined | { error: string }> {
  const target = storeTarget(options);
  if (typeof target === 'string') return { error: target };
  try {
    return await extractWith(target, name, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } finally {
    target.dispose();
  }
}

/** The relabel paths a module of ours recorded in its header. */
export function recordedRelabelPaths(moduleText: string): string[] {
  const line = moduleText.split('\n').find((l) => l.startsWith(RELABEL_HEADER));
  if (!line) return [];
  try {
    const parsed: unknown = JSON.parse(line.slice(RELABEL_HEADER.length));
    return Array.isArray(parsed) ? parsed.filter((p): p is string => typeof p === 'string' && p.startsWith('/')) : [];
  } catch {
    return [];
  }
}

/** restorecon -RF on the paths that exist; returns the relabelled paths or the failure. */
async function relabel(paths: readonly string[], timeoutMs: number): Promise<{ relabelled: string[]; error?: string }> {
  const existing = [...new Set(paths)].filter((p) => existsSync(p)).sort();
  if (existing.length === 0) return { relabelled: [] };
  const run = await runTool('restorecon', ['-RF', '--', ...existing], { timeoutMs });
  return run.code === 0 ? { relabelled: existing } : { relabelled: [], error: toolFailure(run) };
}

/** The store's file contexts (in lookup order) and path aliases, as libselinux reads them. */
function storeFileContexts(root: string | undefined, policyType: string | undefined) {
  const dir = join(root ?? '/', 'etc/selinux', policyType ?? readPolicyType('/etc/selinux/config') ?? 'default', 'contexts/files');
  const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const files = ['file_contexts', 'file_contexts.homedirs', 'file_contexts.local'].map((n) => parseFileContexts(read(n), n));
  return {
    ordered: lookupOrder(...files.map((f) => f.specs)),
    aliases: [...parsePathAliases(read('file_contexts.subs')), ...parsePathAliases(read('file_contexts.subs_dist'))],
    unparsed: files.flatMap((f) => f.unparsed),
  };
}

/**
 * The path aliases of a store's policy (`file_contexts.subs`, then `.subs_dist`), for the agent to
 * report so the control plane renders with `pathAliases` (see renderSelinuxModule).
 */
export function readPathAliases(root = '/'): PathAlias[] {
  const fc = storeFileContexts(root === '/' ? undefined : root, readPolicyType(join(root, 'etc/selinux/config')));
  return fc.aliases;
}

export interface InstallOptions extends StoreOptions {
  /** Also remove other modules of ours (`kvms_*`) in the same transaction (one module per host). Default true. */
  replaceOthers?: boolean;
  relabelTimeoutMs?: number;
}

export interface InstallResult {
  ok: boolean;
  moduleName: string;
  /** false when the same module text was already installed (nothing was done). */
  changed: boolean;
  /** Other modules of ours removed in the same transaction. */
  removed: string[];
  /** Paths restorecon relabelled (live installs). */
  relabelled: string[];
  /** Entries of the module that do not label what they should in this store (see docs/selinux.md). */
  shadowed: ShadowedPath[];
  /** file_contexts lines the check could not read, counted rather than dropped. */
  unparsedFileContexts: number;
  durationMs: number;
  error?: string;
}

/**
 * Installs `rendered` in one semodule transaction that also removes our other modules; on
 * failure libsemanage keeps the previous store, so the previous module stays. Then (live installs)
 * relabels the union of the old and new modules' paths and checks the file contexts took effect.
 */
export async function installSelinuxModule(rendered: RenderedSelinuxModule, options: InstallOptions): Promise<InstallResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const result = (r: Partial<InstallResult>): InstallResult => ({
    ok: false,
    moduleName: rendered.moduleName,
    changed: false,
    removed: [],
    relabelled: [],
    shadowed: [],
    unparsedFileContexts: 0,
    durationMs: Math.round(performance.now() - started),
    ...r,
  });
  if (rendered.problems.length > 0) {
    return result({ error: `refused: ${rendered.problems.map((p) => `${p.policy}: ${p.field}: ${p.reason}`).join('; ')}` });
  }
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(rendered.moduleName) || rendered.module === '') {
    return result({ error: `refused: not a rendered module (${JSON.stringify(rendered.moduleName)})` });
  }
  const target = storeTarget(options);
  if (typeof target === 'string') return result({ error: target });
  const work = mkdtempSync(join(tmpdir(), 'kvms-module-'));
  try {
    const installed = await listWith(target, timeoutMs);
    if ('error' in installed) return result({ error: installed.error });
    const others = options.replaceOthers === false ? [] : sortedNames(installed.filter((m) => m.name.startsWith(`${NAME_PREFIX}_`) && m.name !== rendered.moduleName));
    const current = installed.find((m) => m.name === rendered.moduleName);
    if (current?.sha256 === rendered.sha256 && others.length === 0) {
      return result({ ok: true, ...checkContexts(rendered, target) });
    }
    // What the modules being replaced labelled must be relabelled too (their types disappear).
    const previous = [current ? rendered.moduleName : undefined, ...others].filter((n): n is string => n !== undefined);
    const oldPaths: string[] = [];
    if (!options.dryRun) {
      for (const name of previous) oldPaths.push(...recordedRelabelPaths((await extractWith(target, name, timeoutMs)) ?? ''));
    }
    const file = join(work, `${rendered.moduleName}.cil`);
    writeFileSync(file, rendered.module);
    const args = [...target.args, ...others.flatMap((n) => ['-r', n]), '-i', file];
    const run = await runTool('semodule', args, { timeoutMs });
    if (run.code !== 0) return result({ error: toolFailure(run) });
    let relabelled: string[] = [];
    let relabelError: string | undefined;
    if (!options.dryRun) {
      const r = await relabel([...oldPaths, ...rendered.relabelPaths], options.relabelTimeoutMs ?? DEFAULT_RELABEL_TIMEOUT_MS);
      relabelled = r.relabelled;
      relabelError = r.error;
    }
    return result({ ok: relabelError === undefined, changed: true, removed: others, relabelled, error: relabelError, ...checkContexts(rendered, target) });
  } finally {
    rmSync(work, { recursive: true, force: true });
    target.dispose();
  }
}

function sortedNames(modules: InstalledModule[]): string[] {
  return [...new Set(modules.map((m) => m.name))].sort();
}

function checkContexts(rendered: RenderedSelinuxModule, target: Target): Pick<InstallResult, 'shadowed' | 'unparsedFileContexts'> {
  const fc = storeFileContexts(target.root, target.policyType);
  return { shadowed: findShadowedPaths(rendered.fileContexts, fc.ordered, fc.aliases), unparsedFileContexts: fc.unparsed.length };
}

export interface RemoveResult {
  ok: boolean;
  /** false when the module was not installed. */
  removed: boolean;
  relabelled: string[];
  durationMs: number;
  error?: string;
}

/** Removes a module of ours (`semodule -r`) and relabels what it labelled (live store). */
export async function removeSelinuxModule(moduleName: string, options: StoreOptions & { relabelTimeoutMs?: number }): Promise<RemoveResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const result = (r: Partial<RemoveResult>): RemoveResult => ({ ok: false, removed: false, relabelled: [], durationMs: Math.round(performance.now() - started), ...r });
  if (!moduleName.startsWith(`${NAME_PREFIX}_`) || !/^[A-Za-z][A-Za-z0-9_]*$/.test(moduleName)) {
    return result({ error: `refused: ${JSON.stringify(moduleName)} is not a KVMService module` });
  }
  const target = storeTarget(options);
  if (typeof target === 'string') return result({ error: target });
  try {
    const installed = await listWith(target, timeoutMs);
    if ('error' in installed) return result({ error: installed.error });
    if (!installed.some((m) => m.name === moduleName)) return result({ ok: true });
    const paths = options.dryRun ? [] : recordedRelabelPaths((await extractWith(target, moduleName, timeoutMs)) ?? '');
    const run = await runTool('semodule', [...target.args, '-r', moduleName], { timeoutMs });
    if (run.code !== 0) return result({ error: toolFailure(run) });
    if (options.dryRun) return result({ ok: true, removed: true });
    const r = await relabel(paths, options.relabelTimeoutMs ?? DEFAULT_RELABEL_TIMEOUT_MS);
    return result({ ok: r.error === undefined, removed: true, relabelled: r.relabelled, error: r.error });
  } finally {
    target.dispose();
  }
}

export interface LinkResult {
  ok: boolean;
  durationMs: number;
  error?: string;
}

/**
 * Links several modules into a private store in one transaction (dry run only): checks that they
 * build against the store's policy, as many at once as wanted (~5 s per transaction, whatever the count).
 */
export async function linkSelinuxModules(
  modules: readonly Pick<RenderedSelinuxModule, 'moduleName' | 'module'>[],
  options: { root?: string; timeoutMs?: number },
): Promise<LinkResult> {
  const started = performance.now();
  const target = storeTarget({ dryRun: true, root: options.root });
  if (typeof target === 'string') return { ok: false, durationMs: 0, error: target };
  const work = mkdtempSync(join(tmpdir(), 'kvms-link-'));
  try {
    const files = modules.map((m) => {
      const file = join(work, `${m.moduleName}.cil`);
      writeFileSync(file, m.module);
      return file;
    });
    const run = await runTool('semodule', [...target.args, ...files.flatMap((f) => ['-i', f])], { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    return { ok: run.code === 0, durationMs: Math.round(performance.now() - started), ...(run.code === 0 ? {} : { error: toolFailure(run) }) };
  } finally {
    rmSync(work, { recursive: true, force: true });
    target.dispose();
  }
}
