// Syscall numbers of the calls host policies and discovery care about, per audit arch
// (AUDIT_ARCH_* as printed in SYSCALL records). Others stay as numbers.
const X86_64: Record<number, string> = {
  0: 'read', 1: 'write', 2: 'open', 4: 'stat', 6: 'lstat', 9: 'mmap', 16: 'ioctl', 21: 'access', 41: 'socket', 42: 'connect',
  43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg', 49: 'bind', 50: 'listen', 56: 'clone',
  57: 'fork', 58: 'vfork', 59: 'execve', 62: 'kill', 76: 'truncate', 77: 'ftruncate', 80: 'chdir', 82: 'rename', 83: 'mkdir',
  84: 'rmdir', 85: 'creat', 86: 'link', 87: 'unlink', 88: 'symlink', 89: 'readlink', 90: 'chmod', 91: 'fchmod', 92: 'chown',
  93: 'fchown', 94: 'lchown', 101: 'ptrace', 105: 'setuid', 106: 'setgid', 113: 'setreuid', 114: 'setregid',
  117: 'setresuid', 119: 'setresgid', 126: 'capset', 133: 'mknod', 155: 'pivot_root', 161: 'chroot', 165: 'mount',
  166: 'umount2', 175: 'init_module', 176: 'delete_module', 188: 'setxattr', 257: 'openat', 258: 'mkdirat', 259: 'mknodat',
  260: 'fchownat', 263: 'unlinkat', 264: 'renameat', 265: 'linkat', 266: 'symlinkat', 268: 'fchmodat', 269: 'faccessat',
  272: 'unshare', 280: 'utimensat', 288: 'accept4', 303: 'name_to_handle_at', 304: 'open_by_handle_at', 308: 'setns',
  313: 'finit_module', 316: 'renameat2', 319: 'memfd_create', 321: 'bpf', 322: 'execveat', 425: 'io_uring_setup',
  435: 'clone3', 437: 'openat2', 439: 'faccessat2',
};

// the asm-generic table (aarch64, riscv64, loongarch64)
const GENERIC: Record<number, string> = {
  5: 'setxattr', 17: 'getcwd', 29: 'ioctl', 33: 'mknodat', 34: 'mkdirat', 35: 'unlinkat', 36: 'symlinkat', 37: 'linkat', 38: 'renameat',
  39: 'umount2', 40: 'mount', 41: 'pivot_root', 45: 'truncate', 46: 'ftruncate', 48: 'faccessat', 49: 'chdir', 51: 'chroot',
  52: 'fchmod', 53: 'fchmodat', 54: 'fchownat', 55: 'fchown', 56: 'openat', 63: 'read', 64: 'write', 79: 'newfstatat',
  91: 'capset', 97: 'unshare', 105: 'init_module', 106: 'delete_module', 117: 'ptrace', 129: 'kill', 143: 'setregid',
  144: 'setgid', 145: 'setreuid', 146: 'setuid', 147: 'setresuid', 149: 'setresgid', 198: 'socket', 200: 'bind',
  201: 'listen', 202: 'accept', 203: 'connect', 206: 'sendto', 207: 'recvfrom', 211: 'sendmsg', 212: 'recvmsg',
  220: 'clone', 221: 'execve', 222: 'mmap', 242: 'accept4', 264: 'name_to_handle_at', 265: 'open_by_handle_at',
  268: 'setns', 273: 'finit_module', 276: 'renameat2', 279: 'memfd_create', 280: 'bpf', 281: 'execveat',
  425: 'io_uring_setup', 435: 'clone3', 437: 'openat2', 439: 'faccessat2',
};

const I386: Record<number, string> = {
  3: 'read', 4: 'write', 5: 'open', 8: 'creat', 9: 'link', 10: 'unlink', 11: 'execve', 12: 'chdir', 14: 'mknod', 15: 'chmod',
  16: 'lchown', 21: 'mount', 23: 'setuid', 26: 'ptrace', 33: 'access', 37: 'kill', 38: 'rename', 39: 'mkdir', 40: 'rmdir',
  46: 'setgid', 52: 'umount2', 54: 'ioctl', 61: 'chroot', 83: 'symlink', 85: 'readlink', 92: 'truncate', 102: 'socketcall',
  120: 'clone', 128: 'init_module', 129: 'delete_module', 182: 'chown', 190: 'vfork', 192: 'mmap2', 195: 'stat64',
  196: 'lstat64', 212: 'chown32', 213: 'setuid32', 214: 'setgid32', 295: 'openat', 296: 'mkdirat', 297: 'mknodat',
  298: 'fchownat', 301: 'unlinkat', 302: 'renameat', 303: 'linkat', 304: 'symlinkat', 306: 'fchmodat', 307: 'faccessat',
  358: 'execveat', 359: 'socket', 361: 'bind', 362: 'connect', 363: 'listen', 364: 'accept4', 369: 'sendto', 371: 'recvfrom',
  370: 'sendmsg', 372: 'recvmsg', 437: 'openat2',
};

// i386 socketcall(2) multiplexes the socket calls; a0 says which one
const SOCKETCALL: Record<number, string> = {
  1: 'socket', 2: 'bind', 3: 'connect', 4: 'listen', 5: 'accept', 9: 'send', 10: 'recv', 11: 'sendto', 12: 'recvfrom',
  16: 'sendmsg', 17: 'recvmsg', 18: 'accept4',
};

const ARCH_TABLES: Record<string, Record<number, string>> = {
  c000003e: X86_64,
  c00000b7: GENERIC,
  c00000f3: GENERIC,
  c0000102: GENERIC,
  '40000003': I386,
};

/** Name of syscall `nr` on audit arch `arch` (hex as in SYSCALL records); undefined when not known. */
export function syscallName(arch: string | undefined, nr: number, a0?: string): string | undefined {
  const table = arch !== undefined ? ARCH_TABLES[arch.toLowerCase()] : X86_64;
  const name = table?.[nr];
  if (name === 'socketcall' && a0 !== undefined) return SOCKETCALL[parseInt(a0, 16)] ?? name;
  return name;
}

/** Which register holds open(2)-style flags for this call, and which holds the dirfd. */
export function openFlagsArg(name: string): number | undefined {
  switch (name) {
    case 'open':
      return 1;
    case 'openat':
    case 'open_by_handle_at':
      return 2;
    default:
      return undefined;
  }
}

// O_* values shared by x86_64, i386, aarch64 and riscv (asm-generic fcntl), except where noted.
const O_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];
const X86_DIR_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o40000, 'O_DIRECT'],
  [0o1000000, 'O_NOATIME'],
];
const ARM_DIR_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0o40000, 'O_DIRECTORY'],
  [0o100000, 'O_NOFOLLOW'],
  [0o200000, 'O_DIRECT'],
  [0o1000000, 'O_NOATIME'],
];

/** open(2) flags (hex register value) as names: O_RDONLY|O_CLOEXEC … */
export function openFlagNames(arch: string | undefined, hex: string): string[] | undefined {
  if (hex.length === 0 || hex.length > 16) return undefined;
  // the low 32 bits are the flags (the register may carry a sign-extended int)
  const v = parseInt(hex.length > 8 ? hex.slice(-8) : hex, 16);
  if (!Number.isFinite(v) || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const names: string[] = [];
  const acc = v & 3;
  names.push(acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : acc === 2 ? 'O_RDWR' : 'O_ACCMODE');
  const arm = arch !== undefined && ARCH_TABLES[arch.toLowerCase()] === GENERIC;
  for (const [bit, name] of [...O_FLAGS, ...(arm ? ARM_DIR_FLAGS : X86_DIR_FLAGS)]) {
    if ((v & bit) !== 0) names.push(name);
  }
  return names;
}

const ERRNO: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  6: 'No such device or address',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  18: 'Invalid cross-device link',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  24: 'Too many open files',
  25: 'Inappropriate ioctl for device',
  26: 'Text file busy',
  28: 'No space left on device',
  30: 'Read-only file system',
  32: 'Broken pipe',
  36: 'File name too long',
  38: 'Function not implemented',
  39: 'Directory not empty',
  40: 'Too many levels of symbolic links',
  95: 'Operation not supported',
  97: 'Address family not supported by protocol',
  98: 'Address already in use',
  99: 'Cannot assign requested address',
  101: 'Network is unreachable',
  103: 'Software caused connection abort',
  104: 'Connection reset by peer',
  106: 'Transport endpoint is already connected',
  107: 'Transport endpoint is not connected',
  110: 'Connection timed out',
  111: 'Connection refused',
  113: 'No route to host',
  115: 'Operation now in progress',
};

/** strerror() text for an errno (positive); "errno N" when not in the table. */
export function errnoText(n: number): string {
  return ERRNO[n] ?? `errno ${n}`;
}
