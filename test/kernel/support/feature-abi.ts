/**
 * AppArmor feature ABI text (`aa-features-abi -x`, Debian's pinned features file): nested
 * `name {…}` blocks whose innermost text is a list of words. Read as the set of `path=word`
 * leaves, so two ABIs compare whatever their order.
 */
export function featureLeaves(text: string): Set<string> {
  const leaves = new Set<string>();
  const tokens = text.match(/[{}]|[^{}\s]+/g) ?? [];
  const path: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '}') path.pop();
    else if (tokens[i + 1] === '{') {
      path.push(t);
      i++;
    } else if (t !== '{') leaves.add(`${path.join('/')}=${t}`);
  }
  return leaves;
}

/** Leaves of `a` that `b` lacks. */
export function missingLeaves(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((leaf) => !b.has(leaf)).sort();
}
