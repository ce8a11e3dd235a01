/**
 * Tables as kubectl prints them (Go tabwriter with minwidth 6, padding 3): every column but the
 * last is padded to its widest cell plus three spaces; empty cells read `<none>`.
 */
const PADDING = 3;
const MIN_WIDTH = 6;

export type Row = readonly string[];

function cell(value: string): string {
  return value === '' ? '<none>' : value.replace(/[\t\n\r]/g, ' ');
}

/** Column widths for a header and rows (each but the last includes the padding). */
export function columnWidths(rows: readonly Row[]): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((value, i) => {
      widths[i] = Math.max(widths[i] ?? 0, MIN_WIDTH, cell(value).length + PADDING);
    });
  }
  return widths;
}

export function formatRow(row: Row, widths: readonly number[]): string {
  return `${row.map((value, i) => (i === row.length - 1 ? cell(value) : cell(value).padEnd(widths[i] ?? 0))).join('')}\n`;
}

/** A whole table: header and rows, aligned together. */
export function formatTable(header: Row, rows: readonly Row[]): string {
  const widths = columnWidths([header, ...rows]);
  return [header, ...rows].map((r) => formatRow(r, widths)).join('');
}
