/**
 * Which binary an event belongs to (the `fromSource` of the rule it leads to). For an exec that is
 * the program that called exec, not the program started; for everything else the program that
 * acted. Every LSM names it differently, so several fields are tried in order.
 */
import type { HostEvent } from '@kvmservice/auditlog';

/**
 * Maps an event to its source binary when the caller knows better than the event (e.g. the
 * control plane maps its own AppArmor profile names `kubearmor_<…>` back to binaries).
 * Return undefined to fall back to the event's own fields.
 */
export type SourceResolver = (event: HostEvent) => string | undefined;

const binaryCache = new Map<string, boolean>();

/** An absolute path naming a binary: no glob characters, no trailing '/'. */
export function isBinaryPath(p: string | undefined): p is string {
  if (p === undefined || p.charCodeAt(0) !== 47) return false;
  let ok = binaryCache.get(p);
  if (ok === undefined) {
    ok = p.length > 1 && !p.endsWith('/') && !/[*?[\]{}\s]/.test(p) && !p.includes('//');
    if (binaryCache.size >= 4096) binaryCache.clear();
    binaryCache.set(p, ok);
  }
  return ok;
}

/** An AppArmor profile named after a binary (`/usr/sbin/nginx`, or its hat `/usr/sbin/nginx//hat`). */
function profileBinary(profile: string | undefined): string | undefined {
  if (profile === undefined) return undefined;
  const hat = profile.indexOf('//');
  const top = hat < 0 ? profile : profile.slice(0, hat);
  return isBinaryPath(top) ? top : undefined;
}

/** The source binary of an event, or undefined when nothing names one. */
export function sourceOf(event: HostEvent, resolver?: SourceResolver): string | undefined {
  const resolved = resolver?.(event);
  if (resolved !== undefined) return isBinaryPath(resolved) ? resolved : undefined;
  if (event.operation === 'Process') {
    // Linux audit: `source` is the parent's executable when the stream knew the parent's pid, else
    // the new image (the same as the exec'd path, which says nothing about the caller).
    const target = event.file?.path;
    if (isBinaryPath(event.source) && event.source !== target && event.enforcer === 'Linux-audit') return event.source;
    if (isBinaryPath(event.parentProcessName) && event.parentProcessName !== target) return event.parentProcessName;
    if (event.enforcer === 'Linux-audit') return undefined;
    // AppArmor/SELinux exec records are written by the calling task: its profile, or its exe
    // when the SYSCALL record was joined before the exec replaced the image.
    const exe = event.process?.exe;
    if (isBinaryPath(exe) && exe !== target) return exe;
    const fromProfile = profileBinary(event.lsm?.profile);
    if (fromProfile !== undefined) return fromProfile;
    if (isBinaryPath(event.source) && event.source !== target) return event.source;
    return undefined;
  }
  if (isBinaryPath(event.process?.exe)) return event.process.exe;
  if (isBinaryPath(event.source)) return event.source;
  if (isBinaryPath(event.processName)) return event.processName;
  return profileBinary(event.lsm?.profile);
}
