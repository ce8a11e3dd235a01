import { ipprotoName } from './ipproto.js';
import { decodeHexBytes } from './text.js';

/** libapparmor's `aa_record_event_type`, without the `AA_RECORD_` prefix. */
export type AaEventType = 'INVALID' | 'ERROR' | 'AUDIT' | 'ALLOWED' | 'DENIED' | 'HINT' | 'STATUS';

/**
 * One AppArmor log record under libapparmor's own `aa_log_record` member names. A member is
 * present only when the log line set it (libapparmor's NULL / 0 / -1 mean "absent" here).
 */
export interface AaLogRecord {
  event: AaEventType;
  audit_id?: string;
  epoch?: number;
  audit_sub_id?: number;
  operation?: string;
  requested_mask?: string;
  denied_mask?: string;
  fsuid?: number;
  ouid?: number;
  profile?: string;
  peer_profile?: string;
  peer?: string;
  name?: string;
  comm?: string;
  name2?: string;
  namespace?: string;
  attribute?: string;
  task?: number;
  parent?: number;
  magic_token?: number;
  info?: string;
  peer_info?: string;
  error_code?: number;
  pid?: number;
  peer_pid?: number;
  active_hat?: string;
  net_family?: string;
  net_sock_type?: string;
  net_protocol?: string;
  net_local_addr?: string;
  net_foreign_addr?: string;
  net_local_port?: number;
  net_foreign_port?: number;
  net_addr?: string;
  peer_addr?: string;
  dbus_bus?: string;
  dbus_path?: string;
  dbus_interface?: string;
  dbus_member?: string;
  signal?: string;
  fs_type?: string;
  flags?: string;
  src_name?: string;
  class?: string;
  execpath?: string;
}

/**
 * How the value after `key=` is scanned, mirroring libapparmor's grammar:
 * quoted: "..." only; safe: "..." or upper-case hex; digits: [0-9]+; ip: [0-9a-f.:]{3,};
 * id: a bare word (signal=term); protocol: "..." or a number mapped to its name.
 */
type ValueKind =
  | 'quoted'
  | 'safe'
  | 'digits'
  | 'error'
  | 'ip'
  | 'id'
  | 'protocol'
  | 'event'
  | 'type'
  | 'qmark-or-safe'
  | 'addr'
  | 'ignored-digits'
  | 'ignored-quoted';

// Each key stores through its own small setter: monomorphic property stores instead of a
// store by computed name, which matters at a million lines.
interface KeySpec {
  readonly kind: ValueKind;
  readonly str?: (r: AaLogRecord, v: string) => void;
  readonly num?: (r: AaLogRecord, v: number) => void;
}

// Every key libapparmor's scanner knows. Keys it knows but has no rule for in a key list
// (uid, auid, ses, msg, audit) are listed with kind 'none' below so they fail like there.
const KEYS: ReadonlyMap<string, KeySpec> = new Map<string, KeySpec>([
  ['apparmor', { kind: 'event' }],
  ['type', { kind: 'type' }],
  ['operation', { kind: 'quoted', str: (r, v) => (r.operation = v) }],
  ['name', { kind: 'safe', str: (r, v) => (r.name = v) }],
  ['name2', { kind: 'safe', str: (r, v) => (r.name2 = v) }],
  ['namespace', { kind: 'safe', str: (r, v) => (r.namespace = v) }],
  ['mask', { kind: 'quoted', str: (r, v) => (r.denied_mask = v) }],
  ['denied_mask', { kind: 'quoted', str: (r, v) => (r.denied_mask = v) }],
  ['denied', { kind: 'quoted', str: (r, v) => (r.denied_mask = v) }],
  ['requested_mask', { kind: 'quoted', str: (r, v) => (r.requested_mask = v) }],
  ['requested', { kind: 'quoted', str: (r, v) => (r.requested_mask = v) }],
  ['attribute', { kind: 'quoted', str: (r, v) => (r.attribute = v) }],
  ['task', { kind: 'digits', num: (r, v) => (r.task = v) }],
  ['parent', { kind: 'digits', num: (r, v) => (r.parent = v) }],
  ['magic_token', { kind: 'digits', num: (r, v) => (r.magic_token = v) }],
  ['info', { kind: 'quoted', str: (r, v) => (r.info = v) }],
  ['peer_info', { kind: 'quoted', str: (r, v) => (r.peer_info = v) }],
  ['peer', { kind: 'quoted', str: (r, v) => (r.peer = v) }],
  ['pid', { kind: 'digits', num: (r, v) => (r.pid = v) }],
  ['peer_pid', { kind: 'digits', num: (r, v) => (r.peer_pid = v) }],
  ['profile', { kind: 'safe', str: (r, v) => (r.profile = v) }],
  ['label', { kind: 'safe', str: (r, v) => (r.profile = v) }],
  ['peer_profile', { kind: 'safe', str: (r, v) => (r.peer_profile = v) }],
  ['peer_label', { kind: 'safe', str: (r, v) => (r.peer_profile = v) }],
  ['tcontext', { kind: 'safe', str: (r, v) => (r.peer_profile = v) }],
  ['family', { kind: 'quoted', str: (r, v) => (r.net_family = v) }],
  ['sock_type', { kind: 'quoted', str: (r, v) => (r.net_sock_type = v) }],
  ['protocol', { kind: 'protocol', str: (r, v) => (r.net_protocol = v) }],
  ['error', { kind: 'error', num: (r, v) => (r.error_code = v) }],
  ['fsuid', { kind: 'digits', num: (r, v) => (r.fsuid = v) }],
  ['ouid', { kind: 'digits', num: (r, v) => (r.ouid = v) }],
  ['sauid', { kind: 'ignored-digits' }],
  ['FSUID', { kind: 'ignored-quoted' }],
  ['OUID', { kind: 'ignored-quoted' }],
  ['hostname', { kind: 'qmark-or-safe' }],
  ['terminal', { kind: 'qmark-or-safe' }],
  ['addr', { kind: 'addr', str: (r, v) => (r.net_addr = v) }],
  ['peer_addr', { kind: 'addr', str: (r, v) => (r.peer_addr = v) }],
  ['exe', { kind: 'safe', str: (r, v) => (r.comm = v) }],
  ['comm', { kind: 'safe', str: (r, v) => (r.comm = v) }],
  ['capability', { kind: 'ignored-digits' }],
  ['capname', { kind: 'quoted', str: (r, v) => (r.name = v) }],
  ['offset', { kind: 'ignored-digits' }],
  ['target', { kind: 'quoted', str: (r, v) => (r.name2 = v) }],
  ['laddr', { kind: 'ip', str: (r, v) => (r.net_local_addr = v) }],
  ['saddr', { kind: 'ip', str: (r, v) => (r.net_local_addr = v) }],
  ['faddr', { kind: 'ip', str: (r, v) => (r.net_foreign_addr = v) }],
  ['daddr', { kind: 'ip', str: (r, v) => (r.net_foreign_addr = v) }],
  ['lport', { kind: 'digits', num: (r, v) => (r.net_local_port = v) }],
  ['src', { kind: 'digits', num: (r, v) => (r.net_local_port = v) }],
  ['fport', { kind: 'digits', num: (r, v) => (r.net_foreign_port = v) }],
  ['dest', { kind: 'digits', num: (r, v) => (r.net_foreign_port = v) }],
  ['bus', { kind: 'quoted', str: (r, v) => (r.dbus_bus = v) }],
  ['path', { kind: 'quoted', str: (r, v) => (r.dbus_path = v) }],
  ['interface', { kind: 'quoted', str: (r, v) => (r.dbus_interface = v) }],
  ['member', { kind: 'quoted', str: (r, v) => (r.dbus_member = v) }],
  ['method', { kind: 'quoted', str: (r, v) => (r.dbus_member = v) }],
  ['signal', { kind: 'id', str: (r, v) => (r.signal = v) }],
  ['fstype', { kind: 'quoted', str: (r, v) => (r.fs_type = v) }],
  ['flags', { kind: 'quoted', str: (r, v) => (r.flags = v) }],
  ['srcname', { kind: 'quoted', str: (r, v) => (r.src_name = v) }],
  ['class', { kind: 'quoted', str: (r, v) => (r.class = v) }],
  ['execpath', { kind: 'safe', str: (r, v) => (r.execpath = v) }],
]);

/** s.startsWith(w, at), without String.prototype.startsWith's cost on sliced strings */
function sameText(s: string, at: number, w: string): boolean {
  for (let k = 0; k < w.length; k++) if (s.charCodeAt(at + k) !== w.charCodeAt(k)) return false;
  return true;
}

function wordHash(w: string): number {
  let h = 0;
  for (let k = 0; k < w.length; k++) h = (Math.imul(h, 31) + w.charCodeAt(k)) | 0;
  return h;
}

// keys by a hash of their text, so a key is found without slicing the line: a small table
// indexed by the hash's low bits (an array index stays a small integer; a Map of 32-bit
// hashes would box them)
const KEY_TABLE_BITS = 1023;
const KEY_TABLE: ReadonlyArray<ReadonlyArray<{ word: string; spec: KeySpec }> | undefined> = (() => {
  const t: { word: string; spec: KeySpec }[][] = [];
  for (const [word, spec] of KEYS) {
    const slot = wordHash(word) & KEY_TABLE_BITS;
    (t[slot] ??= []).push({ word, spec });
  }
  return Array.from({ length: KEY_TABLE_BITS + 1 }, (_, k) => t[k]);
})();

// Tokens the scanner knows that have no place in a key list: seeing one there is a syntax
// error (record INVALID), whereas anything it does not know starts the "rest of message".
const NON_KEY_WORDS = ['uid', 'auid', 'ses', 'msg', 'audit', 'kernel:', 'kern.notice:'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LONG_MONTHS = ['January', 'February', 'March', 'April', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

// All words matched as prefixes at a key position, longest first so `name2` wins over `name`.
const KEY_POSITION_WORDS: readonly string[] = [...KEYS.keys(), ...NON_KEY_WORDS, ...MONTHS, ...LONG_MONTHS].sort(
  (a, b) => b.length - a.length,
);
const KEY_WORDS_BY_FIRST_CHAR: ReadonlyMap<number, readonly string[]> = (() => {
  const m = new Map<number, string[]>();
  for (const w of KEY_POSITION_WORDS) {
    const c = w.charCodeAt(0);
    const list = m.get(c) ?? [];
    list.push(w);
    m.set(c, list);
  }
  return m;
})();

const AA_TYPES: ReadonlyMap<string, AaEventType> = new Map([
  ['APPARMOR_AUDIT', 'AUDIT'],
  ['APPARMOR_ALLOWED', 'ALLOWED'],
  ['APPARMOR_DENIED', 'DENIED'],
  ['APPARMOR_HINT', 'HINT'],
  ['APPARMOR_STATUS', 'STATUS'],
  ['APPARMOR_ERROR', 'ERROR'],
]);

const AA_EVENT_VALUES: ReadonlyMap<string, AaEventType> = new Map([
  ['"DENIED"', 'DENIED'],
  ['"AUDIT"', 'AUDIT'],
  ['"ALLOWED"', 'ALLOWED'],
  ['"HINT"', 'HINT'],
  ['"STATUS"', 'STATUS'],
  ['"ERROR"', 'ERROR'],
]);

/** libapparmor's lookup_aa_event: the numeric audit types 1501..1506. */
export function aaEventForAuditType(type: number): AaEventType {
  switch (type) {
    case 1501:
      return 'AUDIT';
    case 1502:
      return 'ALLOWED';
    case 1503:
      return 'DENIED';
    case 1504:
      return 'HINT';
    case 1505:
      return 'STATUS';
    case 1506:
      return 'ERROR';
    default:
      return 'INVALID';
  }
}

const LONG_MAX = 9223372036854775807n;

/** strtol semantics on a run of decimal digits: saturates at LONG_MAX. */
function digitsValue(d: string): number {
  if (d.length <= 15) return Number(d);
  const v = BigInt(d);
  return Number(v > LONG_MAX ? LONG_MAX : v);
}

/** atoi() stored in an unsigned int: the strtol value truncated to 32 bits. */
function subIdValue(d: string): number {
  if (d.length <= 9) return Number(d);
  let v = BigInt(d);
  if (v > LONG_MAX) v = LONG_MAX;
  return Number(BigInt.asUintN(32, v));
}

function isWs(c: number): boolean {
  // space, \t, \n, \r and the auditd "enriched" separator 0x1d
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 0x1d;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isUpperHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70);
}
function isIpChar(c: number): boolean {
  return (c >= 48 && c <= 58) || c === 46 || (c >= 97 && c <= 102);
}
function isTypeWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 91 || c === 93;
}
function isHostChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}
function isIdChar(c: number): boolean {
  return !isWs(c) && c !== 61 && c !== 40 && c !== 41 && c !== 34 && c !== 39;
}

const SYSLOG_USER_TAG = /[A-Za-z0-9_-]+\[[0-9]+\]:/y;
const DATE_MONTH = /(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)/y;
const DATE_ISO = /[0-9]{4}-[0-9]{2}-[0-9]{2}/y;
const TIME = /[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[+-][0-9]{2}:[0-9]{2})?/y;
const DMESG_STAMP = /\[[0-9 ]{5,}\.[0-9]{6,}\]/y;
// regex literals inside functions would be new objects on every call
const ALL_DIGITS = /^[0-9]+$/;
const UNKNOWN_TYPE = /^UNKNOWN\[([0-9]+)\]$/;
const USER_MSG_PREFIX = /[ \t\n\r\x1d]*pid[ \t\n\r\x1d]*=[ \t\n\r\x1d]*[0-9]+[ \t\n\r\x1d]*uid[ \t\n\r\x1d]*=/y;

/** How the key list ends: plain; inside `msg='...'` (closing quote required / optional). */
type KeyListEnd = 'eof' | 'quote-required' | 'quote-optional';

/**
 * A scanner and parser equivalent to libapparmor's flex/bison pair (libaalogparse): the same
 * line shapes are accepted, the same fields set, and a syntax error leaves the record INVALID
 * with whatever was set before it, as bison's actions do.
 */
/**
 * A record with every member present (undefined until set): one object shape for all records,
 * which keeps property stores fast. JSON and the test_multi printer skip undefined members.
 */
function emptyRecord(): AaLogRecord {
  return {
    event: 'INVALID',
    audit_id: undefined,
    epoch: undefined,
    audit_sub_id: undefined,
    operation: undefined,
    requested_mask: undefined,
    denied_mask: undefined,
    fsuid: undefined,
    ouid: undefined,
    profile: undefined,
    peer_profile: undefined,
    peer: undefined,
    name: undefined,
    comm: undefined,
    name2: undefined,
    namespace: undefined,
    attribute: undefined,
    task: undefined,
    parent: undefined,
    magic_token: undefined,
    info: undefined,
    peer_info: undefined,
    error_code: undefined,
    pid: undefined,
    peer_pid: undefined,
    active_hat: undefined,
    net_family: undefined,
    net_sock_type: undefined,
    net_protocol: undefined,
    net_local_addr: undefined,
    net_foreign_addr: undefined,
    net_local_port: undefined,
    net_foreign_port: undefined,
    net_addr: undefined,
    peer_addr: undefined,
    dbus_bus: undefined,
    dbus_path: undefined,
    dbus_interface: undefined,
    dbus_member: undefined,
    signal: undefined,
    fs_type: undefined,
    flags: undefined,
    src_name: undefined,
    class: undefined,
    execpath: undefined,
  };
}

function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/** What the parser saw around the record: used by parseLine to skip a second framing pass. */
export interface AaLineMeta {
  /** syslog host (TOK_ID before kernel: / tag[pid]:) */
  hostName?: string;
  /** auditd record type name (AVC, USER_AVC, APPARMOR_DENIED, …) */
  typeName?: string;
  /** numeric type of the kernel forms (type=1400) */
  typeNumber?: number;
  /** milliseconds of the audit timestamp */
  ms?: number;
}

class AaParser {
  readonly rec: AaLogRecord = emptyRecord();
  readonly meta: AaLineMeta = { hostName: undefined, typeName: undefined, typeNumber: undefined, ms: undefined };
  private i = 0;
  // a newline inside the text (not just at its end): quoted values then drop newlines
  private readonly multiline: boolean;

  constructor(private readonly s: string) {
    const nl = s.indexOf('\n');
    this.multiline = nl >= 0 && nl < s.length - 1;
  }

  /** log_message: audit_type | dmesg_type | syslog_type | audit_dispatch */
  parse(): void {
    this.skipWs();
    const ok = this.logMessage();
    if (!ok) this.rec.event = 'INVALID';
  }

  /** a bare key list (no header), as in the syslog dbus form after its tag */
  parseKeyListOnly(): void {
    if (!this.keyList('eof')) this.rec.event = 'INVALID';
  }

  private logMessage(): boolean {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (s.startsWith('type=', this.i)) return this.auditType();
    if (c === 109 /* m */ && s.startsWith('msg', this.i)) {
      this.i += 3;
      if (!this.auditId(true)) return false;
      return this.keyList('eof');
    }
    if (c === 91 /* [ */) return this.dmesgType();
    return this.syslogType();
  }

  // ---- audit.log: type=NAME msg=audit(...): ... ----
  private auditType(): boolean {
    this.i += 5;
    const start = this.i;
    while (this.i < this.s.length && isTypeWordChar(this.s.charCodeAt(this.i))) this.i++;
    const word = this.s.slice(start, this.i);
    if (word === '') return false;
    if (ALL_DIGITS.test(word)) return false; // TOK_DIGITS: no rule takes a numeric type here
    this.meta.typeName = word;
    const aa = AA_TYPES.get(word);
    if (aa !== undefined) {
      if (!this.auditMsg()) return false;
      if (!this.keyList('eof')) return false;
      this.rec.event = aa;
      return true;
    }
    const unknown = UNKNOWN_TYPE.exec(word);
    if (unknown) {
      if (!this.auditMsg()) return false;
      if (!this.keyList('eof')) return false;
      this.rec.event = aaEventForAuditType(digitsValue(unknown[1] ?? '0'));
      return true;
    }
    if (word === 'AVC') {
      if (!this.auditMsg()) return false;
      return this.keyList('eof');
    }
    if (word === 'USER_AVC') {
      if (!this.auditMsg()) return false;
      if (!this.userMsgPrefix()) return false;
      return this.keyList('quote-required');
    }
    // any other record type: header + the rest of the line as info
    if (!this.auditMsg()) return false;
    this.skipWs();
    if (this.i >= this.s.length) return false;
    this.rec.operation = word;
    this.rec.info = this.restOfMessage();
    this.rec.event = 'INVALID';
    return true;
  }

  /** audit_msg: ws 'msg' '=' audit_id */
  private auditMsg(): boolean {
    this.skipWs();
    if (!this.s.startsWith('msg', this.i)) return false;
    this.i += 3;
    return this.auditId(true);
  }

  /** [ '=' ] 'audit(' SEC '.' MS ':' SERIAL ')' ':' — sets audit_id, epoch, audit_sub_id */
  private auditId(withEquals: boolean): boolean {
    this.skipWs();
    if (withEquals) {
      if (this.s.charCodeAt(this.i) !== 61) return false;
      this.i++;
      this.skipWs();
    }
    if (!this.s.startsWith('audit(', this.i)) return false;
    this.i += 6;
    const idStart = this.i;
    const secStart = this.i;
    const epoch = this.number();
    if (epoch < 0 || this.s.charCodeAt(this.i) !== 46) return false;
    const secEnd = this.i;
    this.i++;
    const msStart = this.i;
    const ms = this.number();
    if (ms < 0 || this.s.charCodeAt(this.i) !== 58) return false;
    const msLen = this.i - msStart;
    this.i++;
    const serialStart = this.i;
    const serial = this.number();
    if (serial < 0 || this.s.charCodeAt(this.i) !== 41) return false;
    const idEnd = this.i;
    this.i++;
    this.skipWs();
    if (this.s.charCodeAt(this.i) !== 58) return false;
    this.i++;
    this.rec.audit_id = this.s.slice(idStart, idEnd);
    // "1.5" is 500 ms, "1.005" 5 ms: the digits are a fraction of a second
    this.meta.ms = msLen === 3 ? ms : msLen < 3 ? ms * 10 ** (3 - msLen) : Math.floor(ms / 10 ** (msLen - 3));
    this.rec.epoch = secEnd - secStart <= 15 ? epoch : digitsValue(this.s.slice(secStart, secEnd));
    this.rec.audit_sub_id = idEnd - serialStart <= 9 ? serial : subIdValue(this.s.slice(serialStart, idEnd));
    return true;
  }

  /** pid=N uid=N auid=N ses=N msg=' — the user-space AVC header, dropped */
  private userMsgPrefix(): boolean {
    for (const key of ['pid', 'uid', 'auid', 'ses']) {
      this.skipWs();
      if (!this.s.startsWith(key, this.i)) return false;
      this.i += key.length;
      this.skipWs();
      if (this.s.charCodeAt(this.i) !== 61) return false;
      this.i++;
      this.skipWs();
      if (this.digits() === undefined) return false;
    }
    this.skipWs();
    // newer user-space AVCs carry the sender's label before msg=; skip it
    if (this.s.startsWith('subj=', this.i)) {
      this.i += 5;
      while (this.i < this.s.length && !isWs(this.s.charCodeAt(this.i))) this.i++;
      this.skipWs();
    }
    if (!this.s.startsWith('msg', this.i)) return false;
    this.i += 3;
    this.skipWs();
    if (this.s.charCodeAt(this.i) !== 61) return false;
    this.i++;
    this.skipWs();
    if (this.s.charCodeAt(this.i) !== 39) return false;
    this.i++;
    return true;
  }

  // ---- [ 123.456789] audit: type=1400 audit(...): ... ----
  private dmesgType(): boolean {
    if (!this.match(DMESG_STAMP)) return false;
    this.skipWs();
    if (!this.auditColon()) return false;
    if (!this.keyType()) return false;
    if (!this.auditId(false)) return false;
    return this.keyList('eof');
  }

  /** 'audit' ':' followed by white space */
  private auditColon(): boolean {
    if (!this.s.startsWith('audit:', this.i) || !isWs(this.s.charCodeAt(this.i + 6))) return false;
    this.i += 6;
    this.skipWs();
    return true;
  }

  /** key_type: type=N, sets the event from the numeric type */
  private keyType(): boolean {
    if (!this.s.startsWith('type=', this.i)) return false;
    this.i += 5;
    const d = this.typeDigits();
    if (d === undefined) return false;
    const n = digitsValue(d);
    this.meta.typeNumber = n;
    this.rec.event = aaEventForAuditType(n);
    return true;
  }

  /** the value of type= is scanned as one word; only an all-digit word is a number */
  private typeDigits(): string | undefined {
    const start = this.i;
    while (this.i < this.s.length && isTypeWordChar(this.s.charCodeAt(this.i))) this.i++;
    const word = this.s.slice(start, this.i);
    return word !== '' && ALL_DIGITS.test(word) ? word : undefined;
  }

  // ---- syslog: DATE HOST kernel: ... | DATE HOST tag[pid]: ... ----
  private syslogType(): boolean {
    if (this.match(DATE_MONTH)) {
      this.skipWs();
      if (this.digits() === undefined) return false;
      this.skipWs();
    } else if (this.match(DATE_ISO)) {
      if (this.s.charCodeAt(this.i) === 84 /* T */) this.i++;
      else if (!this.ws1()) return false;
    } else {
      return false;
    }
    if (!this.match(TIME)) return false;
    this.skipWs();
    // flex drops (echoes) characters no rule of its hostname state matches
    while (this.i < this.s.length && !isHostChar(this.s.charCodeAt(this.i))) this.i++;
    if (this.s.startsWith('kern.notice:', this.i)) {
      this.i += 12;
      return this.kernelForms();
    }
    const hostStart = this.i;
    while (this.i < this.s.length && isHostChar(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === hostStart) return false;
    this.meta.hostName = this.s.slice(hostStart, this.i);
    if (!this.ws1()) return false;
    if (this.s.startsWith('kernel:', this.i)) {
      this.i += 7;
      return this.kernelForms();
    }
    if (this.match(SYSLOG_USER_TAG)) return this.keyList('eof');
    return false;
  }

  private kernelForms(): boolean {
    this.skipWs();
    if (this.match(DMESG_STAMP)) {
      this.skipWs();
      if (this.s.startsWith('audit:', this.i)) {
        if (!this.auditColon()) return false;
        if (!this.keyType()) return false;
        if (!this.auditId(false)) return false;
        // user-space AVCs relayed by the kernel (type=1107) keep their header in this form only
        if (this.looksLikeUserMsgPrefix()) {
          if (!this.userMsgPrefix()) return false;
          return this.keyList('quote-optional');
        }
        return this.keyList('eof');
      }
    } else if (this.s.startsWith('audit:', this.i)) {
      if (!this.auditColon()) return false;
      if (!this.keyType()) return false;
      if (!this.auditId(false)) return false;
      return this.keyList('eof');
    }
    if (this.s.startsWith('type=', this.i) && !this.keyType()) return false;
    this.skipWs();
    if (!this.auditId(false)) return false;
    return this.keyList('eof');
  }

  /** bison decides between key_pid and the user header only once it sees `uid` after `pid=N` */
  private looksLikeUserMsgPrefix(): boolean {
    USER_MSG_PREFIX.lastIndex = this.i;
    return USER_MSG_PREFIX.test(this.s);
  }

  // ---- key lists ----
  private keyList(end: KeyListEnd): boolean {
    let keys = 0;
    for (;;) {
      this.skipWs();
      if (this.i >= this.s.length) {
        if (end === 'quote-required') return false;
        return keys > 0;
      }
      const c = this.s.charCodeAt(this.i);
      if (c === 39 /* ' */ && end !== 'eof') {
        if (keys === 0) return false;
        this.i++;
        this.skipWs();
        return this.i >= this.s.length;
      }
      const r = this.key();
      if (r === 'eof') return end !== 'quote-required' && keys > 0;
      if (r === 'error') return false;
      keys++;
    }
  }

  /** One key=value at the current position; 'eof' when an unterminated quote swallows the rest. */
  private key(): 'ok' | 'error' | 'eof' {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    // fast path: the whole word is a key (what the scanner's longest match gives too)
    let e = this.i;
    let h = 0;
    for (; e < s.length; e++) {
      const k = s.charCodeAt(e);
      if (!isKeyChar(k)) break;
      h = (Math.imul(h, 31) + k) | 0;
    }
    let exact: KeySpec | undefined;
    const bucket = KEY_TABLE[h & KEY_TABLE_BITS];
    if (bucket !== undefined) {
      for (const k of bucket) {
        if (k.word.length === e - this.i && sameText(s, this.i, k.word)) {
          exact = k.spec;
          break;
        }
      }
    }
    if (exact !== undefined) {
      // the common shape, key="value" or key=123 right after the key, read here directly
      if (s.charCodeAt(e) === 61) {
        const v0 = s.charCodeAt(e + 1);
        if (v0 === 34 && exact.str !== undefined && (exact.kind === 'quoted' || exact.kind === 'safe')) {
          const close = s.indexOf('"', e + 2);
          if (close < 0) return 'error';
          const v = s.slice(e + 2, close);
          exact.str(this.rec, this.multiline && v.indexOf('\n') >= 0 ? v.replace(/\n/g, '') : v);
          this.i = close + 1;
          return 'ok';
        }
        if (v0 >= 48 && v0 <= 57 && exact.num !== undefined && exact.kind === 'digits') {
          this.i = e + 1;
          exact.num(this.rec, this.number());
          return 'ok';
        }
      }
      this.i = e;
      if (exact.kind !== 'event' && exact.kind !== 'type') this.skipWs();
      if (s.charCodeAt(this.i) !== 61) return 'error';
      this.i++;
      return this.value(exact) ? 'ok' : 'error';
    }
    const words = KEY_WORDS_BY_FIRST_CHAR.get(c);
    let word: string | undefined;
    if (words) {
      for (const w of words) {
        if (s.startsWith(w, this.i)) {
          word = w;
          break;
        }
      }
    }
    if (word === undefined) {
      if (c === 34 /* " */) {
        const close = s.indexOf('"', this.i + 1);
        if (close < 0) {
          this.i = s.length;
          return 'eof';
        }
        return 'error';
      }
      if (isDigit(c) || c === 40 || c === 41 || c === 61 || c === 58 || c === 46 || c === 45 || c === 63 || c === 39) return 'error';
      if (this.matchAt(SYSLOG_USER_TAG) || this.matchAt(DMESG_STAMP)) return 'error';
      this.rec.info = this.restOfMessage();
      this.rec.event = 'INVALID';
      return 'ok';
    }
    const spec = KEYS.get(word);
    if (spec === undefined) return 'error';
    this.i += word.length;
    // apparmor= and type= are scanned with their '=' and value in one piece
    if (spec.kind !== 'event' && spec.kind !== 'type') this.skipWs();
    if (s.charCodeAt(this.i) !== 61) return 'error';
    this.i++;
    return this.value(spec) ? 'ok' : 'error';
  }

  private value(spec: KeySpec): boolean {
    const rec = this.rec;
    switch (spec.kind) {
      case 'quoted': {
        this.skipWs();
        const v = this.quoted();
        if (v === undefined) return false;
        spec.str?.(rec, v);
        return true;
      }
      case 'ignored-quoted':
        this.skipWs();
        return this.quoted() !== undefined;
      case 'safe': {
        const v = this.safeString();
        if (v === undefined) return false;
        spec.str?.(rec, v);
        return true;
      }
      case 'digits': {
        this.skipWs();
        const n = this.number();
        if (n < 0) return false;
        spec.num?.(rec, n);
        return true;
      }
      case 'ignored-digits':
        this.skipWs();
        return this.number() >= 0;
      case 'error': {
        this.skipWs();
        if (this.s.charCodeAt(this.i) === 45) {
          this.i++;
          this.skipWs();
        }
        const n = this.number();
        if (n < 0) return false;
        rec.error_code = n | 0;
        return true;
      }
      case 'ip': {
        const start = this.i;
        while (this.i < this.s.length && isIpChar(this.s.charCodeAt(this.i))) this.i++;
        if (this.i - start < 3) return false;
        spec.str?.(rec, this.s.slice(start, this.i));
        return true;
      }
      case 'id': {
        this.skipWs();
        const start = this.i;
        while (this.i < this.s.length && isIdChar(this.s.charCodeAt(this.i))) this.i++;
        if (this.i === start) return false;
        spec.str?.(rec, this.s.slice(start, this.i));
        return true;
      }
      case 'protocol': {
        this.skipWs();
        if (this.s.charCodeAt(this.i) === 34) {
          const v = this.quoted();
          if (v === undefined) return false;
          rec.net_protocol = v;
          return true;
        }
        const n = this.number();
        if (n < 0) return false;
        rec.net_protocol = ipprotoName(n);
        return true;
      }
      case 'event': {
        for (const [text, ev] of AA_EVENT_VALUES) {
          if (this.s.startsWith(text, this.i)) {
            this.i += text.length;
            rec.event = ev;
            return true;
          }
        }
        return false;
      }
      case 'type': {
        const d = this.typeDigits();
        if (d === undefined) return false;
        rec.event = aaEventForAuditType(digitsValue(d));
        return true;
      }
      case 'qmark-or-safe': {
        this.skipWs();
        if (this.s.charCodeAt(this.i) === 63) {
          this.i++;
          return true;
        }
        return this.safeString() !== undefined;
      }
      case 'addr': {
        if (this.s.charCodeAt(this.i) === 63) {
          this.i++;
          return true;
        }
        if (this.s.startsWith('none', this.i) && !isIdChar(this.s.charCodeAt(this.i + 4))) {
          this.i += 4;
          return true;
        }
        const v = this.safeString();
        if (v === undefined) return false;
        spec.str?.(rec, v);
        return true;
      }
    }
  }

  /** [0-9]+ as strtol reads it (saturating); -1 when there are no digits */
  private number(): number {
    const s = this.s;
    const start = this.i;
    let v = 0;
    let i = start;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    if (i === start) return -1;
    this.i = i;
    return i - start <= 15 ? v : digitsValue(s.slice(start, i));
  }

  /** "..." (no escapes) or, directly after '=', an upper-case hex string decoded to bytes */
  private safeString(): string | undefined {
    const c = this.s.charCodeAt(this.i);
    if (isUpperHex(c) && this.i + 1 < this.s.length && isUpperHex(this.s.charCodeAt(this.i + 1))) {
      const start = this.i;
      while (this.i + 1 < this.s.length && isUpperHex(this.s.charCodeAt(this.i)) && isUpperHex(this.s.charCodeAt(this.i + 1))) {
        this.i += 2;
      }
      return decodeHexBytes(this.s, start, this.i, true);
    }
    this.skipWs();
    return this.quoted();
  }

  private quoted(): string | undefined {
    if (this.s.charCodeAt(this.i) !== 34) return undefined;
    const close = this.s.indexOf('"', this.i + 1);
    if (close < 0) return undefined;
    const v = this.s.slice(this.i + 1, close);
    this.i = close + 1;
    return this.multiline && v.indexOf('\n') >= 0 ? v.replace(/\n/g, '') : v;
  }

  /** TOK_MSG_REST: the rest of the line, as libapparmor's scanner takes it. */
  private restOfMessage(): string {
    const s = this.s;
    let nl = s.indexOf('\n', this.i);
    if (nl < 0) nl = s.length;
    let text = s.slice(this.i, nl);
    this.i = nl;
    // the scanner stays in its "rest" state: each further non-blank line replaces the info
    while (this.i < s.length) {
      while (this.i < s.length && isWs(s.charCodeAt(this.i))) this.i++;
      if (this.i >= s.length) break;
      let e = s.indexOf('\n', this.i);
      if (e < 0) e = s.length;
      text = s.slice(this.i, e);
      this.i = e;
    }
    return text;
  }

  private digits(): string | undefined {
    const start = this.i;
    while (this.i < this.s.length && isDigit(this.s.charCodeAt(this.i))) this.i++;
    return this.i > start ? this.s.slice(start, this.i) : undefined;
  }

  private skipWs(): void {
    while (this.i < this.s.length && isWs(this.s.charCodeAt(this.i))) this.i++;
  }

  /** at least one white-space character */
  private ws1(): boolean {
    if (!isWs(this.s.charCodeAt(this.i))) return false;
    this.skipWs();
    return true;
  }

  private match(re: RegExp): boolean {
    re.lastIndex = this.i;
    if (!re.test(this.s)) return false;
    this.i = re.lastIndex;
    return true;
  }

  private matchAt(re: RegExp): boolean {
    re.lastIndex = this.i;
    return re.test(this.s);
  }
}

/**
 * Parses one log line exactly as libapparmor's `parse_record()` does (audit.log, syslog,
 * dmesg and dbus forms). Never throws: unknown input is an `INVALID` record.
 */
export function parseAppArmorRecord(line: string): AaLogRecord {
  return parseAppArmorLine(line).record;
}

/** parseAppArmorRecord plus what the line said around the record (host, type, ms). */
export function parseAppArmorLine(line: string): { record: AaLogRecord; meta: AaLineMeta } {
  if (typeof line !== 'string') return { record: emptyRecord(), meta: {} };
  const nul = line.indexOf('\0');
  // libapparmor works on a C string
  const p = new AaParser(nul >= 0 ? line.slice(0, nul) : line);
  p.parse();
  return { record: p.rec, meta: p.meta };
}

/**
 * Parses just `key=value …` text with libapparmor's key rules (what follows the header of a
 * record whose envelope libapparmor does not know, e.g. journald or `node=` lines).
 */
export function parseAppArmorKeyList(text: string): AaLogRecord {
  if (typeof text !== 'string') return emptyRecord();
  const nul = text.indexOf('\0');
  const p = new AaParser(nul >= 0 ? text.slice(0, nul) : text);
  p.parseKeyListOnly();
  return p.rec;
}
