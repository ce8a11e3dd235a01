/**
 * @kvmservice/apparmor — KubeArmor host policies as AppArmor profiles: a pure renderer and the
 * loader that applies rendered profiles with apparmor_parser (the only code that runs it).
 */
export * from './render-types.js';
export * from './render.js';
export * from './postures.js';
export { DISPATCHER_PROFILE, DISPATCHER_ATTACHMENT, sourceProfileNames } from './render-names.js';
export * from './features.js';
export * from './loader.js';
export * from './loader-detect.js';
export { compileAppArmorFiles, type CompileOptions, type CompileResult } from './loader-compile.js';
