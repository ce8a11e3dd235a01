/** Path text as discovery keeps it: absolute, canonical, and safe to write into a policy. */
import { unsafeTextReason } from '@kvmservice/resources';

/**
 * The canonical form of an absolute path: repeated slashes collapsed, `.` and `..` resolved
 * lexically, a trailing '/' kept (AppArmor reports directories that way). Undefined for a
 * relative path (SELinux AVCs often name only the last component).
 */
const NOT_CANONICAL = /\/\/|\/\.\.?(?:\/|$)/;

export function canonicalPath(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47) return undefined;
  if (!NOT_CANONICAL.test(path)) return path;
  const dir = path.endsWith('/') || path.endsWith('/.') || path.endsWith('/..');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  if (parts.length === 0) return '/';
  return `/${parts.join('/')}${dir ? '/' : ''}`;
}

/** Why a path cannot appear in a policy (control characters, quotes, `@{` …), or undefined. */
export function unsafePathReason(path: string): string | undefined {
  return unsafeTextReason(path);
}

/** The parent directory of a path ('/a/b' and '/a/b/' → '/a/'), or undefined for '/'. */
export function parentDirectory(path: string): string | undefined {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  if (trimmed === '') return undefined;
  return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
}

/** Directory depth: '/' is 0, '/etc/' 1, '/etc/ssl/' 2. */
export function directoryDepth(dir: string): number {
  let n = 0;
  for (let i = 1; i < dir.length; i++) if (dir.charCodeAt(i) === 47) n++;
  return n;
}
