/**
 * Event batches are stored under `events/<host>/<first sequence number, 20 digits>`; the store lists
 * by prefix only. The prefixes below cover exactly the keys of a range of sequence numbers, so a
 * reader fetches the batches it needs, not every batch retention keeps (up to 100 000 events).
 * For a range spanning d digits that is at most 2 × 9 × d prefixes, most of them small.
 */

export const SEQ_DIGITS = 20;

export function seqKey(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/** Ascending, disjoint key prefixes whose keys are exactly the sequence numbers `from`..`to` (inclusive). */
export function seqRangePrefixes(from: number, to: number): string[] {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) return [];
  const out: string[] = [];
  cover(seqKey(from), seqKey(to), out);
  return out;
}

/** Prefixes covering [lo, hi] (equal-length digit strings, lo <= hi), in ascending order. */
function cover(lo: string, hi: string, out: string[]): void {
  let p = 0;
  while (p < lo.length && lo[p] === hi[p]) p++;
  if (p === lo.length) {
    out.push(lo);
    return;
  }
  const rest = lo.length - p - 1;
  if (/^0*$/.test(lo.slice(p)) && /^9*$/.test(hi.slice(p))) {
    out.push(lo.slice(0, p));
    return;
  }
  const head = lo.slice(0, p);
  const a = Number(lo[p]);
  const b = Number(hi[p]);
  // The low end: lo up to head a 9…9 (a whole prefix when lo's tail is all zeros).
  if (/^0*$/.test(lo.slice(p + 1))) out.push(`${head}${a}`);
  else cover(lo, `${head}${a}${'9'.repeat(rest)}`, out);
  for (let d = a + 1; d < b; d++) out.push(`${head}${d}`);
  // The high end: head b 0…0 up to hi.
  if (/^9*$/.test(hi.slice(p + 1))) out.push(`${head}${b}`);
  else cover(`${head}${b}${'0'.repeat(rest)}`, hi, out);
}
