/**
 * AppArmor artifacts → `applyAppArmorProfiles` (libs/apparmor, in the LSM worker) → one result per
 * artifact. Kernel mode loads into the kernel from `--apparmor-dir`; compile-only mode compiles
 * into `<state-dir>/apparmor/` against the pinned feature ABI and says so in every message.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { ApplyReport } from '@kvmservice/apparmor';
import type { ArtifactResult, DesiredArtifact } from '../desired.js';
import type { Enforcement } from './enforcement.js';

function hasFiles(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => !f.startsWith('.'));
  } catch {
    return false;
  }
}

export async function reconcileAppArmor(artifacts: DesiredArtifact[], ctx: Enforcement): Promise<ArtifactResult[]> {
  const fail = (message: string) => artifacts.map((a) => result(a, 'FAILED', message));
  if (ctx.enforcer === 'selinux') {
    return artifacts.length === 0 ? [] : fail('this host enforces with SELinux: AppArmor profiles are not applied');
  }
  const stateDir = ctx.stateDir.path('apparmor');
  const dir = ctx.kernelMode ? ctx.apparmorDir : ctx.stateDir.path('apparmor', 'profiles');
  // Nothing wanted and nothing of ours on disk: no worker, no parser.
  if (artifacts.length === 0 && !hasFiles(dir) && !hasFiles(`${stateDir}/compiled`)) return [];
  let report: ApplyReport;
  try {
    report = await ctx.runner.run({
      op: 'apparmor-apply',
      artifacts: artifacts.map((a) => ({ name: a.name, fileName: a.fileName, content: a.content, sha256: a.sha256 })),
      options: ctx.kernelMode ? { dir, stateDir, dryRun: false } : { dir, stateDir, dryRun: true, bootInclude: null },
    });
  } catch (e) {
    return fail(`the AppArmor loader did not run: ${(e as Error).message}`);
  }
  return appArmorResults(artifacts, report, ctx);
}

/** The loader's report as status rows (pure). */
export function appArmorResults(artifacts: DesiredArtifact[], report: ApplyReport, ctx: Pick<Enforcement, 'kernelMode' | 'compileOnlyReason'>): ArtifactResult[] {
  const byFile = new Map(report.results.map((r) => [r.fileName, r]));
  const rows = artifacts.map((a): ArtifactResult => {
    const r = byFile.get(a.fileName);
    if (!r) return result(a, 'FAILED', 'the loader reported nothing for this profile');
    if (r.status === 'failed') return result(a, 'FAILED', r.message);
    if (ctx.kernelMode) return result(a, 'APPLIED', r.status === 'unchanged' ? 'loaded (unchanged)' : 'written and loaded');
    return result(a, 'COMPILED', `compiled with apparmor_parser${r.status === 'unchanged' ? ' (unchanged)' : ''}; ${ctx.compileOnlyReason}`);
  });
  for (const removal of report.removed) {
    if (removal.status === 'failed') rows.push({ name: removal.fileName, lsm: 'apparmor', sha256: '', state: 'FAILED', message: `could not be removed: ${removal.message}`, policies: [] });
  }
  if (report.boot && !report.boot.ok) {
    rows.push({ name: 'apparmor-boot-include', lsm: 'apparmor', sha256: '', state: 'FAILED', message: `${report.boot.file} does not compile, so the profiles would not load at boot: ${report.boot.message}`, policies: [] });
  }
  return rows;
}

function result(a: DesiredArtifact, state: ArtifactResult['state'], message: string): ArtifactResult {
  return { name: a.name, lsm: a.lsm, sha256: a.sha256, state, message, policies: a.policies };
}

export function compiledProfiles(stateDirApparmor: string): string[] {
  const dir = `${stateDirApparmor}/compiled`;
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];
}
