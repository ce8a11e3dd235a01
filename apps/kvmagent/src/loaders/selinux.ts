/**
 * The SELinux artifact (one CIL module per host) → `installSelinuxModule` (libs/selinux, in the
 * LSM worker): one semodule transaction that replaces the host's previous module, then restorecon.
 * Compile-only mode links the module into a private copy of the policy store kept in
 * `<state-dir>/selinux/store`. The module as received is kept in `<state-dir>/selinux/`.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactResult, DesiredArtifact } from '../desired.js';
import { writeIfChanged } from '../state-dir.js';
import type { Enforcement } from './enforcement.js';
import type { SelinuxApplyResult } from './lsm-operations.js';

const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export async function reconcileSelinux(artifacts: DesiredArtifact[], ctx: Enforcement): Promise<ArtifactResult[]> {
  const dir = ctx.stateDir.path('selinux');
  const kept = (() => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.cil'));
    } catch {
      return [];
    }
  })();
  if (ctx.enforcer !== 'selinux') {
    return artifacts.map((a) => row(a, 'FAILED', `this host does not enforce with SELinux (enforcer: ${ctx.enforcer}): the module is not applied`));
  }
  const [module, ...extra] = artifacts;
  const rows = extra.map((a) => row(a, 'FAILED', 'a host takes one SELinux module; only the first was applied'));
  if (!module && kept.length === 0) return rows;
  if (module && !SAFE_FILE.test(module.fileName)) return [row(module, 'FAILED', `file name ${JSON.stringify(module.fileName)} is not a plain file name`), ...rows];
  let outcome: SelinuxApplyResult;
  try {
    outcome = await ctx.runner.run({
      op: 'selinux-apply',
      module: module ? { moduleName: module.name, module: module.content, sha256: module.sha256, relabelPaths: module.relabelPaths } : null,
      dryRun: !ctx.kernelMode,
      storeDir: join(dir, 'store'),
    });
  } catch (e) {
    return module ? [row(module, 'FAILED', `the SELinux loader did not run: ${(e as Error).message}`), ...rows] : rows;
  }
  const ok = module ? outcome.install?.ok === true : outcome.errors.length === 0;
  if (ok) {
    mkdirSync(dir, { recursive: true });
    for (const f of kept) if (f !== module?.fileName) rmSync(join(dir, f), { force: true });
    if (module) writeIfChanged(join(dir, module.fileName), module.content);
  }
  if (!module) {
    return outcome.errors.length === 0 ? rows : [...rows, { name: 'selinux-module-removal', lsm: 'selinux', sha256: '', state: 'FAILED', message: outcome.errors.join('; '), policies: [] }];
  }
  return [selinuxRow(module, outcome, ctx), ...rows];
}

export function selinuxRow(module: DesiredArtifact, outcome: SelinuxApplyResult, ctx: Pick<Enforcement, 'kernelMode' | 'compileOnlyReason'>): ArtifactResult {
  const install = outcome.install;
  if (!install || !install.ok) return row(module, 'FAILED', `${install?.error ?? outcome.errors.join('; ')} (previous module kept)`);
  const notes = [
    install.changed ? undefined : 'unchanged',
    install.removed.length > 0 ? `replaced ${install.removed.join(', ')}` : undefined,
    install.relabelled.length > 0 ? `relabelled ${install.relabelled.length} paths` : undefined,
    install.shadowed.length > 0 ? `${install.shadowed.length} file contexts are shadowed by the base policy` : undefined,
  ].filter((n): n is string => n !== undefined);
  const suffix = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  if (ctx.kernelMode) return row(module, 'APPLIED', `installed with semodule${suffix}`);
  return row(module, 'COMPILED', `linked against a private copy of the policy store${suffix}; ${ctx.compileOnlyReason}`);
}

function row(a: DesiredArtifact, state: ArtifactResult['state'], message: string): ArtifactResult {
  return { name: a.name, lsm: a.lsm, sha256: a.sha256, state, message, policies: a.policies };
}
