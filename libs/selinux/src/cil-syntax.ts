/**
 * CIL text as s-expressions: atoms, quoted strings (CIL has no escapes inside quotes) and lists;
 * `;` comments run to the end of the line. Total: malformed text gives `{ error }`. Used to check
 * rendered modules structurally (which statements, where policy text can appear).
 */
export type CilNode = { atom: string } | { string: string } | CilNode[];

const SPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);
const ATOM_END = new Set([...SPACE, '(', ')', '"', ';']);

export function parseCil(text: string): CilNode[] | { error: string } {
  const root: CilNode[] = [];
  const stack: CilNode[][] = [root];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ';') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (ch === '(') {
      const list: CilNode[] = [];
      stack[stack.length - 1]!.push(list);
      stack.push(list);
      i++;
    } else if (ch === ')') {
      if (stack.length === 1) return { error: `unbalanced ")" at offset ${i}` };
      stack.pop();
      i++;
    } else if (ch === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return { error: `unterminated string at offset ${i}` };
      stack[stack.length - 1]!.push({ string: text.slice(i + 1, end) });
      i = end + 1;
    } else if (SPACE.has(ch)) {
      i++;
    } else {
      let j = i;
      while (j < text.length && !ATOM_END.has(text[j]!)) j++;
      stack[stack.length - 1]!.push({ atom: text.slice(i, j) });
      i = j;
    }
  }
  if (stack.length !== 1) return { error: 'unbalanced "("' };
  return root;
}

/** Every atom and string below `node`. */
export function leaves(node: CilNode | CilNode[]): ({ atom: string } | { string: string })[] {
  if (Array.isArray(node)) return node.flatMap(leaves);
  return [node];
}
