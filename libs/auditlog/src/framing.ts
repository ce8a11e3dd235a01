import { auditTypeName, auditTypeNumber } from './audit-types.js';

export type Envelope = 'auditd' | 'syslog' | 'dmesg' | 'journald' | 'none';

/** Where a record sat in its line, and its audit header when it has one. */
export interface FramedLine {
  envelope: Envelope;
  /** auditd `node=` (name_format) */
  node?: string;
  /** syslog host or journald _HOSTNAME */
  hostName?: string;
  /** a full date from the envelope (RFC 3339 syslog, journald), ms since the epoch */
  envelopeTimeMs?: number;
  /** syslog tag (kernel, audispd, dbus-daemon, …) */
  tag?: string;
  /** the record itself, from `type=`/`audit(`/`msg=` or the first field on */
  body: string;
  /** record type name (AVC, SYSCALL, UNKNOWN[1234]) */
  type?: string;
  typeNumber?: number;
  auditId?: string;
  epoch?: number;
  ms?: number;
  serial?: number;
  /** offset in body where the fields after `audit(…): ` start */
  fieldsAt: number;
  /** false when a journald line was not valid JSON */
  wellFormed: boolean;
}

const BSD_DATE = /(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +[0-9]{1,2} +[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[+-][0-9]{2}:?[0-9]{2})?[ \t]+/y;
const ISO_DATE =
  /([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?[ \t]+/y;
const SYSLOG_PRI = /<[0-9]{1,3}>(?:1 )?/y;
const DMESG = /\[[ 0-9]*\.[0-9]+\][ \t]*/y;
const FACILITY_TAG = /[a-z]+\.[a-z]+:[ \t]*/y;
const HOST_AND_TAG = /([^ \t:\[]+)[ \t]+([A-Za-z0-9_./-]+)(?:\[[0-9]+\])?:[ \t]*/y;
const TAG_ONLY = /([A-Za-z0-9_./-]+)(?:\[[0-9]+\])?:[ \t]*/y;
// auditd name_format prefix; some dispatchers wrote host= instead of node=
const NODE = /(?:node|host)=([^ \t]+)[ \t]+(?=type=)/y;
// auditd's own DAEMON_* records of old versions have no ':' after the header
const AUDIT_ID = /audit\(([0-9]{1,20})\.([0-9]{1,9}):([0-9]{1,20})\)[ \t]*:?[ \t]*/y;
const TYPE_AFTER_HEADER = /type=([0-9]{1,5})(?=[ \t])/y;
const ALL_DIGITS = /^[0-9]+$/;

function stickyMatch(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

function isoToMs(m: RegExpExecArray): number | undefined {
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (frac) ms += Math.floor(Number(frac) * 1000);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.replace(/[^0-9]/g, '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  } else if (!tz) {
    return undefined; // local time of an unknown zone
  }
  return Number.isFinite(ms) ? ms : undefined;
}

interface JournalFields {
  message?: string;
  hostName?: string;
  realtimeUs?: number;
  auditType?: number;
  auditTypeName?: string;
  auditId?: string;
  sourceRealtimeUs?: number;
  transport?: string;
}

function journalString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // journalctl -o json writes non-UTF-8 fields as arrays of byte values
  if (Array.isArray(v) && v.every((b) => typeof b === 'number')) {
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(v as number[]));
  }
  return undefined;
}

function readJournal(line: string): JournalFields | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  const num = (v: unknown): number | undefined => {
    const t = journalString(v);
    if (t === undefined || !/^[0-9]{1,20}$/.test(t)) return undefined;
    return Number(t);
  };
  return {
    message: journalString(o['MESSAGE']),
    hostName: journalString(o['_HOSTNAME']),
    realtimeUs: num(o['__REALTIME_TIMESTAMP']),
    auditType: num(o['_AUDIT_TYPE']),
    auditTypeName: journalString(o['_AUDIT_TYPE_NAME']),
    auditId: journalString(o['_AUDIT_ID']),
    sourceRealtimeUs: num(o['_SOURCE_REALTIME_TIMESTAMP']),
    transport: journalString(o['_TRANSPORT']),
  };
}

/**
 * Finds the record in a line written by auditd (`type=… msg=audit(…)`, optional `node=`),
 * syslog (BSD or RFC 3339 time, host, tag), dmesg (`[  12.345678] audit: …`), journald
 * (`journalctl -o json`) or the kernel's bare `type=1400 audit(…)` form, and reads its header.
 * Pure and total: any string gives a FramedLine.
 */
export function frameLine(raw: string): FramedLine {
  if (typeof raw !== 'string') return { envelope: 'none', body: '', fieldsAt: 0, wellFormed: true };
  let end = raw.length;
  while (end > 0) {
    const c = raw.charCodeAt(end - 1);
    if (c !== 10 && c !== 13) break;
    end--;
  }
  let s = end === raw.length ? raw : raw.slice(0, end);
  let p = 0;
  while (p < s.length && (s.charCodeAt(p) === 32 || s.charCodeAt(p) === 9)) p++;

  // every member present (in declaration order): one shape for all framed lines
  const f: FramedLine = {
    envelope: 'none',
    node: undefined,
    hostName: undefined,
    envelopeTimeMs: undefined,
    tag: undefined,
    body: '',
    type: undefined,
    typeNumber: undefined,
    auditId: undefined,
    epoch: undefined,
    ms: undefined,
    serial: undefined,
    fieldsAt: 0,
    wellFormed: true,
  };
  let isoTime: RegExpExecArray | undefined;

  if (s.charCodeAt(p) === 123 /* { */) {
    const j = readJournal(s);
    if (!j) {
      f.wellFormed = false;
      f.body = s;
      return f;
    }
    f.envelope = 'journald';
    if (j.hostName !== undefined) f.hostName = j.hostName;
    if (j.realtimeUs !== undefined) f.envelopeTimeMs = Math.floor(j.realtimeUs / 1000);
    const msg = j.message ?? '';
    if (j.auditType !== undefined && j.auditId !== undefined && !msg.includes('audit(')) {
      // _TRANSPORT=audit: MESSAGE is "<TYPE NAME> <fields>", the header is in journal fields
      const name = j.auditTypeName ?? auditTypeName(j.auditType);
      const rest = msg.startsWith(name + ' ') ? msg.slice(name.length + 1) : msg;
      const us = j.sourceRealtimeUs ?? j.realtimeUs ?? 0;
      const sec = Math.floor(us / 1_000_000);
      const ms = Math.floor((us % 1_000_000) / 1000);
      s = `type=${name} msg=audit(${sec}.${String(ms).padStart(3, '0')}:${j.auditId}): ${rest}`;
    } else {
      s = msg;
    }
    p = 0;
    while (p < s.length && (s.charCodeAt(p) === 32 || s.charCodeAt(p) === 9)) p++;
  }

  // envelopes, outermost first; the first character says which can match
  for (let round = 0; round < 4; round++) {
    const c = s.charCodeAt(p);
    let m: RegExpExecArray | null;
    if (c === 60 /* < */ && (m = stickyMatch(SYSLOG_PRI, s, p))) {
      p = SYSLOG_PRI.lastIndex;
      continue;
    }
    if (c >= 65 && c <= 90 && (m = stickyMatch(BSD_DATE, s, p))) {
      p = BSD_DATE.lastIndex;
      if (f.envelope === 'none') f.envelope = 'syslog';
      p = readSyslogHostTag(s, p, f);
      continue;
    }
    if (c >= 48 && c <= 57 && (m = stickyMatch(ISO_DATE, s, p))) {
      p = ISO_DATE.lastIndex;
      if (f.envelope === 'none') f.envelope = 'syslog';
      if (f.envelopeTimeMs === undefined) isoTime = m;
      p = readSyslogHostTag(s, p, f);
      continue;
    }
    if (c === 91 /* [ */ && (m = stickyMatch(DMESG, s, p))) {
      p = DMESG.lastIndex;
      if (f.envelope === 'none') f.envelope = 'dmesg';
      continue;
    }
    if (c === 97 /* a */ && s.startsWith('audit:', p) && (s.charCodeAt(p + 6) === 32 || s.charCodeAt(p + 6) === 9)) {
      p += 7;
      while (s.charCodeAt(p) === 32) p++;
      continue;
    }
    if ((c === 110 /* n */ || c === 104) /* h */ && (m = stickyMatch(NODE, s, p))) {
      f.node = m[1];
      p = NODE.lastIndex;
      continue;
    }
    break;
  }

  f.body = p === 0 ? s : s.slice(p);
  readHeader(f);
  // the envelope's time matters only for records without an audit timestamp
  if (isoTime !== undefined && f.epoch === undefined) {
    const t = isoToMs(isoTime);
    if (t !== undefined) f.envelopeTimeMs = t;
  }
  if (f.envelope === 'none' && f.type !== undefined) f.envelope = 'auditd';
  return f;
}

function readSyslogHostTag(s: string, p: number, f: FramedLine): number {
  let m = stickyMatch(FACILITY_TAG, s, p);
  if (m) return FACILITY_TAG.lastIndex; // socklog: "kern.notice: …" without a host
  m = stickyMatch(HOST_AND_TAG, s, p);
  if (m) {
    f.hostName = m[1];
    f.tag = m[2];
    return HOST_AND_TAG.lastIndex;
  }
  m = stickyMatch(TAG_ONLY, s, p);
  if (m) {
    f.tag = m[1];
    return TAG_ONLY.lastIndex;
  }
  return p;
}

/** type=NAME msg=audit(…): | type=N audit(…): | audit(…): | msg=audit(…): */
function readHeader(f: FramedLine): void {
  const b = f.body;
  let p = 0;
  let type: string | undefined;
  if (b.startsWith('type=')) {
    p = 5;
    const start = p;
    while (p < b.length) {
      const c = b.charCodeAt(p);
      if (c === 32 || c === 9) break;
      p++;
    }
    type = b.slice(start, p);
    while (b.charCodeAt(p) === 32 || b.charCodeAt(p) === 9) p++;
  }
  if (b.startsWith('msg=', p)) p += 4;
  const m = stickyMatch(AUDIT_ID, b, p);
  if (!m) {
    if (type !== undefined && type !== '') {
      // a type without a readable header is still that record type
      f.typeNumber = auditTypeNumber(type);
      f.type = ALL_DIGITS.test(type) ? auditTypeName(Number(type)) : type;
    }
    return;
  }
  const [, sec, ms, serial] = m;
  // the 2.6-era syslog form puts the type after the header: "audit(…): type=1503 operation=…"
  if (type === undefined) {
    TYPE_AFTER_HEADER.lastIndex = AUDIT_ID.lastIndex;
    const tm = TYPE_AFTER_HEADER.exec(b);
    if (tm) type = tm[1];
  }
  if (type !== undefined) {
    f.typeNumber = auditTypeNumber(type);
    f.type = ALL_DIGITS.test(type) ? auditTypeName(Number(type)) : type;
  }
  f.auditId = `${sec}.${ms}:${serial}`;
  f.epoch = Number(sec);
  f.ms = Number((ms ?? '0').padEnd(3, '0').slice(0, 3));
  f.serial = Number(serial);
  f.fieldsAt = AUDIT_ID.lastIndex;
}
