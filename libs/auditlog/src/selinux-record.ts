import { parseFields } from './fields.js';
import type { FramedLine } from './framing.js';
import type {
  SecurityContext,
  SelinuxAvcRecord,
  SelinuxComputeSidRecord,
  SelinuxOtherRecord,
  SelinuxPathRecord,
  SelinuxRecord,
} from './types.js';

/** user:role:type[:level], the level (an MLS range may contain ':') kept whole; as sepolgen. */
export function parseSecurityContext(text: string): SecurityContext | undefined {
  if (typeof text !== 'string') return undefined;
  const a = text.indexOf(':');
  if (a < 0) return undefined;
  const b = text.indexOf(':', a + 1);
  if (b < 0) return undefined;
  const c = text.indexOf(':', b + 1);
  const ctx: SecurityContext = {
    user: text.slice(0, a),
    role: text.slice(a + 1, b),
    type: c < 0 ? text.slice(b + 1) : text.slice(b + 1, c),
  };
  if (c >= 0) ctx.level = text.slice(c + 1);
  return ctx;
}

/** sepolgen: int(value, 16), None when that fails */
function parseIoctlCmd(v: string): number | undefined {
  const m = /^[ \t]*([+-]?)(?:0[xX])?([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)[ \t]*$/.exec(v);
  if (!m) return undefined;
  const n = parseInt((m[2] ?? '').replace(/_/g, ''), 16);
  return m[1] === '-' ? -n : n;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 0x1d || c === 10 || c === 13;
}

/** Reads `avc:  denied|granted  { perm … } for  key=value …` starting at `at` (just after `avc:`). */
function readAvc(text: string, at: number, end: number, kind: 'AVC' | 'USER_AVC', header: FramedLine): SelinuxAvcRecord {
  // every member present: one shape for all AVC records
  const rec: SelinuxAvcRecord = {
    kind,
    valid: false,
    denied: true,
    permissions: [],
    scontext: undefined,
    tcontext: undefined,
    tclass: undefined,
    permissive: undefined,
    ioctlcmd: undefined,
    pid: undefined,
    comm: undefined,
    exe: undefined,
    name: undefined,
    path: undefined,
    fields: {},
    audit_id: undefined,
    epoch: undefined,
    serial: undefined,
    node: undefined,
  };
  let i = at;
  const word = (): string => {
    while (i < end && isWs(text.charCodeAt(i))) i++;
    const s = i;
    while (i < end && !isWs(text.charCodeAt(i))) i++;
    return text.slice(s, i);
  };
  let foundAccess = false;
  let fieldsFrom = i;
  // words until the permission set: "denied", "granted", "{"
  for (let guard = 0; guard < 8 && i < end; guard++) {
    const save = i;
    const w = word();
    if (w === 'granted') rec.denied = false;
    else if (w === 'denied') rec.denied = true;
    else if (w === '{') {
      const perms: string[] = [];
      let closed = false;
      while (i < end) {
        const p = word();
        if (p === '') break;
        if (p === '}') {
          closed = true;
          break;
        }
        perms.push(p);
      }
      // sepolgen needs a closing brace and at least one word after the opening one
      foundAccess = closed;
      rec.permissions = perms;
      fieldsFrom = i;
      break;
    } else {
      i = save;
      break;
    }
  }
  const fieldsEnd = kind === 'USER_AVC' ? userMsgEnd(text, fieldsFrom, end) : end;
  const fields = parseFields(text, fieldsFrom, fieldsEnd);
  rec.fields = fields;
  const sctx = fields['scontext'] !== undefined ? parseSecurityContext(fields['scontext']) : undefined;
  const tctx = fields['tcontext'] !== undefined ? parseSecurityContext(fields['tcontext']) : undefined;
  if (sctx) rec.scontext = sctx;
  if (tctx) rec.tcontext = tctx;
  if (fields['tclass'] !== undefined) rec.tclass = fields['tclass'];
  if (fields['permissive'] !== undefined) rec.permissive = fields['permissive'] === '1';
  if (fields['ioctlcmd'] !== undefined) {
    const n = parseIoctlCmd(fields['ioctlcmd']);
    if (n !== undefined) rec.ioctlcmd = n;
  }
  const pid = fields['pid'] ?? fields['spid'];
  if (pid !== undefined && /^[0-9]{1,10}$/.test(pid)) rec.pid = Number(pid);
  if (fields['comm'] !== undefined) rec.comm = fields['comm'];
  if (fields['exe'] !== undefined) rec.exe = fields['exe'];
  if (fields['name'] !== undefined) rec.name = fields['name'];
  if (fields['path'] !== undefined) rec.path = fields['path'];
  rec.valid = foundAccess && sctx !== undefined && tctx !== undefined && rec.tclass !== undefined;
  copyHeader(rec, header);
  return rec;
}

/** In a user AVC the message ends at ` : exe=…` / the closing quote; fields after it belong to the sender. */
function userMsgEnd(text: string, from: number, end: number): number {
  const q = text.indexOf("'", from);
  return q >= 0 && q < end ? q : end;
}

function copyHeader(rec: { audit_id?: string; epoch?: number; serial?: number; node?: string }, h: FramedLine): void {
  if (h.auditId !== undefined) rec.audit_id = h.auditId;
  if (h.epoch !== undefined) rec.epoch = h.epoch;
  if (h.serial !== undefined) rec.serial = h.serial;
  if (h.node !== undefined) rec.node = h.node;
}

/** Position just after the first whitespace-delimited `avc:` word (or `msg='avc:`), or -1. */
export function findAvcMarker(body: string): number {
  let from = 0;
  for (;;) {
    const k = body.indexOf('avc:', from);
    if (k < 0) return -1;
    const after = k + 4;
    const endOk = after >= body.length || isWs(body.charCodeAt(after));
    const before = k === 0 ? 32 : body.charCodeAt(k - 1);
    const startOk = isWs(before) || (before === 39 && (body.startsWith("msg='", k - 5) || body.startsWith("=", k - 1))) || body.startsWith('message=', k - 8);
    if (endOk && startOk) return after;
    from = after;
  }
}

/**
 * Reads an SELinux record the way sepolgen's AuditParser classifies and reads it: AVC and
 * USER_AVC (`avc:  denied { … } for …`), AVC_PATH, SELINUX_ERR security_compute_sid,
 * MAC_POLICY_LOAD and MAC_STATUS. Returns undefined when the line is none of these.
 */
export function parseSelinuxRecord(f: FramedLine): SelinuxRecord | undefined {
  const body = f.body;
  const type = f.type;
  const avcAt = findAvcMarker(body);
  if (avcAt >= 0 && (type === undefined || type === 'AVC' || type === 'USER_AVC' || type === 'USER_SELINUX_ERR' || type.startsWith('UNKNOWN['))) {
    const kind = type === 'USER_AVC' || body.lastIndexOf("msg='", avcAt) >= 0 ? 'USER_AVC' : 'AVC';
    return readAvc(body, avcAt, body.length, kind, f);
  }
  if (type === 'AVC_PATH') {
    const fields = parseFields(body, f.fieldsAt);
    const rec: SelinuxPathRecord = { kind: 'AVC_PATH', path: fields['path'] ?? '' };
    copyHeader(rec, f);
    return rec;
  }
  if (type === 'SELINUX_ERR' || body.includes('security_compute_sid:')) {
    const at = body.indexOf('security_compute_sid:');
    if (at >= 0) return readComputeSid(body, at + 'security_compute_sid:'.length, f);
    const rec: SelinuxOtherRecord = { kind: 'SELINUX_ERR_OTHER', fields: parseFields(body, f.fieldsAt) };
    copyHeader(rec, f);
    return rec;
  }
  if (type === 'MAC_POLICY_LOAD' || type === 'MAC_STATUS') {
    const rec: SelinuxOtherRecord = { kind: type, fields: parseFields(body, f.fieldsAt) };
    copyHeader(rec, f);
    return rec;
  }
  return undefined;
}

/** security_compute_sid:  invalid context U:R:T:L for scontext=… tcontext=… tclass=… */
function readComputeSid(body: string, at: number, f: FramedLine): SelinuxComputeSidRecord {
  const fields = parseFields(body, at);
  const rec: SelinuxComputeSidRecord = { kind: 'SELINUX_ERR', valid: false, fields };
  const m = /^\s*invalid context (\S+) for /.exec(body.slice(at, at + 4096));
  const inv = m?.[1] !== undefined ? parseSecurityContext(m[1]) : undefined;
  const s = fields['scontext'] !== undefined ? parseSecurityContext(fields['scontext']) : undefined;
  const t = fields['tcontext'] !== undefined ? parseSecurityContext(fields['tcontext']) : undefined;
  if (inv) rec.invalidContext = inv;
  if (s) rec.scontext = s;
  if (t) rec.tcontext = t;
  if (fields['tclass'] !== undefined) rec.tclass = fields['tclass'];
  rec.valid = inv !== undefined && s !== undefined && t !== undefined && rec.tclass !== undefined;
  copyHeader(rec, f);
  return rec;
}
