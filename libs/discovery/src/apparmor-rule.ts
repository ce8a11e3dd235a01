/**
 * The AppArmor rule aa-logprof derives from one event (utils/apparmor logparser + the profile
 * writers), for learning-mode explanations and for conformance with libapparmor's test_multi
 * `.profile` files: files (`owner` when the record says the owner acted), exec (`mrix`),
 * capabilities, inet and unix networking, dbus, signal, ptrace, mount, pivot_root, mqueue,
 * io_uring, userns and change_profile. `formatAppArmorProfiles` prints rules as those files do.
 */
import type { HostEvent } from '@kvmservice/auditlog';

export interface DerivedAppArmorRule {
  /** the profile the rule belongs to (a hat's parent) */
  profile: string;
  /** the hat or child profile (`^hat`), when the record's label names one */
  hat?: string;
  /** the rule, with its trailing comma; undefined when the event needs no rule */
  rule?: string;
  /** why there is no rule */
  reason?: string;
}

/** `key=value` and `key="quoted value"` pairs of a HostEvent's `data`. */
export function dataFields(data: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!data) return out;
  const re = /([A-Za-z_]+)=("((?:[^"\\]|\\.)*)"|\S*)/g;
  for (let m = re.exec(data); m; m = re.exec(data)) {
    const key = m[1]!;
    if (out[key] !== undefined) continue;
    out[key] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
  }
  return out;
}

/** AppArmor's permission letters in the order profiles write them. */
const FILE_PERM_ORDER = ['m', 'r', 'w', 'a', 'l', 'k'];

function fileMode(mask: string): string {
  const letters = new Set<string>();
  for (const ch of mask.replace(/:/g, '')) {
    if (ch === 'c' || ch === 'd' || ch === 'A' || ch === 'C' || ch === 'N') letters.add('w');
    else letters.add(ch);
  }
  if (letters.has('w')) letters.delete('a');
  return FILE_PERM_ORDER.filter((p) => letters.has(p)).join('');
}

function quote(path: string): string {
  return /[\s"]/.test(path) ? `"${path}"` : path;
}

function maskWords(mask: string | undefined): string[] {
  return (mask ?? '')
    .split(/[\s,]+/)
    .filter((w) => w !== '')
    .sort();
}

function splitLabel(label: string): { profile: string; hat?: string } {
  const i = label.indexOf('//');
  return i < 0 ? { profile: label } : { profile: label.slice(0, i), hat: label.slice(i + 2) };
}

const LOCAL_SOCKET_ACCESS = new Set(['getattr', 'setattr', 'getopt', 'setopt']);

function networkRule(event: HostEvent, mask: string | undefined): string | undefined {
  const n = event.network!;
  if (n.family === 'unix') {
    // a unix record without a denied mask asked for nothing the profile lacks (apparmor#541)
    const denied = maskWords(event.lsm?.deniedMask);
    if (denied.length === 0) return undefined;
    const parts = [`unix (${denied.join(', ')})`];
    if (n.sockType) parts.push(`type=${n.sockType}`);
    if (n.unixPath !== undefined && n.unixPath !== 'none') parts.push(denied.includes('connect') ? `peer=(addr=${n.unixPath})` : `addr=${n.unixPath}`);
    return `${parts.join(' ')},`;
  }
  const words = maskWords(mask);
  const parts = ['network'];
  if (words.length > 0) parts.push(`(${words.join(', ')})`);
  if (n.family) parts.push(n.family);
  if (n.sockType) parts.push(n.sockType);
  if (n.localAddr !== undefined) parts.push(`ip=${n.localAddr}`);
  if (n.localPort !== undefined) parts.push(`port=${n.localPort}`);
  // getattr/setattr/getopt/setopt act on the local socket; its peer is no part of the check
  const local = words.length > 0 && words.every((w) => LOCAL_SOCKET_ACCESS.has(w));
  const peer: string[] = [];
  if (n.peerAddr !== undefined) peer.push(`ip=${n.peerAddr}`);
  if (n.peerPort !== undefined) peer.push(`port=${n.peerPort}`);
  if (peer.length > 0 && !local) parts.push(`peer=(${peer.join(' ')})`);
  return `${parts.join(' ')},`;
}

function syscallRule(event: HostEvent, op: string, f: Record<string, string>, denied: string[]): string | undefined {
  const peer = event.lsm?.peerProfile;
  const resource = event.resource;
  if (op.startsWith('dbus_')) {
    if (denied.length === 0) return undefined;
    const parts = [`dbus ${denied.join(' ')}`];
    if (f.bus) parts.push(`bus=${f.bus}`);
    if (op === 'dbus_bind') {
      if (resource) parts.push(`name=${resource}`);
    } else if (!denied.includes('eavesdrop')) {
      if (f.path) parts.push(`path=${f.path}`);
      if (f.interface) parts.push(`interface=${f.interface}`);
      if (f.member) parts.push(`member=${f.member}`);
      if (peer) parts.push(`peer=(label=${peer})`);
    }
    return `${parts.join(' ')},`;
  }
  switch (op) {
    case 'signal':
      if (denied.length === 0) return undefined;
      return `signal ${denied.join(' ')}${f.signal ? ` set=${f.signal}` : ''}${peer ? ` peer=${peer}` : ''},`;
    case 'ptrace':
      if (denied.length === 0) return undefined;
      return `ptrace ${denied.join(' ')}${peer ? ` peer=${peer}` : ''},`;
    case 'mount': {
      const parts = ['mount'];
      if (f.fstype) parts.push(`fstype=${f.fstype}`);
      if (f.flags) parts.push(`options=(${f.flags.split(/,\s*/).filter((x) => x !== '').sort().join(', ')})`);
      if (f.srcname) parts.push(f.srcname);
      if (resource) parts.push(`-> ${resource}`);
      return `${parts.join(' ')},`;
    }
    case 'umount':
      return `umount${resource ? ` ${resource}` : ''},`;
    case 'pivotroot':
      return `pivot_root${f.srcname ? ` oldroot=${f.srcname}` : ''}${resource ? ` ${resource}` : ''},`;
    case 'uring_sqpoll':
    case 'uring_override':
      if (denied.length === 0) return undefined;
      return `io_uring ${denied.join(' ')}${peer ? ` label=${peer}` : ''},`;
    case 'userns_create':
      return `${event.action === 'Audit' ? 'audit ' : ''}userns create,`;
    default:
      if (f.class === 'posix_mqueue' || f.class === 'sysv_mqueue') {
        if (denied.length === 0) return undefined;
        const type = f.class === 'posix_mqueue' ? 'posix' : 'sysv';
        return `mqueue ${denied.join(' ')} type=${type}${resource ? ` ${resource}` : ''},`;
      }
      return undefined;
  }
}

/** The rule aa-logprof would add for this event. Never throws. */
export function deriveAppArmorRule(event: HostEvent): DerivedAppArmorRule {
  const label = event.lsm?.profile;
  if (label === undefined || event.enforcer !== 'AppArmor') return { profile: label ?? '', reason: 'not an AppArmor record' };
  const op = event.lsm?.aaOperation ?? '';
  const f = dataFields(event.data);
  // An unconfined task creating a user namespace is moved to a restricted profile; the rule it
  // needs belongs to a profile for the program (`execpath`), as aa-logprof writes it.
  const owner = op === 'userns_create' && label === 'unconfined' && f.execpath?.startsWith('/') ? f.execpath : label;
  const none = (reason: string): DerivedAppArmorRule => ({ ...splitLabel(owner), reason });
  const at = (rule: string | undefined, reason: string): DerivedAppArmorRule => (rule === undefined ? none(reason) : { ...splitLabel(owner), rule });
  if (event.type === 'SystemEvent') return none('a status record');

  if (op === 'change_profile' || op === 'change_onexec') {
    // a change to a profile that is not loaded needs the profile first, not a rule
    if ((f.info ?? '').includes('label not found')) return none('the target profile is not loaded');
    const target = f.target ?? event.resource;
    return at(target ? `change_profile -> ${target},` : undefined, 'no target profile');
  }
  if (op === 'change_hat') return none('change_hat is decided by the hat, not by a rule');
  const mask = event.lsm?.deniedMask ?? event.lsm?.requestedMask;
  switch (event.operation) {
    case 'Capabilities':
      return at(event.capability ? `capability ${event.capability},` : undefined, 'no capability');
    case 'Process': {
      const path = event.file?.path;
      return at(path ? `${quote(path)} mrix,` : undefined, 'no path');
    }
    case 'File': {
      const path = event.file?.path;
      if (path === undefined || !path.startsWith('/')) return none('no path');
      if (mask === undefined || mask === '') return none('no permission');
      const mode = fileMode(mask);
      if (mode === '') return none('no file permission');
      const isOwner = mask.includes('::') ? !mask.startsWith('::') : event.file?.fsuid !== undefined && event.file.fsuid === event.file.ouid;
      return at(`${isOwner ? 'owner ' : ''}${quote(path)} ${mode},`, 'no rule');
    }
    case 'Network':
      return at(event.network ? networkRule(event, event.lsm?.deniedMask ?? event.lsm?.requestedMask) : undefined, 'no denied network permission');
    default:
      return at(syscallRule(event, op, f, maskWords(event.lsm?.deniedMask ?? event.lsm?.requestedMask)), `no rule for ${op || 'this record'}`);
  }
}

function header(profile: string): string {
  const name = /\s/.test(profile) ? `"${profile}"` : profile;
  return profile.startsWith('/') ? `${name} {` : `profile ${name} {`;
}

/**
 * Profiles as aa-logprof writes them for test_multi: each profile's rules (sorted, de-duplicated)
 * followed by a blank line, then its hats; a profile without rules or hats is `name {\n}`.
 */
export function formatAppArmorProfiles(rules: readonly DerivedAppArmorRule[]): string {
  const profiles = new Map<string, { rules: Set<string>; hats: Map<string, Set<string>> }>();
  for (const r of rules) {
    let p = profiles.get(r.profile);
    if (!p) profiles.set(r.profile, (p = { rules: new Set(), hats: new Map() }));
    if (r.hat !== undefined) {
      let h = p.hats.get(r.hat);
      if (!h) p.hats.set(r.hat, (h = new Set()));
      if (r.rule) h.add(r.rule);
    } else if (r.rule) p.rules.add(r.rule);
  }
  const out: string[] = [];
  for (const [name, p] of profiles) {
    out.push(header(name));
    if (p.rules.size > 0) out.push(...[...p.rules].sort().map((r) => `  ${r}`), '');
    for (const [hat, hr] of p.hats) {
      out.push('', `  ^${hat} {`, ...[...hr].sort().map((r) => `    ${r}`), '', '  }');
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}
