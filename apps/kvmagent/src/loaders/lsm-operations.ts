/**
 * What the agent asks of the LSM libraries, as plain-data requests: detection, an AppArmor
 * apply, an SELinux install or removal. Runs in the short-lived LSM worker process
 * (`lsm-worker.ts`), so that the libraries (and what they import) never stay resident in the agent.
 */
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { applyAppArmorProfiles, detectAppArmor, type AppArmorStatus, type ApplicableArtifact, type ApplyOptions, type ApplyReport } from '@kvmservice/apparmor';
import {
  createPrivateStore,
  detectSelinux,
  installSelinuxModule,
  listSelinuxModules,
  removeSelinuxModule,
  type InstallResult,
  type RenderedSelinuxModule,
  type SelinuxStatus,
} from '@kvmservice/selinux';

/** Prefix of every module the SELinux renderer names (`moduleNameFor`): the agent removes only these. */
const OUR_MODULES = 'kvms_';

export interface SelinuxModuleInput {
  moduleName: string;
  module: string;
  sha256: string;
  relabelPaths: string[];
}

export type LsmRequest =
  | { op: 'detect' }
  | { op: 'apparmor-apply'; artifacts: ApplicableArtifact[]; options: ApplyOptions }
  | { op: 'selinux-apply'; module: SelinuxModuleInput | null; dryRun: boolean; storeDir: string; timeoutMs?: number };

export interface DetectResult {
  apparmor: AppArmorStatus;
  selinux: SelinuxStatus & { policyVersion?: string };
}

export interface SelinuxApplyResult {
  install?: InstallResult;
  removed: string[];
  errors: string[];
}

export type LsmResponse<R extends LsmRequest> = R extends { op: 'detect' } ? DetectResult : R extends { op: 'apparmor-apply' } ? ApplyReport : SelinuxApplyResult;

/** A private copy of the live policy store for dry runs, made once and kept at `dir`. */
function ensurePrivateStore(dir: string): string | undefined {
  if (existsSync(join(dir, 'var/lib/selinux'))) return undefined;
  if (!existsSync('/var/lib/selinux') || !existsSync('/etc/selinux')) return 'no SELinux policy store on this host (/etc/selinux, /var/lib/selinux) to compile against';
  const parent = join(dir, '..');
  mkdirSync(parent, { recursive: true });
  const store = createPrivateStore({ parent });
  renameSync(store.root, dir);
  return undefined;
}

async function selinuxApply(r: Extract<LsmRequest, { op: 'selinux-apply' }>): Promise<SelinuxApplyResult> {
  const base = r.dryRun ? { dryRun: true, root: r.storeDir } : { dryRun: false };
  const options = { ...base, ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}) };
  if (r.dryRun) {
    const problem = ensurePrivateStore(r.storeDir);
    if (problem) return { removed: [], errors: [problem] };
  }
  if (r.module) {
    // The agent has the module as the control plane rendered it; the loader reads only these
    // members (the others describe the render for the control plane's attribution).
    const fromArtifact: Pick<RenderedSelinuxModule, 'moduleName' | 'module' | 'sha256' | 'relabelPaths' | 'fileContexts' | 'typePolicies' | 'problems'> = {
      moduleName: r.module.moduleName,
      module: r.module.module,
      sha256: r.module.sha256,
      relabelPaths: r.module.relabelPaths,
      fileContexts: [],
      typePolicies: {},
      problems: [],
    };
    const install = await installSelinuxModule(fromArtifact as RenderedSelinuxModule, options);
    return { install, removed: install.removed, errors: install.error ? [install.error] : [] };
  }
  const installed = await listSelinuxModules(options);
  if ('error' in installed) return { removed: [], errors: [installed.error] };
  const removed: string[] = [];
  const errors: string[] = [];
  for (const name of [...new Set(installed.filter((m) => m.name.startsWith(OUR_MODULES)).map((m) => m.name))]) {
    const result = await removeSelinuxModule(name, options);
    if (result.ok) removed.push(name);
    else errors.push(`${name}: ${result.error ?? 'removal failed'}`);
  }
  return { removed, errors };
}

async function detect(): Promise<DetectResult> {
  const [apparmor, selinux] = await Promise.all([detectAppArmor(), detectSelinux()]);
  let policyVersion: string | undefined;
  try {
    policyVersion = readFileSync('/sys/fs/selinux/policyvers', 'utf8').trim();
  } catch {
    policyVersion = undefined;
  }
  return { apparmor, selinux: { ...selinux, ...(policyVersion ? { policyVersion } : {}) } };
}

export async function runLsmOperation(request: LsmRequest): Promise<unknown> {
  switch (request.op) {
    case 'detect':
      return detect();
    case 'apparmor-apply':
      return applyAppArmorProfiles(request.artifacts, request.options);
    case 'selinux-apply':
      return selinuxApply(request);
  }
}
