import { decodeSockAddr, type SockAddr } from './sockaddr.js';
import { openFlagNames, openFlagsArg, syscallName } from './syscalls.js';
import type { AuditRecord } from './types.js';

const INTEGER = /^-?[0-9]{1,19}$/;
const EXECVE_ARG = /^a([0-9]{1,6})(?:\[([0-9]{1,6})\])?$/;

export interface PathItem {
  item: number;
  name: string;
  nametype?: string;
  ouid?: number;
  mode?: string;
}

/** What the records of one Linux-audit event say about the syscall that produced it. */
export interface SyscallContext {
  syscall?: string;
  syscallNumber?: number;
  arch?: string;
  success?: boolean;
  exit?: number;
  args: string[];
  pid?: number;
  ppid?: number;
  uid?: number;
  auid?: number;
  euid?: number;
  fsuid?: number;
  comm?: string;
  exe?: string;
  key?: string;
  cwd?: string;
  argv?: string[];
  proctitle?: string[];
  paths: PathItem[];
  sockaddr?: SockAddr;
  openFlags?: string[];
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || !INTEGER.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

// uid fields hold 4294967295 for "unset" (e.g. auid of daemons)
function uid(v: string | undefined): number | undefined {
  const n = int(v);
  return n === undefined || n === 4294967295 ? undefined : n;
}

/** EXECVE records: argc and a0…, long arguments split into aN[0], aN[1], … (maybe over several records). */
function execveArgv(records: readonly AuditRecord[]): string[] | undefined {
  let argc: number | undefined;
  const args = new Map<number, string>();
  const chunks = new Map<number, string[]>();
  for (const r of records) {
    if (r.type !== 'EXECVE') continue;
    for (const key in r.fields) {
      const v = r.fields[key] ?? '';
      if (key === 'argc') {
        argc = int(v);
        continue;
      }
      const m = EXECVE_ARG.exec(key);
      if (!m) continue;
      const n = Number(m[1]);
      if (n > 65535) continue; // more than the kernel's MAX_ARG_STRINGS could log in one event
      if (m[2] === undefined) args.set(n, v);
      else {
        const list = chunks.get(n) ?? [];
        const chunk = Number(m[2]);
        if (chunk > 65535) continue;
        list[chunk] = v;
        chunks.set(n, list);
      }
    }
  }
  for (const [n, list] of chunks) args.set(n, list.join(''));
  if (args.size === 0) return undefined;
  let highest = 0;
  for (const k of args.keys()) if (k > highest) highest = k;
  // argc can claim more than the records carried (or anything, in a forged line): stop at the last argument seen
  const count = Math.min(argc ?? highest + 1, highest + 1);
  const out: string[] = [];
  for (let k = 0; k < count; k++) out.push(args.get(k) ?? '');
  return out;
}

/** Collects SYSCALL, EXECVE, CWD, PATH, SOCKADDR and PROCTITLE of one event. */
export function syscallContext(records: readonly AuditRecord[]): SyscallContext {
  // every member present: one shape for all contexts
  const ctx: SyscallContext = {
    syscall: undefined,
    syscallNumber: undefined,
    arch: undefined,
    success: undefined,
    exit: undefined,
    args: [],
    pid: undefined,
    ppid: undefined,
    uid: undefined,
    auid: undefined,
    euid: undefined,
    fsuid: undefined,
    comm: undefined,
    exe: undefined,
    key: undefined,
    cwd: undefined,
    argv: undefined,
    proctitle: undefined,
    paths: [],
    sockaddr: undefined,
    openFlags: undefined,
  };
  for (const r of records) {
    const f = r.fields;
    switch (r.type) {
      case 'SYSCALL': {
        ctx.arch = f['arch'];
        const nr = int(f['syscall']);
        if (nr !== undefined) {
          ctx.syscallNumber = nr;
          const name = syscallName(ctx.arch, nr, f['a0']);
          if (name !== undefined) ctx.syscall = name;
        } else if (f['syscall'] !== undefined && /^[a-z_0-9]+$/.test(f['syscall'])) {
          ctx.syscall = f['syscall'];
        }
        // log_format=ENRICHED adds the name after 0x1d
        if (ctx.syscall === undefined && f['SYSCALL'] !== undefined) ctx.syscall = f['SYSCALL'];
        if (f['success'] !== undefined) ctx.success = f['success'] === 'yes';
        const exit = int(f['exit']);
        if (exit !== undefined) ctx.exit = exit;
        ctx.args = [f['a0'] ?? '', f['a1'] ?? '', f['a2'] ?? '', f['a3'] ?? ''];
        const pid = int(f['pid']);
        if (pid !== undefined) ctx.pid = pid;
        const ppid = int(f['ppid']);
        if (ppid !== undefined) ctx.ppid = ppid;
        const u = uid(f['uid']);
        if (u !== undefined) ctx.uid = u;
        const au = uid(f['auid']);
        if (au !== undefined) ctx.auid = au;
        const eu = uid(f['euid']);
        if (eu !== undefined) ctx.euid = eu;
        const fu = uid(f['fsuid']);
        if (fu !== undefined) ctx.fsuid = fu;
        if (f['comm'] !== undefined) ctx.comm = f['comm'];
        if (f['exe'] !== undefined) ctx.exe = f['exe'];
        if (f['key'] !== undefined && f['key'] !== '(null)') ctx.key = f['key'];
        break;
      }
      case 'CWD':
        if (f['cwd'] !== undefined) ctx.cwd = f['cwd'];
        break;
      case 'PATH': {
        const name = f['name'];
        if (name === undefined || name === '(null)') break;
        const item: PathItem = { item: int(f['item']) ?? ctx.paths.length, name };
        if (f['nametype'] !== undefined) item.nametype = f['nametype'];
        const ouid = uid(f['ouid']);
        if (ouid !== undefined) item.ouid = ouid;
        if (f['mode'] !== undefined) item.mode = f['mode'];
        ctx.paths.push(item);
        break;
      }
      case 'SOCKADDR': {
        const sa = f['saddr'] !== undefined ? decodeSockAddr(f['saddr']) : undefined;
        if (sa) ctx.sockaddr = sa;
        break;
      }
      case 'PROCTITLE': {
        const t = f['proctitle'];
        if (t !== undefined && t !== '(null)') ctx.proctitle = t.split('\0').filter((a, k, all) => a !== '' || k < all.length - 1);
        break;
      }
    }
  }
  const argv = execveArgv(records);
  if (argv) ctx.argv = argv;
  if (ctx.syscall !== undefined) {
    const flagsArg = openFlagsArg(ctx.syscall);
    if (flagsArg !== undefined) {
      const names = openFlagNames(ctx.arch, ctx.args[flagsArg] ?? '');
      if (names) ctx.openFlags = names;
    }
  }
  ctx.paths.sort((a, b) => a.item - b.item);
  return ctx;
}

/** A PATH name made absolute against the event's cwd. */
export function absolutePath(name: string, cwd: string | undefined): string {
  if (name.startsWith('/') || cwd === undefined || cwd === '') return name;
  const base = cwd.endsWith('/') ? cwd : cwd + '/';
  return name.startsWith('./') ? base + name.slice(2) : base + name;
}
