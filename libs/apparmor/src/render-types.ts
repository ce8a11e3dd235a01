/** Public shapes of the AppArmor renderer. */

export type Posture = 'allow' | 'audit' | 'block';

/** Host default postures (upstream `-hostDefault{File,Network,Capabilities}Posture`; default audit). */
export interface Postures {
  file: Posture;
  network: Posture;
  capabilities: Posture;
}

export interface RenderOptions {
  postures?: Partial<Postures>;
  /**
   * Render `spec.apparmor` native rules into the dispatcher profile. They are copied as written and
   * bypass every check this renderer makes, so they are off unless a person turns them on.
   */
  allowNativeRules?: boolean;
  /**
   * Learning mode (docs/apparmor.md, "Learning mode"): the profiles of these binaries run in
   * complain mode without their blanket rules, so everything they do that no rule allows is
   * logged as ALLOWED instead of being blocked. A binary without a fromSource profile gets a
   * minimal one attached to its path. Paths are absolute binary paths (spec.learning.binaries).
   */
  learning?: { binaries: readonly string[] };
}

export interface RenderHost {
  /** Host name; only named in the header comment. */
  name: string;
}

export interface PolicyRef {
  name: string;
  resourceVersion?: string;
}

/** One AppArmor profile, as one file. */
export interface AppArmorArtifact {
  /** Profile name, e.g. `kubearmor.host` or `kubearmor_usrbinhead`. */
  name: string;
  /** File name under the profile directory (equal to `name`; `[A-Za-z0-9._-]` only). */
  fileName: string;
  content: string;
  /** Hex SHA-256 of `content` (UTF-8). */
  sha256: string;
  /** The policies whose rules this file carries (sorted by name). */
  policies: PolicyRef[];
}

/** A rule, or part of one, that AppArmor cannot express; reported, never silently dropped. */
export interface UnenforceableRule {
  policy: string;
  /** Where in the policy, e.g. `spec.syscalls.matchSyscalls[0]`. */
  field: string;
  reason: string;
}

export interface AppArmorRender {
  /** Dispatcher first, then the fromSource profiles by name. Empty when nothing renders. */
  artifacts: AppArmorArtifact[];
  /** Profile name → names of the policies with rules in it (for alert attribution). */
  profilePolicies: Record<string, string[]>;
  /** fromSource (and learning) profile name → the binary it confines, to map records back to binaries. */
  profileSources: Record<string, string>;
  /** Profiles rendered in complain mode (learning), sorted. */
  complainProfiles: string[];
  unenforceable: UnenforceableRule[];
}
