/**
 * kubectl-describe-shaped text: `Key:  value` lines indented two spaces per level, values aligned
 * within each level, multi-line values continued under the value column, and small tables.
 */
import { formatTable } from '../output/table.js';

type Entry = { level: number; key: string; value: string[] } | { level: number; lines: string[] };

export class DescribeWriter {
  private readonly entries: Entry[] = [];

  /** `Key:  value`; an array is shown one item per line; empty = `<none>`. */
  field(level: number, key: string, value: string | readonly string[]): this {
    const values = (typeof value === 'string' ? [value] : [...value]).flatMap((v) => v.split('\n'));
    this.entries.push({ level, key, value: values.length === 0 || (values.length === 1 && values[0] === '') ? ['<none>'] : values });
    return this;
  }

  /** `Title:` opening a nested block. */
  section(level: number, title: string): this {
    this.entries.push({ level, lines: [`${title}:`] });
    return this;
  }

  /** Raw lines at a level. */
  text(level: number, text: string): this {
    this.entries.push({ level, lines: text.replace(/\n$/, '').split('\n') });
    return this;
  }

  /** A table under the current section, or `<none>` when empty. */
  table(level: number, header: readonly string[], rows: readonly (readonly string[])[]): this {
    return rows.length === 0 ? this.text(level, '<none>') : this.text(level, formatTable(header, rows));
  }

  toString(): string {
    const width = new Map<number, number>();
    for (const e of this.entries) if ('key' in e) width.set(e.level, Math.max(width.get(e.level) ?? 0, e.key.length + 1));
    const out: string[] = [];
    for (const e of this.entries) {
      const indent = '  '.repeat(e.level);
      if ('lines' in e) {
        out.push(...e.lines.map((l) => (l === '' ? '' : `${indent}${l}`)));
        continue;
      }
      const column = (width.get(e.level) ?? 0) + 2;
      e.value.forEach((v, i) => out.push(i === 0 ? `${indent}${`${e.key}:`.padEnd(column)}${v}` : `${indent}${' '.repeat(column)}${v}`));
    }
    return `${out.join('\n')}\n`;
  }
}
