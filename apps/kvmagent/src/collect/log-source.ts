/**
 * What every audit source gives the collector: lines, each with the position just after it, so
 * that the collector can record where to resume. Positions are plain JSON values, opaque to the
 * collector and the spool.
 */
export interface LogSource {
  /** Stable name, the key of its position in the spool: `file:/var/log/audit/audit.log`, `journald`, `dmesg`. */
  readonly key: string;
  /**
   * `audit`: every line should be an audit record (audit.log), so a line that is not counts as
   * unparsed. `mixed`: a system log, where most lines are not audit records and are ignored.
   */
  readonly kind: 'audit' | 'mixed';
  /** Starts delivering lines; `sink` is called synchronously, in order. */
  start(sink: (line: string, positionAfter: unknown) => void): void;
  /** Stops following after delivering what can be read now. */
  stop(): Promise<void>;
  /** Lines the source had to cut (longer than its bound) — also counted by the parser as too long. */
  readonly linesTruncated: number;
  /** The position delivered lines start from (before any line). */
  readonly startPosition: unknown;
}

/** Lines are cut at this length (the parser reports longer ones as unparsed anyway). */
export const MAX_LINE_BYTES = 1024 * 1024;
