import { isLabelKey, LABEL_VALUE_PATTERN } from '@kvmservice/resources';
import { usageError } from './io.js';

/** Commander accumulator for repeatable options (`-f a -f b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Checks one label pair; returns the problem or undefined. */
export function labelPairProblem(key: string, value: string): string | undefined {
  if (!isLabelKey(key)) return `invalid label key ${JSON.stringify(key)}: a name of at most 63 characters (A-Z, a-z, 0-9, "-", "_", "."), with an optional DNS prefix and "/"`;
  if (!LABEL_VALUE_PATTERN.test(value)) return `invalid value ${JSON.stringify(value)} for label ${key}: at most 63 characters (A-Z, a-z, 0-9, "-", "_", "."), starting and ending with a letter or digit`;
  return undefined;
}

/** `--labels k=v,k2=v2` → a map; any bad pair is a usage error naming it. */
export function parseLabelList(text: string, flag = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw usageError(`${flag}: ${JSON.stringify(part)} is not KEY=VALUE`);
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    const problem = labelPairProblem(key, value);
    if (problem) throw usageError(`${flag}: ${problem}`);
    if (labels[key] !== undefined) throw usageError(`${flag}: label ${key} is given twice`);
    labels[key] = value;
  }
  return labels;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `10m`, `24h`, `7d`, `1h30m` → seconds; undefined when the text is not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return total;
}

/** A duration flag, as a usage error when it cannot be read or is not positive. */
export function durationFlag(flag: string, text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds <= 0) throw usageError(`${flag}: ${JSON.stringify(text)} is not a duration (examples: 90s, 10m, 24h, 7d, 1h30m)`);
  return seconds;
}

/** A non-negative integer flag. */
export function countFlag(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw usageError(`${flag}: ${JSON.stringify(text)} is not a non-negative integer`);
  return Number(text.trim());
}
