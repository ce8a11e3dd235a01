import type { AaLogRecord } from './apparmor-record.js';
import { familyName } from './sockaddr.js';
import { absolutePath, type SyscallContext } from './syscall-context.js';
import { errnoText } from './syscalls.js';
import type {
  FileDetail,
  HostEvent,
  HostOperation,
  NetworkDetail,
  SelinuxAvcRecord,
  SelinuxRecord,
} from './types.js';

/** What a record's surroundings add: envelope host/time, its event's syscall records, known process names. */
export interface EventContext {
  hostName?: string;
  node?: string;
  envelopeTimeMs?: number;
  auditId?: string;
  epoch?: number;
  ms?: number;
  serial?: number;
  syscall?: SyscallContext;
  /** executable of a pid seen earlier in the stream (for parentProcessName) */
  processName?: (pid: number) => string | undefined;
}

/**
 * A new event with every member in KubeArmor's order (absent ones undefined, which JSON
 * leaves out): one object shape for all events, filled in place.
 */
function newEvent(operation: HostOperation, action: HostEvent['action'], result: string, enforcer: HostEvent['enforcer'], type: HostEvent['type']): HostEvent {
  return {
    timestamp: undefined,
    timestampMs: undefined,
    hostName: undefined,
    hostPPID: undefined,
    hostPID: undefined,
    uid: undefined,
    parentProcessName: undefined,
    processName: undefined,
    type,
    source: undefined,
    operation,
    resource: undefined,
    data: undefined,
    enforcer,
    action,
    result,
    cwd: undefined,
    syscall: undefined,
    capability: undefined,
    lsm: undefined,
    file: undefined,
    network: undefined,
    process: undefined,
    audit: undefined,
  };
}

// Records of one second share their date text; formatting it once per second is most of
// what building a timestamp costs.
let isoSecond = NaN;
let isoPrefix = '';
function isoTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const frac = ms - sec * 1000;
  if (sec !== isoSecond) {
    isoSecond = sec;
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, -4);
  }
  return `${isoPrefix}${String(frac).padStart(3, '0')}Z`;
}

/** Time, audit identity and host of an event; the record's own header wins over the context's. */
function setTime(
  ev: HostEvent,
  c: EventContext,
  auditId: string | undefined = c.auditId,
  epoch: number | undefined = c.epoch,
  serial: number | undefined = c.serial,
  node: string | undefined = c.node,
): void {
  let ms: number | undefined;
  if (epoch !== undefined) ms = epoch * 1000 + (c.ms ?? 0);
  else if (c.envelopeTimeMs !== undefined) ms = c.envelopeTimeMs;
  if (ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= 8.64e15) {
    ev.timestampMs = ms;
    ev.timestamp = isoTime(ms);
  }
  if (epoch !== undefined && serial !== undefined && auditId !== undefined) {
    ev.audit = node !== undefined ? { id: auditId, epoch, serial, node } : { id: auditId, epoch, serial };
  }
  const host = c.hostName ?? node;
  if (host !== undefined) ev.hostName = host;
}

/** SYSCALL/EXECVE/CWD/PATH/PROCTITLE facts every event of that syscall shares. */
function applySyscall(ev: HostEvent, c: EventContext): void {
  const s = c.syscall;
  if (!s) return;
  if (ev.hostPID === undefined && s.pid !== undefined) ev.hostPID = s.pid;
  if (s.ppid !== undefined) ev.hostPPID = s.ppid;
  if (s.uid !== undefined) ev.uid = s.uid;
  if (s.exe !== undefined) ev.processName = s.exe;
  if (s.cwd !== undefined) ev.cwd = s.cwd;
  if (s.syscall !== undefined) ev.syscall = s.syscall;
  const argv = s.argv ?? s.proctitle;
  if (s.exe !== undefined || s.comm !== undefined || argv || s.cwd !== undefined) {
    ev.process = { ...ev.process };
    if (s.exe !== undefined) ev.process.exe = s.exe;
    if (s.comm !== undefined) ev.process.comm = s.comm;
    if (argv) ev.process.argv = argv;
    if (s.cwd !== undefined) ev.process.cwd = s.cwd;
  }
  if (s.ppid !== undefined && c.processName) {
    const parent = c.processName(s.ppid);
    if (parent !== undefined) ev.parentProcessName = parent;
  }
}

function kaFamily(f: string | undefined): string {
  return f === undefined ? 'AF_UNSPEC' : `AF_${f.toUpperCase()}`;
}

/** AppArmor masks: letters (r, w, x, …, "r::" owner/other form) or words (send receive). */
function maskAccess(mask: string | undefined): string[] {
  const out: string[] = [];
  if (mask === undefined || mask === '') return out;
  if (mask.length > 1 && isWordMask(mask)) {
    for (const w of mask.split(' ')) if (w !== '') out.push(w);
    return out;
  }
  for (let k = 0; k < mask.length; k++) {
    const n = MASK_NAMES[mask.charAt(k)];
    if (n !== undefined && !out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * "send receive", "read create", "getattr": words, not permission letters. A mask is letters
 * when every lower-case character is one of AppArmor's permission letters (r w a x m l k c d i p u).
 */
function isWordMask(mask: string): boolean {
  for (let k = 0; k < mask.length; k++) {
    const c = mask.charCodeAt(k);
    if (c === 32 || c === 95) return true;
    if (c >= 97 && c <= 122 && !PERMISSION_LETTERS.includes(mask.charAt(k))) return true;
  }
  return false;
}

const PERMISSION_LETTERS = 'rwaxmlkcdipu';

const MASK_NAMES: Record<string, string> = {
    r: 'read',
    w: 'write',
    a: 'append',
    x: 'exec',
    m: 'mmap',
    l: 'link',
    k: 'lock',
    c: 'create',
    d: 'delete',
    N: 'rename',
    A: 'chmod',
    C: 'chown',
    i: 'inherit',
    p: 'exec',
    u: 'exec',
};

const AA_NETWORK_OPS = new Set([
  'create',
  'socket_create',
  'post_create',
  'bind',
  'connect',
  'listen',
  'accept',
  'sendmsg',
  'recvmsg',
  'getsockname',
  'getpeername',
  'getsockopt',
  'setsockopt',
  'socket_shutdown',
  'shutdown',
]);

const AA_DIRECTION: Record<string, NetworkDetail['direction']> = {
  connect: 'connect',
  accept: 'accept',
  bind: 'bind',
  listen: 'listen',
  sendmsg: 'send',
  recvmsg: 'receive',
  create: 'socket',
  socket_create: 'socket',
  post_create: 'socket',
};

function aaOperation(r: AaLogRecord): HostOperation {
  const op = r.operation ?? '';
  if (op === 'capable') return 'Capabilities';
  if (op === 'exec') return 'Process';
  const cls = r.class;
  if (cls === 'net' || r.net_family !== undefined || (cls === undefined && AA_NETWORK_OPS.has(op) && r.name === undefined)) return 'Network';
  if (cls === 'file') return 'File';
  if (cls !== undefined) return 'Syscall';
  if (op.startsWith('dbus_') || op === 'signal' || op === 'ptrace' || op.startsWith('change_') || op === 'mount' || op === 'umount' || op === 'pivotroot') {
    return 'Syscall';
  }
  if (r.name !== undefined || r.requested_mask !== undefined || r.denied_mask !== undefined) return 'File';
  return 'Syscall';
}

/** KubeArmor-style event for an AppArmor record; undefined for INVALID/ERROR records. */
export function appArmorEvent(r: AaLogRecord, c: EventContext): HostEvent | undefined {
  if (r.event === 'INVALID' || r.event === 'ERROR') return undefined;
  const operation = aaOperation(r);
  const denied = r.event === 'DENIED';
  const ev = newEvent(
    operation,
    denied ? 'Block' : r.event === 'AUDIT' ? 'Audit' : 'Allow',
    denied ? errnoText(r.error_code !== undefined && r.error_code !== 0 ? r.error_code : 13) : 'Passed',
    'AppArmor',
    r.event === 'STATUS' ? 'SystemEvent' : 'MatchedHostPolicy',
  );
  setTime(ev, c, r.audit_id ?? c.auditId, r.epoch ?? c.epoch, r.audit_sub_id ?? c.serial);
  if (r.pid !== undefined && r.pid !== 0) ev.hostPID = r.pid;
  if (r.comm !== undefined) {
    ev.processName = r.comm;
    ev.process = { comm: r.comm };
  }
  applySyscall(ev, c);
  ev.source = ev.processName ?? r.profile;
  ev.lsm = {
    profile: r.profile,
    peerProfile: r.peer_profile ?? r.peer,
    aaEvent: r.event,
    aaOperation: r.operation,
    requestedMask: r.requested_mask,
    deniedMask: r.denied_mask,
  };

  const data: string[] = [];
  if (r.operation !== undefined) data.push(`operation=${r.operation}`);
  if (r.class !== undefined) data.push(`class=${r.class}`);
  if (r.requested_mask !== undefined) data.push(`requested=${r.requested_mask}`);
  if (r.denied_mask !== undefined) data.push(`denied=${r.denied_mask}`);
  if (r.info !== undefined) data.push(`info=${JSON.stringify(r.info)}`);
  if (ev.syscall !== undefined) data.unshift(`syscall=SYS_${ev.syscall.toUpperCase()}`);

  const access = maskAccess(r.requested_mask ?? r.denied_mask);
  switch (operation) {
    case 'Capabilities':
      if (r.name !== undefined) {
        ev.capability = r.name;
        ev.resource = `CAP_${r.name.toUpperCase()}`;
      }
      break;
    case 'Process': {
      if (r.name !== undefined) {
        const argv = c.syscall?.argv;
        ev.resource = argv && argv.length > 1 ? [r.name, ...argv.slice(1)].join(' ') : r.name;
        ev.file = { path: r.name, access: access.length ? access : ['exec'] };
        if (r.fsuid !== undefined) ev.file.fsuid = r.fsuid;
        if (r.ouid !== undefined) ev.file.ouid = r.ouid;
      }
      if (r.name2 !== undefined) data.push(`target=${r.name2}`);
      break;
    }
    case 'File': {
      const path = r.name ?? fileFromPaths(c.syscall);
      if (path !== undefined) {
        ev.resource = path;
        const file: FileDetail = { path, access };
        if (r.fsuid !== undefined) file.fsuid = r.fsuid;
        if (r.ouid !== undefined) file.ouid = r.ouid;
        if (c.syscall?.openFlags) file.flags = c.syscall.openFlags;
        ev.file = file;
      }
      if (r.name2 !== undefined) data.push(`target=${r.name2}`);
      break;
    }
    case 'Network': {
      const n: NetworkDetail = {};
      const dir = AA_DIRECTION[r.operation ?? ''] ?? (access.includes('send') ? 'send' : access.includes('receive') ? 'receive' : undefined);
      if (dir !== undefined) n.direction = dir;
      if (r.net_family !== undefined) n.family = r.net_family;
      if (r.net_sock_type !== undefined) n.sockType = r.net_sock_type;
      if (r.net_protocol !== undefined) n.protocol = r.net_protocol;
      if (r.net_local_addr !== undefined) n.localAddr = r.net_local_addr;
      if (r.net_local_port !== undefined) n.localPort = r.net_local_port;
      if (r.net_foreign_addr !== undefined) n.peerAddr = r.net_foreign_addr;
      if (r.net_foreign_port !== undefined) n.peerPort = r.net_foreign_port;
      if (r.net_addr !== undefined) n.unixPath = r.net_addr;
      if (r.peer_addr !== undefined) n.unixPath = r.peer_addr;
      addSockaddr(n, c.syscall);
      ev.network = n;
      ev.resource = networkResource(n);
      break;
    }
    case 'Syscall': {
      const res = r.name ?? r.name2 ?? r.peer ?? r.dbus_path ?? r.signal;
      if (res !== undefined) ev.resource = res;
      if (r.dbus_bus !== undefined) data.push(`bus=${r.dbus_bus}`);
      if (r.dbus_path !== undefined) data.push(`path=${r.dbus_path}`);
      if (r.dbus_interface !== undefined) data.push(`interface=${r.dbus_interface}`);
      if (r.dbus_member !== undefined) data.push(`member=${r.dbus_member}`);
      if (r.signal !== undefined) data.push(`signal=${r.signal}`);
      if (r.peer !== undefined) data.push(`peer=${r.peer}`);
      if (r.fs_type !== undefined) data.push(`fstype=${r.fs_type}`);
      if (r.flags !== undefined) data.push(`flags=${JSON.stringify(r.flags)}`);
      if (r.src_name !== undefined) data.push(`srcname=${r.src_name}`);
      if (r.execpath !== undefined) data.push(`execpath=${r.execpath}`);
      break;
    }
  }
  if (data.length) ev.data = data.join(' ');
  return ev;
}

function fileFromPaths(s: SyscallContext | undefined): string | undefined {
  if (!s) return undefined;
  const item = s.paths.find((p) => p.nametype !== 'PARENT') ?? s.paths[0];
  return item ? absolutePath(item.name, s.cwd) : undefined;
}

function addSockaddr(n: NetworkDetail, s: SyscallContext | undefined): void {
  const sa = s?.sockaddr;
  if (!sa) return;
  if (n.family === undefined) n.family = sa.family;
  const local = n.direction === 'bind' || s?.syscall === 'bind';
  if (sa.path !== undefined && n.unixPath === undefined) n.unixPath = sa.path;
  if (sa.addr !== undefined) {
    if (local) {
      if (n.localAddr === undefined) n.localAddr = sa.addr;
      if (n.localPort === undefined && sa.port !== undefined) n.localPort = sa.port;
    } else {
      if (n.peerAddr === undefined) n.peerAddr = sa.addr;
      if (n.peerPort === undefined && sa.port !== undefined) n.peerPort = sa.port;
    }
  }
}

function networkResource(n: NetworkDetail): string {
  const parts: string[] = [];
  if (n.family !== undefined) parts.push(`domain=${kaFamily(n.family)}`);
  if (n.sockType !== undefined) parts.push(`type=SOCK_${n.sockType.toUpperCase()}`);
  if (n.protocol !== undefined) parts.push(`protocol=${n.protocol.toUpperCase()}`);
  if (n.localAddr !== undefined) parts.push(`laddr=${n.localAddr}`);
  if (n.localPort !== undefined) parts.push(`lport=${n.localPort}`);
  if (n.peerAddr !== undefined) parts.push(`faddr=${n.peerAddr}`);
  if (n.peerPort !== undefined) parts.push(`fport=${n.peerPort}`);
  if (n.unixPath !== undefined) parts.push(`sun_path=${n.unixPath}`);
  return parts.join(' ');
}

const SELINUX_FILE_CLASSES = new Set(['file', 'dir', 'lnk_file', 'chr_file', 'blk_file', 'sock_file', 'fifo_file', 'filesystem', 'anon_inode', 'memfd_file']);
const SELINUX_CAP_CLASSES = new Set(['capability', 'capability2', 'cap_userns', 'cap2_userns']);

function selinuxOperation(r: SelinuxAvcRecord): HostOperation {
  const cls = r.tclass ?? '';
  if (SELINUX_CAP_CLASSES.has(cls)) return 'Capabilities';
  if (cls === 'file' && r.permissions.some((p) => p === 'execute' || p === 'execute_no_trans' || p === 'entrypoint')) return 'Process';
  if (cls === 'process' && r.permissions.includes('transition')) return 'Process';
  if (SELINUX_FILE_CLASSES.has(cls)) return 'File';
  if (cls.endsWith('_socket') || cls === 'node' || cls === 'netif' || cls === 'packet' || cls === 'peer' || cls === 'association') return 'Network';
  return 'Syscall';
}

const SELINUX_DIRECTION: Record<string, NetworkDetail['direction']> = {
  name_connect: 'connect',
  connectto: 'connect',
  connect: 'connect',
  name_bind: 'bind',
  node_bind: 'bind',
  bind: 'bind',
  listen: 'listen',
  accept: 'accept',
  sendto: 'send',
  send_msg: 'send',
  write: 'send',
  recvfrom: 'receive',
  recv_msg: 'receive',
  read: 'receive',
  create: 'socket',
};

const SELINUX_FILE_ACCESS: Record<string, string> = {
  read: 'read',
  write: 'write',
  append: 'append',
  execute: 'exec',
  execute_no_trans: 'exec',
  entrypoint: 'exec',
  open: 'open',
  create: 'create',
  unlink: 'delete',
  rmdir: 'delete',
  rename: 'rename',
  link: 'link',
  setattr: 'chmod',
  getattr: 'getattr',
  lock: 'lock',
  map: 'mmap',
  search: 'read',
  add_name: 'write',
  remove_name: 'write',
  ioctl: 'ioctl',
};

function contextText(ctx: { user: string; role: string; type: string; level?: string } | undefined): string | undefined {
  if (!ctx) return undefined;
  return ctx.level !== undefined ? `${ctx.user}:${ctx.role}:${ctx.type}:${ctx.level}` : `${ctx.user}:${ctx.role}:${ctx.type}`;
}

/** KubeArmor-style event for an SELinux AVC; undefined for other SELinux records and invalid AVCs. */
export function selinuxEvent(r: SelinuxRecord, c: EventContext): HostEvent | undefined {
  if ((r.kind !== 'AVC' && r.kind !== 'USER_AVC') || !r.valid) return undefined;
  const operation = selinuxOperation(r);
  const blocked = r.denied && r.permissive !== true;
  const ev = newEvent(operation, blocked ? 'Block' : r.denied ? 'Allow' : 'Audit', blocked ? 'Permission denied' : 'Passed', 'SELinux', 'MatchedHostPolicy');
  setTime(ev, c, r.audit_id ?? c.auditId, r.epoch ?? c.epoch, r.serial ?? c.serial, r.node ?? c.node);
  if (r.pid !== undefined) ev.hostPID = r.pid;
  const comm = r.comm;
  if (r.exe !== undefined) ev.processName = r.exe;
  else if (comm !== undefined) ev.processName = comm;
  if (comm !== undefined || r.exe !== undefined) {
    ev.process = {};
    if (comm !== undefined) ev.process.comm = comm;
    if (r.exe !== undefined) ev.process.exe = r.exe;
  }
  applySyscall(ev, c);
  ev.source = ev.processName;
  ev.lsm = {
    scontextType: r.scontext?.type,
    tcontextType: r.tcontext?.type,
    scontext: contextText(r.scontext),
    tcontext: contextText(r.tcontext),
    tclass: r.tclass,
    permissions: r.permissions,
    permissive: r.permissive,
  };

  const data = [`tclass=${r.tclass ?? ''}`, `permissions=${r.permissions.join(',')}`];
  if (r.ioctlcmd !== undefined) data.push(`ioctlcmd=0x${r.ioctlcmd.toString(16)}`);
  if (ev.syscall !== undefined) data.unshift(`syscall=SYS_${ev.syscall.toUpperCase()}`);
  const f = r.fields;
  switch (operation) {
    case 'Capabilities': {
      const cap = f['capability'] !== undefined ? capabilityName(Number(f['capability'])) : r.permissions[0];
      if (cap !== undefined) {
        ev.capability = cap;
        ev.resource = `CAP_${cap.toUpperCase()}`;
      }
      break;
    }
    case 'Process':
    case 'File': {
      // the AVC's name= is the last path component; PATH/AVC_PATH give the whole path
      const path = r.path ?? fileFromPaths(c.syscall) ?? r.name;
      if (path !== undefined) {
        ev.resource = operation === 'Process' && c.syscall?.argv && c.syscall.argv.length > 1 ? [path, ...c.syscall.argv.slice(1)].join(' ') : path;
        const access = [...new Set(r.permissions.map((p) => SELINUX_FILE_ACCESS[p] ?? p))];
        const file: FileDetail = { path, access };
        if (c.syscall?.openFlags) file.flags = c.syscall.openFlags;
        if (c.syscall?.fsuid !== undefined) file.fsuid = c.syscall.fsuid;
        const owner = c.syscall?.paths.find((p) => p.nametype !== 'PARENT')?.ouid;
        if (owner !== undefined) file.ouid = owner;
        ev.file = file;
      }
      break;
    }
    case 'Network': {
      const n: NetworkDetail = {};
      const dir = r.permissions.map((p) => SELINUX_DIRECTION[p]).find((d) => d !== undefined);
      if (dir !== undefined) n.direction = dir;
      const cls = r.tclass ?? '';
      if (cls === 'tcp_socket') n.protocol = 'tcp';
      else if (cls === 'udp_socket') n.protocol = 'udp';
      else if (cls === 'sctp_socket') n.protocol = 'sctp';
      else if (cls === 'icmp_socket') n.protocol = 'icmp';
      if (cls.startsWith('unix_')) n.family = 'unix';
      else if (cls.startsWith('netlink_')) n.family = 'netlink';
      const port = (k: string): number | undefined => (f[k] !== undefined && /^[0-9]{1,5}$/.test(f[k] ?? '') ? Number(f[k]) : undefined);
      const lport = port('lport') ?? (dir === 'bind' ? port('src') : undefined);
      const fport = port('fport') ?? port('dest');
      if (lport !== undefined) n.localPort = lport;
      if (fport !== undefined) n.peerPort = fport;
      if (f['laddr'] !== undefined) n.localAddr = f['laddr'];
      if (f['faddr'] !== undefined) n.peerAddr = f['faddr'];
      if (f['saddr'] !== undefined && n.localAddr === undefined) n.localAddr = f['saddr'];
      if (f['daddr'] !== undefined && n.peerAddr === undefined) n.peerAddr = f['daddr'];
      if (f['path'] !== undefined && n.family === 'unix') n.unixPath = f['path'];
      addSockaddr(n, c.syscall);
      ev.network = n;
      ev.resource = networkResource(n);
      break;
    }
    case 'Syscall': {
      const res = r.path ?? r.name ?? f['member'] ?? f['dest'];
      if (res !== undefined) ev.resource = res;
      for (const k of ['msgtype', 'interface', 'member', 'dest', 'sig']) {
        if (f[k] !== undefined) data.push(`${k}=${f[k]}`);
      }
      break;
    }
  }
  ev.data = data.join(' ');
  return ev;
}

const CAPABILITIES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
];

/** capability number -> name (CAP_NET_BIND_SERVICE -> net_bind_service) */
export function capabilityName(n: number): string | undefined {
  return Number.isInteger(n) ? CAPABILITIES[n] : undefined;
}

const NETWORK_SYSCALLS = new Set(['socket', 'connect', 'accept', 'accept4', 'bind', 'listen', 'sendto', 'sendmsg', 'recvfrom', 'recvmsg', 'send', 'recv']);
const PROCESS_SYSCALLS = new Set(['execve', 'execveat']);
const FILE_SYSCALL_ACCESS: Record<string, string[]> = {
  creat: ['write', 'create'],
  unlink: ['delete'],
  unlinkat: ['delete'],
  rmdir: ['delete'],
  rename: ['rename'],
  renameat: ['rename'],
  renameat2: ['rename'],
  mkdir: ['create'],
  mkdirat: ['create'],
  mknod: ['create'],
  mknodat: ['create'],
  chmod: ['chmod'],
  fchmod: ['chmod'],
  fchmodat: ['chmod'],
  chown: ['chown'],
  fchown: ['chown'],
  lchown: ['chown'],
  fchownat: ['chown'],
  chown32: ['chown'],
  truncate: ['write'],
  ftruncate: ['write'],
  link: ['link'],
  linkat: ['link'],
  symlink: ['link'],
  symlinkat: ['link'],
  access: ['access'],
  faccessat: ['access'],
  faccessat2: ['access'],
  setxattr: ['setattr'],
  utimensat: ['setattr'],
  openat2: ['open'],
  open_by_handle_at: ['open'],
  stat64: ['getattr'],
  lstat64: ['getattr'],
  stat: ['getattr'],
  lstat: ['getattr'],
  newfstatat: ['getattr'],
  readlink: ['read'],
  chdir: ['read'],
  chroot: ['read'],
};

const SOCK_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket', 6: 'dccp', 10: 'packet' };

function openAccess(flags: string[] | undefined): string[] {
  if (!flags) return ['open'];
  const out: string[] = [];
  if (flags.includes('O_RDONLY')) out.push('read');
  if (flags.includes('O_WRONLY')) out.push('write');
  if (flags.includes('O_RDWR')) out.push('read', 'write');
  if (flags.includes('O_APPEND')) out.push('append');
  if (flags.includes('O_CREAT')) out.push('create');
  if (flags.includes('O_TRUNC') && !out.includes('write')) out.push('write');
  return out;
}

/** KubeArmor-style event for a Linux-audit syscall event (SYSCALL + EXECVE/CWD/PATH/SOCKADDR/PROCTITLE). */
export function syscallEvent(s: SyscallContext, c: EventContext): HostEvent | undefined {
  if (s.syscall === undefined && s.syscallNumber === undefined) return undefined;
  const name = s.syscall ?? `syscall_${s.syscallNumber ?? 'unknown'}`;
  const operation: HostOperation = PROCESS_SYSCALLS.has(name)
    ? 'Process'
    : NETWORK_SYSCALLS.has(name)
      ? 'Network'
      : name === 'open' || name === 'openat' || FILE_SYSCALL_ACCESS[name] !== undefined
        ? 'File'
        : 'Syscall';
  const ok = s.success !== false;
  const ev = newEvent(operation, 'Allow', ok ? 'Passed' : errnoText(Math.abs(s.exit ?? 0) || 1), 'Linux-audit', 'HostLog');
  setTime(ev, c);
  if (s.pid !== undefined) ev.hostPID = s.pid;
  if (s.comm !== undefined) ev.processName = s.comm;
  applySyscall(ev, { ...c, syscall: s });
  ev.syscall = name;
  const data = [`syscall=SYS_${name.toUpperCase()}`];
  switch (operation) {
    case 'Process': {
      const exec = s.paths.find((p) => p.item === 0) ?? s.paths[0];
      const path = exec ? absolutePath(exec.name, s.cwd) : s.exe;
      const argv = s.argv ?? s.proctitle;
      if (path !== undefined) {
        ev.resource = argv && argv.length > 1 ? [path, ...argv.slice(1)].join(' ') : path;
        ev.file = { path, access: ['exec'] };
        if (exec?.ouid !== undefined) ev.file.ouid = exec.ouid;
        if (s.fsuid !== undefined) ev.file.fsuid = s.fsuid;
      }
      ev.source = ev.parentProcessName ?? ev.processName;
      break;
    }
    case 'File': {
      ev.source = ev.processName;
      const items = s.paths.filter((p) => p.nametype !== 'PARENT');
      const item = items[0] ?? s.paths[0];
      if (item) {
        const path = absolutePath(item.name, s.cwd);
        ev.resource = path;
        const access = name === 'open' || name === 'openat' ? openAccess(s.openFlags) : (FILE_SYSCALL_ACCESS[name] ?? []);
        const file: FileDetail = { path, access };
        if (s.openFlags) file.flags = s.openFlags;
        if (s.fsuid !== undefined) file.fsuid = s.fsuid;
        if (item.ouid !== undefined) file.ouid = item.ouid;
        ev.file = file;
        const second = items[1];
        if (second && (name.startsWith('rename') || name.startsWith('link') || name.startsWith('symlink'))) {
          data.push(`target=${absolutePath(second.name, s.cwd)}`);
        }
      }
      if (name === 'openat') {
        // dirfd is an int: a0=ffffff9c is AT_FDCWD (-100)
        const fd = BigInt.asIntN(32, BigInt('0x' + (/^[0-9a-fA-F]{1,16}$/.test(s.args[0] ?? '') ? s.args[0] : '0')));
        data.push(`fd=${fd}`);
      }
      if (s.openFlags) data.push(`flags=${s.openFlags.join('|')}`);
      break;
    }
    case 'Network': {
      ev.source = ev.processName;
      const n: NetworkDetail = {};
      const dir: Record<string, NetworkDetail['direction']> = {
        connect: 'connect',
        accept: 'accept',
        accept4: 'accept',
        bind: 'bind',
        listen: 'listen',
        sendto: 'send',
        sendmsg: 'send',
        send: 'send',
        recvfrom: 'receive',
        recvmsg: 'receive',
        recv: 'receive',
        socket: 'socket',
      };
      const d = dir[name];
      if (d !== undefined) n.direction = d;
      if (name === 'socket') {
        const fam = parseInt(s.args[0] ?? '', 16);
        const type = parseInt(s.args[1] ?? '', 16);
        const proto = parseInt(s.args[2] ?? '', 16);
        if (Number.isFinite(fam)) n.family = familyName(fam);
        if (Number.isFinite(type)) n.sockType = SOCK_TYPES[type & 0xf] ?? String(type & 0xf);
        if (Number.isFinite(proto) && proto !== 0) n.protocol = String(proto);
        ev.resource = `domain=${kaFamily(n.family)} type=SOCK_${(n.sockType ?? 'unknown').toUpperCase()} protocol=${Number.isFinite(proto) ? proto : 0}`;
      } else {
        addSockaddr(n, s);
        ev.resource = sockaddrResource(s);
        const fd = parseInt(s.args[0] ?? '', 16);
        if (Number.isFinite(fd)) data.push(`fd=${fd}`);
      }
      ev.network = n;
      break;
    }
    default:
      ev.source = ev.processName;
      break;
  }
  if (s.key !== undefined) data.push(`key=${s.key}`);
  ev.data = data.join(' ');
  return ev;
}

/** KubeArmor's resource text for socket addresses: sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10 */
function sockaddrResource(s: SyscallContext): string | undefined {
  const sa = s.sockaddr;
  if (!sa) return undefined;
  const fam = kaFamily(sa.family);
  if (sa.familyNumber === 2) return `sa_family=${fam} sin_port=${sa.port ?? 0} sin_addr=${sa.addr ?? ''}`;
  if (sa.familyNumber === 10) return `sa_family=${fam} sin6_port=${sa.port ?? 0} sin6_addr=${sa.addr ?? ''}`;
  if (sa.familyNumber === 1) return `sa_family=${fam} sun_path=${sa.path ?? ''}`;
  if (sa.familyNumber === 16) return `sa_family=${fam} nl_pid=${sa.netlinkPid ?? 0}`;
  return `sa_family=${fam}`;
}
