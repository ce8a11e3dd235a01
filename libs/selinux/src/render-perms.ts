/**
 * The SELinux vocabulary the renderer uses: object classes, permission groups, socket classes per
 * KubeArmor protocol, capability classes, and the refpolicy names the module depends on. Every
 * name here exists in Debian's refpolicy (selinux-policy-default 2:2.20221101) and in the RHEL/Fedora
 * targeted policy; newer classes and permissions (watch*, perfmon, bpf, io_uring, user_namespace)
 * are left out so the module also links against older policies (a reference to an unknown class or
 * permission fails the whole link).
 */
import type { Capability, NetworkProtocol } from '@kvmservice/resources';

/** Classes of the file system objects a `filecon` with file type `any` labels. */
export const FILE_CLASSES = ['file', 'dir', 'lnk_file', 'chr_file', 'blk_file', 'sock_file', 'fifo_file'] as const;
export type FileClass = (typeof FILE_CLASSES)[number];

/**
 * What a rule decides about, per object: reading (incl. listing a directory and mapping), writing
 * (incl. create, delete, rename, link, setattr) and executing. Stat and path traversal are never
 * mediated (AppArmor does not mediate them either): they are the `meta` group every subject keeps.
 */
export type AccessGroup = 'read' | 'write' | 'exec';
export const ACCESS_GROUPS: readonly AccessGroup[] = ['read', 'write', 'exec'];

type PermTable = Record<FileClass, readonly string[]>;

const READ_COMMON = ['open', 'read', 'getattr', 'ioctl', 'lock'];
const WRITE_COMMON = ['write', 'append', 'create', 'setattr', 'unlink', 'link', 'rename'];

export const GROUP_PERMS: Record<AccessGroup | 'meta' | 'relabel', PermTable> = {
  read: {
    file: [...READ_COMMON, 'map'],
    dir: [...READ_COMMON, 'search'],
    lnk_file: ['read', 'getattr'],
    chr_file: [...READ_COMMON, 'map'],
    blk_file: [...READ_COMMON, 'map'],
    sock_file: ['open', 'read', 'getattr'],
    fifo_file: READ_COMMON,
  },
  write: {
    file: WRITE_COMMON,
    dir: ['write', 'add_name', 'remove_name', 'create', 'setattr', 'rmdir', 'reparent', 'link', 'rename', 'unlink'],
    lnk_file: ['create', 'write', 'setattr', 'unlink', 'link', 'rename'],
    chr_file: WRITE_COMMON,
    blk_file: WRITE_COMMON,
    sock_file: WRITE_COMMON,
    fifo_file: WRITE_COMMON,
  },
  // Executing also needs read/open/map on the file (the kernel opens it for reading); those are in
  // `read`, so a process Block (no `exec`) still lets the binary be read, as upstream's `deny P x`.
  exec: { file: ['execute', 'execute_no_trans'], dir: [], lnk_file: [], chr_file: [], blk_file: [], sock_file: [], fifo_file: [] },
  meta: {
    file: ['getattr'],
    dir: ['getattr', 'search'],
    lnk_file: ['getattr', 'read'],
    chr_file: ['getattr'],
    blk_file: ['getattr'],
    sock_file: ['getattr'],
    fifo_file: ['getattr'],
  },
  relabel: {
    file: ['relabelfrom', 'relabelto'],
    dir: ['relabelfrom', 'relabelto'],
    lnk_file: ['relabelfrom', 'relabelto'],
    chr_file: ['relabelfrom', 'relabelto'],
    blk_file: ['relabelfrom', 'relabelto'],
    sock_file: ['relabelfrom', 'relabelto'],
    fifo_file: ['relabelfrom', 'relabelto'],
  },
};

/** Permissions common to every socket class (refpolicy `common socket`, without relabel and map). */
export const SOCKET_PERMS = [
  'ioctl', 'read', 'write', 'create', 'getattr', 'setattr', 'lock', 'append', 'bind', 'connect', 'listen', 'accept',
  'getopt', 'setopt', 'shutdown', 'recvfrom', 'sendto', 'name_bind',
] as const;

/** Extra permissions of a socket class on itself. */
export const SOCKET_EXTRA_SELF: Record<string, readonly string[]> = {
  tcp_socket: ['node_bind', 'name_connect'],
  udp_socket: ['node_bind'],
  rawip_socket: ['node_bind'],
  icmp_socket: ['node_bind'],
  sctp_socket: ['node_bind', 'name_connect', 'association'],
  dccp_socket: ['node_bind', 'name_connect'],
  unix_stream_socket: ['connectto'],
};

/** Socket classes whose ports and nodes are typed (`port_type`, `node_type`). */
export const PORT_CLASSES: Record<string, { port: readonly string[]; node: readonly string[] }> = {
  tcp_socket: { port: ['name_bind', 'name_connect'], node: ['node_bind'] },
  udp_socket: { port: ['name_bind'], node: ['node_bind'] },
  sctp_socket: { port: ['name_bind', 'name_connect'], node: ['node_bind'] },
  dccp_socket: { port: ['name_bind', 'name_connect'], node: ['node_bind'] },
  rawip_socket: { port: [], node: ['node_bind'] },
  icmp_socket: { port: [], node: ['node_bind'] },
};

/**
 * Socket classes per KubeArmor protocol. SELinux classes sockets by family and type, not by IP
 * protocol, so: ICMP over a raw socket is `rawip_socket` (shared with `raw`), ICMP "ping sockets"
 * are `icmp_socket` (IPv4 and IPv6); `stream`/`dgram`/`seqpacket` mean every family of that type,
 * including Unix sockets; `rdm` is TIPC and RDS.
 */
export const PROTOCOL_CLASSES: Record<NetworkProtocol, readonly string[]> = {
  tcp: ['tcp_socket'],
  udp: ['udp_socket'],
  raw: ['rawip_socket'],
  icmp: ['icmp_socket', 'rawip_socket'],
  icmpv6: ['icmp_socket', 'rawip_socket'],
  sctp: ['sctp_socket'],
  dccp: ['dccp_socket'],
  packet: ['packet_socket'],
  stream: ['tcp_socket', 'sctp_socket', 'unix_stream_socket'],
  dgram: ['udp_socket', 'icmp_socket', 'unix_dgram_socket'],
  seqpacket: ['sctp_socket', 'unix_stream_socket'],
  rdm: ['tipc_socket', 'rds_socket'],
  all: [], // filled below: every socket class
};

/** Every socket class a fromSource domain may use when no rule says otherwise. */
export const ALL_SOCKET_CLASSES = [
  'socket', 'tcp_socket', 'udp_socket', 'rawip_socket', 'icmp_socket', 'sctp_socket', 'dccp_socket', 'packet_socket',
  'unix_stream_socket', 'unix_dgram_socket', 'key_socket', 'tun_socket', 'alg_socket', 'vsock_socket', 'tipc_socket',
  'rds_socket', 'netlink_socket', 'netlink_route_socket', 'netlink_tcpdiag_socket', 'netlink_nflog_socket',
  'netlink_xfrm_socket', 'netlink_selinux_socket', 'netlink_audit_socket', 'netlink_kobject_uevent_socket',
  'netlink_generic_socket', 'netlink_netfilter_socket',
] as const;
PROTOCOL_CLASSES.all = ALL_SOCKET_CLASSES;

/**
 * The classes a network default posture governs: the IP families KubeArmor's protocols name. Unix
 * and netlink sockets are only affected by rules that name them (`stream`, `dgram`, `seqpacket`,
 * `all`), so an allow-list of `tcp` does not cut a program off from syslog or the name service.
 */
export const POSTURE_SOCKET_CLASSES = ['tcp_socket', 'udp_socket', 'rawip_socket', 'icmp_socket', 'sctp_socket', 'dccp_socket', 'packet_socket'] as const;

/** Capabilities of class `capability2` (everything else is `capability`). */
export const CAPABILITY2 = new Set<Capability>(['mac_override', 'mac_admin']);

/** Capabilities a fromSource domain gets when no capability rule names it (`sys_module` and `mac_override` are refpolicy neverallows). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod',
  'lease', 'audit_write', 'audit_control', 'setfcap',
];
export const DEFAULT_CAPABILITIES2: readonly string[] = ['mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read'];

/** Process permissions a domain has on itself (no transition, dyntransition, setcurrent, ptrace, execheap). */
export const SELF_PROCESS_PERMS = [
  'fork', 'sigchld', 'sigkill', 'sigstop', 'signull', 'signal', 'getsched', 'setsched', 'getsession', 'getpgid', 'setpgid',
  'getcap', 'setcap', 'share', 'getattr', 'setexec', 'setfscreate', 'noatsecure', 'siginh', 'setrlimit', 'rlimitinh',
  'execmem', 'execstack', 'setkeycreate', 'setsockcreate', 'getrlimit',
] as const;

/**
 * Refpolicy names the module relies on (documented in docs/selinux.md):
 * - `files_unconfined_type`: domains with blanket access to every `file_type` (unconfined_t, init_t,
 *   initrc_t, dpkg/rpm, unconfined_service_t on RHEL). They are "everyone" for rules without
 *   fromSource and the domains a fromSource binary transitions from.
 * - `file_type`, `domain`, `device_node`, `port_type`, `node_type`, `filesystem_type`: the usual attributes.
 * - `setfiles_t`: restorecon/setfiles, which must relabel files to and from our types.
 */
export const REF = {
  everyone: 'files_unconfined_type',
  fileType: 'file_type',
  domain: 'domain',
  deviceNode: 'device_node',
  portType: 'port_type',
  nodeType: 'node_type',
  filesystemType: 'filesystem_type',
  setfiles: 'setfiles_t',
  roles: ['system_r', 'unconfined_r'],
  loadKernelModule: 'can_load_kernmodule',
  /** Where files of a type may live (refpolicy `files_type`). */
  associate: ['fs_t', 'noxattrfs', 'tmpfs_t', 'ramfs_t', 'hugetlbfs_t'],
} as const;

/**
 * Types a fromSource domain never gets through its default ("everything not blocked") access,
 * because refpolicy forbids it with neverallow rules: /etc/shadow, kernel memory and raw disks.
 * A rule naming such a path still works: the path then carries a type of ours.
 */
export const NEVERALLOW_FILE_TYPES = ['shadow_t', 'proc_kcore_t', 'proc_kmsg_t'] as const;
export const NEVERALLOW_DEVICE_TYPES = ['memory_device_t', 'fixed_disk_device_t', 'scsi_generic_device_t'] as const;

/**
 * What any program needs to start and talk to its terminal, granted to a fromSource domain even when
 * its file posture is an allow-list (AppArmor's `abstractions/base` plays this role upstream).
 */
export const RUNTIME_READ_EXEC_TYPES = ['ld_so_t', 'lib_t', 'textrel_shlib_t'] as const;
export const RUNTIME_READ_TYPES = ['ld_so_cache_t', 'locale_t', 'proc_t', 'sysfs_t', 'sysctl_t'] as const;
export const RUNTIME_DEVICE_TYPES = [
  'null_device_t', 'zero_device_t', 'random_device_t', 'urandom_device_t', 'devtty_t', 'ptmx_t', 'devpts_t',
  'user_devpts_t', 'user_tty_device_t', 'tty_device_t', 'console_device_t',
] as const;
