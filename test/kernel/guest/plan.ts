/**
 * What the host asks the guest driver to do, in order, and what the driver reports back (one JSON
 * object per line on the results port). Types only: shared by the host test and the driver.
 */
import type { ApplicableArtifact, ApplyReport } from '@kvmservice/apparmor';

export type GuestStep =
  /** `applyAppArmorProfiles(artifacts)`: the agent's loader, kernel mode, default directories. */
  | { kind: 'apply'; id: string; artifacts: ApplicableArtifact[] }
  /**
   * What the loader does in kernel mode, with profiles the loader compiled on the host (dry-run,
   * pinned Debian 12 ABI): `apparmor_parser -r -B <binary>` per changed profile in the loader's
   * order, then `apparmor_parser -R -- <file>` per profile that left the set; the profile files
   * are kept in the loader's directory as the loader keeps them.
   */
  | { kind: 'replay'; id: string; loads: ReplayLoad[]; removes: string[] }
  /** Runs a program (no shell in between); `awaitAudit`: wait until the kernel log has a record of its pid. */
  | {
      kind: 'run';
      id: string;
      argv: string[];
      timeoutMs?: number;
      awaitAudit?: boolean;
      outputFile?: string;
    }
  /**
   * What the SELinux loader does live, with a policy linked on the host against a private copy
   * of the store: the kernel policy and file contexts into /etc/selinux/default, `load_policy`,
   * then `restorecon -RF` on the old and new module's relabel paths.
   */
  | { kind: 'selinux-load'; id: string; policy: string; fileContexts: string; relabel: string[] }
  /** Writes a file (sysctl, module parameter). */
  | { kind: 'write'; id: string; path: string; content: string }
  /** Reads a file (profile on disk, securityfs). */
  | { kind: 'read'; id: string; path: string };

export interface ReplayLoad {
  name: string;
  fileName: string;
  content: string;
  /** Path of the compiled profile inside the VM. */
  binary: string;
}

export interface GuestPlan {
  steps: GuestStep[];
}

export interface EnvResult {
  kind: 'env';
  kernel: string;
  lsm: string;
  apparmorEnabled: string;
  /** The driver's own security context (`/proc/self/attr/current`). */
  context: string;
  /** `aa-features-abi -x` output: the running kernel's feature ABI. */
  features: string;
  nodeStartedAtUptime: number;
}

export interface ApplyResult {
  kind: 'apply';
  id: string;
  report?: ApplyReport;
  error?: string;
  /** Profile names the kernel has loaded afterwards (`…/apparmor/profiles`, mode stripped). */
  loaded: string[];
  /** Profile files on disk afterwards, name → content. */
  files: Record<string, string>;
  ms: number;
}

export interface ReplayResult {
  kind: 'replay';
  id: string;
  commands: { argv: string[]; status: number | null; stderr: string }[];
  loaded: string[];
  files: Record<string, string>;
  ms: number;
}

export interface SelinuxLoadResult {
  kind: 'selinux-load';
  id: string;
  commands: { argv: string[]; status: number | null; stderr: string }[];
  /** `ls -dZ` of every relabelled path afterwards: path → context. */
  labels: Record<string, string>;
  enforce: string;
  ms: number;
}

export interface RunResult {
  kind: 'run';
  id: string;
  pid?: number;
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Content of the step's `outputFile` after the run. */
  output?: string;
  error?: string;
  /** Whether a kernel record of the pid showed up (only with `awaitAudit`). */
  auditSeen?: boolean;
  ms: number;
}

export interface WriteResult {
  kind: 'write';
  id: string;
  ok: boolean;
  error?: string;
}

export interface ReadResult {
  kind: 'read';
  id: string;
  content?: string;
  error?: string;
}

export interface EndResult {
  kind: 'end';
  uptime: number;
}

export type GuestResult = EnvResult | ApplyResult | ReplayResult | SelinuxLoadResult | RunResult | WriteResult | ReadResult | EndResult;
