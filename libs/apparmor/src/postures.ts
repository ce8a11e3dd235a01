/** Host default postures: defaults, checking, and the `file=block,network=audit` form of the CLI. */
import type { Posture, Postures } from './render-types.js';

export const DEFAULT_POSTURES: Readonly<Postures> = { file: 'audit', network: 'audit', capabilities: 'audit' };
export const POSTURE_VALUES: readonly Posture[] = ['allow', 'audit', 'block'];
const CLASSES = Object.keys(DEFAULT_POSTURES) as (keyof Postures)[];

/** Postures with defaults filled in; a value outside allow|audit|block is a programming error. */
export function resolvePostures(postures: Partial<Postures> | undefined): Postures {
  const out = { ...DEFAULT_POSTURES };
  for (const key of CLASSES) {
    const value = postures?.[key];
    if (value === undefined) continue;
    if (!POSTURE_VALUES.includes(value)) throw new RangeError(`posture ${key} must be one of ${POSTURE_VALUES.join(', ')}, not ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out;
}

/**
 * Parses `file=block,network=audit,capabilities=allow` (any subset, any order). Never throws:
 * bad text gives one line naming the part that is wrong.
 */
export function parsePostures(text: string): { postures: Partial<Postures> } | { error: string } {
  const postures: Partial<Postures> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [key, value, extra] = part.split('=').map((s) => s.trim());
    if (extra !== undefined || key === undefined || value === undefined) return { error: `posture ${JSON.stringify(part)}: expected CLASS=VALUE` };
    if (!(CLASSES as string[]).includes(key)) return { error: `posture ${JSON.stringify(part)}: class must be one of ${CLASSES.join(', ')}` };
    if (!(POSTURE_VALUES as string[]).includes(value)) return { error: `posture ${JSON.stringify(part)}: value must be one of ${POSTURE_VALUES.join(', ')}` };
    if (postures[key as keyof Postures] !== undefined) return { error: `posture ${JSON.stringify(key)} is given twice` };
    postures[key as keyof Postures] = value as Posture;
  }
  return { postures };
}
