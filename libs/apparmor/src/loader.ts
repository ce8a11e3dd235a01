/**
 * `applyAppArmorProfiles`: makes a rendered set the one on disk and in the kernel.
 *
 * 1. Check the artifacts (safe file names, sha256 matches the content); a bad set changes nothing.
 * 2. Compile every new or changed profile first (`apparmor_parser -Q -K`, one batch): a profile
 *    that does not compile stops the whole set before anything is touched.
 * 3. Write and load them one by one, fromSource profiles before the dispatcher (which hands
 *    binaries over to them): `apparmor_parser -r -W FILE`. If a load fails, every profile loaded in
 *    this run goes back to its previous version, on disk and in the kernel (a new one is unloaded),
 *    so the host never runs a half-applied set; the parser's message is reported.
 * 4. Only when all loads succeeded, profiles that left the set are unloaded (`apparmor_parser -R`)
 *    and their files removed.
 * 5. A file in /etc/apparmor.d includes the profile directory, so the set loads at boot (the boot
 *    scripts do not descend into sub-directories); it is compiled as a whole to prove that.
 *
 * Dry-run (no LSM, CI): the same steps with `-Q -K -M <features>` compiles into the state
 * directory in place of kernel loads and unloads.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { unsafeTextReason } from '@kvmservice/resources';
import { PINNED_FEATURES_FILE } from './features.js';
import { compileAppArmorFiles } from './loader-compile.js';
import { DEFAULT_TIMEOUT_MS, runMessage, runTool } from './loader-spawn.js';
import { DISPATCHER_PROFILE } from './render-names.js';
import type { AppArmorArtifact } from './render-types.js';

export const DEFAULT_PROFILE_DIR = '/etc/apparmor.d/kvmservice.d';
export const DEFAULT_BOOT_INCLUDE = '/etc/apparmor.d/kvmservice';
export const DEFAULT_STATE_DIR = '/var/lib/kvmservice/apparmor';

export interface ApplyOptions {
  /** Where profile files live (default `/etc/apparmor.d/kvmservice.d`); every file in it is ours. */
  dir?: string;
  /**
   * File in /etc/apparmor.d that includes `dir` so the set loads at boot. Default
   * `/etc/apparmor.d/kvmservice` when loading into the kernel, none in dry-run; `null` = none.
   */
  bootInclude?: string | null;
  /** Working directory: staging, and compiled profiles in dry-run (default `/var/lib/kvmservice/apparmor`). */
  stateDir?: string;
  /** Compile only (`-Q -K -M features`), never touch the kernel: for hosts without AppArmor and CI. */
  dryRun?: boolean;
  parserPath?: string;
  /** Feature ABI for dry-run compiles (default: the pinned Debian 12 file shipped in this package). */
  featuresFile?: string;
  /** Timeout of every apparmor_parser run (default 60 s). */
  timeoutMs?: number;
  /** AppArmor's securityfs directory, to see which profiles are loaded (default `/sys/kernel/security/apparmor`). */
  apparmorfs?: string;
}

export type ApplyStatus = 'applied' | 'unchanged' | 'failed';

export interface ArtifactApplyResult {
  name: string;
  fileName: string;
  status: ApplyStatus;
  /** The parser's message on failure; what happened otherwise. */
  message: string;
}

export interface RemovalResult {
  fileName: string;
  status: 'removed' | 'failed' | 'kept';
  message: string;
}

export interface ApplyReport {
  mode: 'kernel' | 'compile-only';
  /** Every artifact applied or unchanged, every removal done, boot include compiles. */
  ok: boolean;
  results: ArtifactApplyResult[];
  removed: RemovalResult[];
  boot?: { file: string; ok: boolean; message: string };
}

export type ApplicableArtifact = Pick<AppArmorArtifact, 'name' | 'fileName' | 'content' | 'sha256'>;

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

interface Resolved {
  dir: string;
  bootInclude: string | null;
  stateDir: string;
  dryRun: boolean;
  parser: string;
  features: string;
  timeoutMs: number;
  apparmorfs: string;
}

function resolveOptions(options: ApplyOptions): Resolved {
  const dryRun = options.dryRun ?? false;
  const boot = options.bootInclude === undefined ? (dryRun ? null : DEFAULT_BOOT_INCLUDE) : options.bootInclude;
  return {
    dir: resolve(options.dir ?? DEFAULT_PROFILE_DIR),
    bootInclude: boot === null ? null : resolve(boot),
    stateDir: resolve(options.stateDir ?? DEFAULT_STATE_DIR),
    dryRun,
    parser: options.parserPath ?? 'apparmor_parser',
    features: options.featuresFile ?? PINNED_FEATURES_FILE,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    apparmorfs: options.apparmorfs ?? '/sys/kernel/security/apparmor',
  };
}

/** Why an artifact cannot be applied as given, or undefined. */
function artifactProblem(a: ApplicableArtifact): string | undefined {
  if (!FILE_NAME.test(a.fileName)) return `file name ${JSON.stringify(a.fileName)} must be [A-Za-z0-9._-] and not start with "."`;
  if (!FILE_NAME.test(a.name)) return `profile name ${JSON.stringify(a.name)} must be [A-Za-z0-9._-]`;
  const sha = createHash('sha256').update(a.content, 'utf8').digest('hex');
  if (sha !== a.sha256) return `content does not match its sha256 (${a.sha256}); refusing a corrupted artifact`;
  return undefined;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `.${name}.kvmtmp`);
  await writeFile(tmp, content, { mode: 0o644 });
  await rename(tmp, path);
}

/** Profile names the kernel has loaded (`<apparmorfs>/profiles`: `name (mode)` per line). */
async function loadedProfiles(apparmorfs: string): Promise<Set<string>> {
  const text = (await readIfExists(join(apparmorfs, 'profiles'))) ?? '';
  return new Set(
    text
      .split('\n')
      .map((l) => l.replace(/ \([a-z]+\)$/, ''))
      .filter((l) => l !== ''),
  );
}

/** Our profile files: regular, visible files in the profile directory. */
async function currentFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

const locks = new Map<string, Promise<unknown>>();

/** Applies `artifacts` as the complete set of profiles in `dir`. One apply per directory at a time. */
export function applyAppArmorProfiles(artifacts: readonly ApplicableArtifact[], options: ApplyOptions = {}): Promise<ApplyReport> {
  const o = resolveOptions(options);
  const previous = locks.get(o.dir) ?? Promise.resolve();
  const run = previous.then(() => applyLocked(artifacts, o));
  const settled = run.catch(() => undefined);
  locks.set(o.dir, settled);
  void settled.then(() => {
    if (locks.get(o.dir) === settled) locks.delete(o.dir);
  });
  return run;
}

async function applyLocked(artifacts: readonly ApplicableArtifact[], o: Resolved): Promise<ApplyReport> {
  const mode = o.dryRun ? 'compile-only' : 'kernel';
  const fail = (results: ArtifactApplyResult[], removed: RemovalResult[] = []): ApplyReport => ({ mode, ok: false, results, removed });

  // 1. The set itself.
  const problems = new Map<string, string>();
  const seen = new Set<string>();
  for (const a of artifacts) {
    const problem = artifactProblem(a) ?? (seen.has(a.fileName) ? `file name ${a.fileName} appears twice in the set` : undefined);
    seen.add(a.fileName);
    if (problem) problems.set(a.fileName, problem);
  }
  const dirProblem = unsafeTextReason(o.dir);
  if (dirProblem) problems.set('', `profile directory ${JSON.stringify(o.dir)} ${dirProblem}`);
  if (problems.size > 0) {
    const first = [...problems.values()][0]!;
    return fail(artifacts.map((a) => ({ name: a.name, fileName: a.fileName, status: 'failed', message: problems.get(a.fileName) ?? `not applied: the set is invalid (${first})` })));
  }

  const staging = join(o.stateDir, 'staging');
  const compiled = join(o.stateDir, 'compiled');
  await mkdir(o.dir, { recursive: true });
  await mkdir(staging, { recursive: true });
  await mkdir(compiled, { recursive: true });

  const loaded = o.dryRun ? new Set((await readdir(compiled)).filter((f) => !f.startsWith('.'))) : await loadedProfiles(o.apparmorfs);
  const before = await currentFiles(o.dir);
  const oldContent = new Map<string, string | undefined>();
  for (const a of artifacts) oldContent.set(a.fileName, await readIfExists(join(o.dir, a.fileName)));
  const isLoaded = (a: ApplicableArtifact) => loaded.has(o.dryRun ? a.fileName : a.name);
  const changed = artifacts.filter((a) => oldContent.get(a.fileName) !== a.content || !isLoaded(a));
  // fromSource profiles first: the dispatcher's `px ->` transitions must find them loaded.
  changed.sort((a, b) => Number(a.name === DISPATCHER_PROFILE) - Number(b.name === DISPATCHER_PROFILE) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const status = new Map<string, ArtifactApplyResult>();
  for (const a of artifacts) {
    if (!changed.includes(a)) status.set(a.fileName, { name: a.name, fileName: a.fileName, status: 'unchanged', message: 'already on disk and loaded' });
  }
  const results = () => artifacts.map((a) => status.get(a.fileName)!);

  try {
    // 2. Compile everything new before touching anything.
    for (const a of changed) await writeFile(join(staging, a.fileName), a.content, { mode: 0o644 });
    const checks = await compileAppArmorFiles(
      changed.map((a) => join(staging, a.fileName)),
      { parserPath: o.parser, featuresFile: o.dryRun ? o.features : null, timeoutMs: o.timeoutMs },
    );
    const broken = checks.map((c, i) => ({ c, a: changed[i]! })).filter(({ c }) => !c.ok);
    if (broken.length > 0) {
      const names = broken.map(({ a }) => a.name).join(', ');
      for (const { c, a } of broken) status.set(a.fileName, { name: a.name, fileName: a.fileName, status: 'failed', message: `${c.message}\n(previous version kept)` });
      for (const a of changed) {
        if (!status.has(a.fileName)) status.set(a.fileName, { name: a.name, fileName: a.fileName, status: 'failed', message: `not applied: ${names} did not compile, so the set was not applied (previous version kept)` });
      }
      return fail(results(), keptRemovals(before, artifacts, `not removed: ${names} did not compile`));
    }

    // 3. Write and load one by one; roll back everything this run loaded if one fails.
    const applied: ApplicableArtifact[] = [];
    for (const a of changed) {
      const target = join(o.dir, a.fileName);
      await writeAtomic(target, o.dir, a.fileName, a.content);
      const run = o.dryRun
        ? await runTool(o.parser, ['-Q', '-K', '-M', o.features, '-o', join(compiled, `.${a.fileName}.new`), '--', target], o.timeoutMs)
        : await runTool(o.parser, ['-r', '-W', '--', target], o.timeoutMs);
      if (run.code === 0) {
        applied.push(a);
        continue;
      }
      const rollback = await rollBack([a, ...applied.slice().reverse()], new Set(applied.map((p) => p.fileName)), oldContent, o);
      status.set(a.fileName, { name: a.name, fileName: a.fileName, status: 'failed', message: `${runMessage(run)}\n(rolled back: ${rollback.get(a.fileName)})` });
      for (const p of applied) {
        status.set(p.fileName, { name: p.name, fileName: p.fileName, status: 'failed', message: `not applied: ${a.name} failed to load, so this profile was rolled back (${rollback.get(p.fileName)})` });
      }
      for (const p of changed) {
        if (!status.has(p.fileName)) status.set(p.fileName, { name: p.name, fileName: p.fileName, status: 'failed', message: `not applied: ${a.name} failed to load first (previous version kept)` });
      }
      return fail(results(), keptRemovals(before, artifacts, `not removed: ${a.name} failed to load`));
    }
    if (o.dryRun) {
      for (const a of applied) await rename(join(compiled, `.${a.fileName}.new`), join(compiled, a.fileName));
    }
    for (const a of applied) {
      status.set(a.fileName, { name: a.name, fileName: a.fileName, status: 'applied', message: o.dryRun ? 'written and compiled (dry-run)' : 'written and loaded' });
    }

    // 4. Profiles that left the set.
    const wanted = new Set(artifacts.map((a) => a.fileName));
    const removed: RemovalResult[] = [];
    for (const file of before.filter((f) => !wanted.has(f))) removed.push(await removeProfile(file, loaded, o));

    // 5. Boot.
    const boot = o.bootInclude === null ? undefined : await ensureBootInclude(o.bootInclude, o);
    const ok = results().every((r) => r.status !== 'failed') && removed.every((r) => r.status === 'removed') && (boot?.ok ?? true);
    return { mode, ok, results: results(), removed, ...(boot ? { boot } : {}) };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function keptRemovals(before: string[], artifacts: readonly ApplicableArtifact[], message: string): RemovalResult[] {
  const wanted = new Set(artifacts.map((a) => a.fileName));
  return before.filter((f) => !wanted.has(f)).map((fileName) => ({ fileName, status: 'kept', message }));
}

/** Puts each profile back as it was before this run; returns what happened per file. */
async function rollBack(
  profiles: ApplicableArtifact[],
  loadedInRun: Set<string>,
  oldContent: Map<string, string | undefined>,
  o: Resolved,
): Promise<Map<string, string>> {
  const outcome = new Map<string, string>();
  for (const a of profiles) {
    const target = join(o.dir, a.fileName);
    const old = oldContent.get(a.fileName);
    try {
      if (o.dryRun) {
        // The uncommitted compile output is ours alone (whatever it turned out to be).
        await rm(join(o.stateDir, 'compiled', `.${a.fileName}.new`), { force: true, recursive: true }).catch(() => undefined);
        if (old === undefined) await rm(target, { force: true });
        else await writeAtomic(target, o.dir, a.fileName, old);
        outcome.set(a.fileName, old === undefined ? 'new profile removed' : 'previous version restored');
        continue;
      }
      if (!loadedInRun.has(a.fileName)) {
        // Its load failed, so the kernel still has the previous version (or none): only the disk changes back.
        if (old === undefined) await rm(target, { force: true });
        else await writeAtomic(target, o.dir, a.fileName, old);
        outcome.set(a.fileName, old === undefined ? 'new profile removed' : 'previous version restored, still loaded');
        continue;
      }
      if (old === undefined) {
        // Unload by the new text (kept in staging), then remove the file.
        const run = await runTool(o.parser, ['-R', '--', join(o.stateDir, 'staging', a.fileName)], o.timeoutMs);
        await rm(target, { force: true });
        outcome.set(a.fileName, run.code === 0 ? 'new profile unloaded and removed' : `new profile removed from disk; unload: ${runMessage(run)}`);
      } else {
        await writeAtomic(target, o.dir, a.fileName, old);
        const run = await runTool(o.parser, ['-r', '-W', '--', target], o.timeoutMs);
        outcome.set(a.fileName, run.code === 0 ? 'previous version restored and reloaded' : `previous version restored on disk; reload failed: ${runMessage(run)}`);
      }
    } catch (e) {
      outcome.set(a.fileName, `rollback failed: ${(e as Error).message}`);
    }
  }
  return outcome;
}

async function removeProfile(fileName: string, loaded: Set<string>, o: Resolved): Promise<RemovalResult> {
  const file = join(o.dir, fileName);
  if (o.dryRun) {
    await rm(join(o.stateDir, 'compiled', fileName), { force: true });
    await rm(file, { force: true });
    return { fileName, status: 'removed', message: 'file and compiled profile removed (dry-run)' };
  }
  if (loaded.has(fileName)) {
    const run = await runTool(o.parser, ['-R', '--', file], o.timeoutMs);
    if (run.code !== 0) return { fileName, status: 'failed', message: `still loaded, file kept: ${runMessage(run)}` };
  }
  await rm(file, { force: true });
  return { fileName, status: 'removed', message: loaded.has(fileName) ? 'unloaded and removed' : 'removed (was not loaded)' };
}

async function ensureBootInclude(file: string, o: Resolved): Promise<{ file: string; ok: boolean; message: string }> {
  const content = [
    '# Loads the AppArmor profiles managed by the kvmservice agent (one file per profile).',
    '# Written by the agent; do not edit.',
    `include if exists "${o.dir}"`,
    '',
  ].join('\n');
  if ((await readIfExists(file)) !== content) {
    const dir = resolve(file, '..');
    await mkdir(dir, { recursive: true });
    const name = file.slice(dir.length + 1);
    await writeAtomic(file, dir, name, content);
  }
  const [check] = await compileAppArmorFiles([file], { parserPath: o.parser, featuresFile: o.dryRun ? o.features : null, timeoutMs: o.timeoutMs });
  return { file, ok: check!.ok, message: check!.ok ? 'the whole set compiles as loaded at boot' : check!.message };
}

/** For tests and `kvmctl`: the files the loader would consider its own in `dir`. */
export async function listManagedProfiles(dir: string = DEFAULT_PROFILE_DIR): Promise<string[]> {
  return (await exists(dir)) ? currentFiles(dir) : [];
}
