/**
 * How artifacts are applied on this host, shared by the loader adapters.
 */
import type { Enforcer } from '../facts.js';
import type { StateDir } from '../state-dir.js';
import type { LsmRunner } from './lsm-runner.js';

export interface Enforcement {
  enforcer: Enforcer;
  /** Load into the kernel; false = write and compile only (dry-run or no usable LSM). */
  kernelMode: boolean;
  /** Why compile-only, for the status message. */
  compileOnlyReason: string;
  stateDir: StateDir;
  /** Profile directory when loading into the kernel (`--apparmor-dir`). */
  apparmorDir: string;
  runner: LsmRunner;
}
