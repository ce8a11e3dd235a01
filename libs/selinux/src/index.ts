/**
 * @kvmservice/selinux — KubeArmor host policies as an SELinux CIL policy module (pure renderer) and
 * the loader that installs it with semodule and relabels with restorecon (the only code here that
 * runs SELinux tools). See README.md and docs/selinux.md.
 */
export { renderSelinuxModule, RELABEL_HEADER, type RenderedSelinuxModule, type SelinuxFileContext } from './render-selinux-module.js';
export type { RenderProblem } from './render-problems.js';
export { DEFAULT_POSTURES, type Posture, type SelinuxPostures, type SelinuxRenderOptions } from './render-options.js';
export { moduleNameFor } from './render-names.js';
export {
  createPrivateStore,
  detectSelinux,
  installSelinuxModule,
  linkSelinuxModules,
  listSelinuxModules,
  readInstalledModule,
  readPathAliases,
  recordedRelabelPaths,
  removeSelinuxModule,
  runTool,
  type DetectOptions,
  type InstallOptions,
  type InstallResult,
  type InstalledModule,
  type LinkResult,
  type PrivateStore,
  type RemoveResult,
  type SelinuxStatus,
  type StoreOptions,
  type ToolRun,
} from './loader.js';
export {
  applyAliases,
  findShadowedPaths,
  lookupFileContext,
  lookupOrder,
  parseFileContexts,
  parsePathAliases,
  samplePath,
  type FileContextSpec,
  type ShadowedPath,
} from './file-context-lookup.js';
export { DEFAULT_PATH_ALIASES, pathCanonicalizer, type PathAlias } from './render-options.js';
export { fromByteString, toByteString } from './render-path-regex.js';
export {
  allowedPerms,
  openPolicyOracle,
  type PolicyOracle,
  auditedPerms,
  fileContextsFile,
  matchPathContexts,
  parseAvRules,
  policyFile,
  processTransition,
  searchAvRules,
  type AvQuery,
  type AvRule,
  type TypeTransition,
} from './loader-query.js';
export { leaves, parseCil, type CilNode } from './cil-syntax.js';
