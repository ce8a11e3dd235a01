import { parseAppArmorKeyList, parseAppArmorLine, parseAppArmorRecord, type AaLogRecord } from './apparmor-record.js';
import { auditTypeName, auditTypeNumber } from './audit-types.js';
import { parseFields } from './fields.js';
import { frameLine, type FramedLine } from './framing.js';
import { appArmorEvent, selinuxEvent, syscallEvent, type EventContext } from './normalize.js';
import { parseSelinuxRecord } from './selinux-record.js';
import { syscallContext } from './syscall-context.js';
import type { AuditRecord, ParseResult, UnparsedRecord } from './types.js';

/** Longest line read as a record; the kernel's own limit is under 9 KiB per record. */
export const DEFAULT_MAX_LINE_LENGTH = 65_536;
const UNPARSED_TEXT_CHARS = 200;

type ParsedRecordResult = Exclude<ParseResult, { format: 'unparsed' }>;

/** A line read on its own: its record and where it sat, before any event is built. */
export interface ClassifiedLine {
  result: ParseResult;
  /** present for every format but unparsed */
  framed?: FramedLine;
}

function unparsed(line: string, reason: UnparsedRecord['reason']): ClassifiedLine {
  return { result: { format: 'unparsed', record: { reason, length: line.length, text: line.slice(0, UNPARSED_TEXT_CHARS) } } };
}

function isBlank(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

const AA_TYPE_NAMES = new Set(['APPARMOR', 'AA', 'APPARMOR_AUDIT', 'APPARMOR_ALLOWED', 'APPARMOR_DENIED', 'APPARMOR_HINT', 'APPARMOR_STATUS', 'APPARMOR_ERROR']);

/** `apparmor=` as a key (at the start of a field), or an AppArmor record type. */
function isAppArmor(f: FramedLine): boolean {
  if (f.typeNumber !== undefined && f.typeNumber >= 1500 && f.typeNumber <= 1599) return true;
  if (f.type !== undefined && AA_TYPE_NAMES.has(f.type)) return true;
  const b = f.body;
  let from = 0;
  for (;;) {
    const k = b.indexOf('apparmor=', from);
    if (k < 0) return false;
    const before = k === 0 ? 32 : b.charCodeAt(k - 1);
    if (before === 32 || before === 9 || before === 39 || before === 0x1d) return true;
    from = k + 9;
  }
}

/** libapparmor's reading of the line, or of its record when libapparmor does not know the envelope. */
function readAppArmor(line: string, f: FramedLine): AaLogRecord {
  const direct = parseAppArmorRecord(line);
  if (direct.event !== 'INVALID' || direct.audit_id !== undefined || f.envelope === 'none') return direct;
  const fields = f.body.slice(f.fieldsAt);
  let canonical: string;
  if (f.auditId === undefined) return parseAppArmorKeyList(fields);
  if (f.type === undefined) canonical = `msg=audit(${f.auditId}): ${fields}`;
  else if (/^type=[0-9]/.test(f.body)) canonical = `msg=audit(${f.auditId}): type=${f.typeNumber ?? 0} ${fields}`;
  else canonical = `type=${f.type} msg=audit(${f.auditId}): ${fields}`;
  return parseAppArmorRecord(canonical);
}

/**
 * Reads one line into its record without building an event: AppArmor (libapparmor's
 * fields), SELinux (sepolgen's reading), a Linux-audit record, or unparsed. Never throws.
 */
export function classifyLine(line: string, maxLineLength = DEFAULT_MAX_LINE_LENGTH): ClassifiedLine {
  // JavaScript callers can hand over anything; a non-string is a line with no record
  if (typeof line !== 'string') return unparsed('', 'not-an-audit-record');
  if (line.length > maxLineLength) return unparsed(line, 'too-long');
  if (isBlank(line)) return unparsed(line, 'empty');
  // fast path for the common case, an AppArmor record in an envelope libapparmor reads:
  // one pass gives the record and what framing would have said
  if (line.indexOf('apparmor=') >= 0) {
    const fast = fastAppArmor(line);
    if (fast) return fast;
  }
  const f = frameLine(line);
  if (!f.wellFormed) return unparsed(line, 'malformed-json');
  if (isAppArmor(f)) {
    return { result: { format: 'apparmor', record: readAppArmor(line, f) }, framed: f };
  }
  const se = parseSelinuxRecord(f);
  if (se) return { result: { format: 'selinux', record: se }, framed: f };
  if (f.auditId !== undefined && f.epoch !== undefined && f.serial !== undefined) {
    const type = f.type ?? 'UNKNOWN';
    const rec: AuditRecord = {
      type,
      audit_id: f.auditId,
      epoch: f.epoch,
      ms: f.ms ?? 0,
      serial: f.serial,
      fields: parseFields(f.body, f.fieldsAt, f.body.length, type),
    };
    if (f.node !== undefined) rec.node = f.node;
    return { result: { format: 'audit', record: rec }, framed: f };
  }
  if (f.type !== undefined) return unparsed(line, 'truncated');
  return unparsed(line, 'not-an-audit-record');
}

function fastAppArmor(line: string): ClassifiedLine | undefined {
  const { record, meta } = parseAppArmorLine(line);
  if (record.event === 'INVALID') return undefined;
  const typeNumber = meta.typeNumber ?? (meta.typeName !== undefined ? auditTypeNumber(meta.typeName) : undefined);
  const framed: FramedLine = {
    envelope: meta.hostName !== undefined ? 'syslog' : line.startsWith('[') ? 'dmesg' : record.audit_id !== undefined ? 'auditd' : 'none',
    node: undefined,
    hostName: meta.hostName,
    envelopeTimeMs: undefined,
    tag: undefined,
    body: line,
    type: meta.typeName ?? (typeNumber !== undefined ? auditTypeName(typeNumber) : undefined),
    typeNumber,
    auditId: record.audit_id,
    epoch: record.epoch,
    ms: meta.ms,
    serial: record.audit_sub_id,
    fieldsAt: 0,
    wellFormed: true,
  };
  return { result: { format: 'apparmor', record }, framed };
}

export function contextOf(f: FramedLine): EventContext {
  // every member present: one shape for all contexts keeps the readers' property loads fast
  return {
    hostName: f.hostName,
    node: f.node,
    envelopeTimeMs: f.envelopeTimeMs,
    auditId: f.auditId,
    epoch: f.epoch,
    ms: f.ms,
    serial: f.serial,
    syscall: undefined,
    processName: undefined,
  };
}

/** The event a record gives with what is known of its surroundings. */
export function eventOf(r: ParsedRecordResult, ctx: EventContext): ParseResult['event'] {
  switch (r.format) {
    case 'apparmor':
      return appArmorEvent(r.record, ctx);
    case 'selinux':
      return selinuxEvent(r.record, ctx);
    case 'audit':
      return r.record.type === 'SYSCALL' ? syscallEvent(ctx.syscall ?? syscallContext([r.record]), ctx) : undefined;
  }
}

/**
 * Parses one line on its own: `{format, record, event?}`. Multi-record Linux-audit events
 * need an AuditStream; here a SYSCALL record gives an event from its own fields only.
 */
export function parseLine(line: string, options: { maxLineLength?: number } = {}): ParseResult {
  const c = classifyLine(line, options.maxLineLength);
  const r = c.result;
  if (r.format === 'unparsed' || c.framed === undefined) return r;
  const ev = eventOf(r, contextOf(c.framed));
  if (ev !== undefined) r.event = ev;
  return r;
}
