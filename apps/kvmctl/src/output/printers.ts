/**
 * `-o table|wide|yaml|json|name`, as kubectl prints them: a table with a header, `kind.group/name`
 * lines, one object as itself, several as a `List`.
 */
import type { Token__Output } from '@kvmservice/api';
import { toYaml, type Resource, type ResourceKind } from '@kvmservice/resources';
import { usageError } from '../io.js';
import { objectRef } from '../resource-types.js';
import { columnsFor, LABELS_COLUMN, TOKEN_COLUMNS, visibleColumns, type Column } from './columns.js';
import { columnWidths, formatRow, formatTable, type Row } from './table.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'yaml', 'json', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o` value, checked against what the command supports (usage error otherwise). */
export function parseOutputFormat<F extends string>(text: string | undefined, allowed: readonly F[], fallback: F): F {
  if (text === undefined || text === '') return fallback;
  if (!(allowed as readonly string[]).includes(text)) {
    throw usageError(`unable to match a printer suitable for the output format "${text}", allowed formats are: ${allowed.join(',')}`);
  }
  return text as F;
}

/** kubectl's List, keys in its order. */
export function listOf(items: readonly unknown[]): unknown {
  return { apiVersion: 'v1', items: items.map(ordered), kind: 'List', metadata: { resourceVersion: '' } };
}

const TOP_LEVEL = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/** An object with kubectl's top-level key order (apiVersion, kind, metadata, spec, status, rest). */
export function ordered(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  if (o.kind === 'List') return o;
  const keys = [...TOP_LEVEL.filter((k) => k in o), ...Object.keys(o).filter((k) => !TOP_LEVEL.includes(k))];
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

export function jsonText(value: unknown): string {
  return `${JSON.stringify(ordered(value), null, 2)}\n`;
}

export function yamlText(value: unknown): string {
  return toYaml([ordered(value)]);
}

/** A token as printed by `-o yaml|json` (the wire message, with readable times). */
export function tokenObject(t: Token__Output): Record<string, unknown> {
  return {
    id: t.id,
    hostname: t.hostname,
    labels: t.labels ?? {},
    description: t.description,
    createdAt: Number(t.createdAt) > 0 ? new Date(Number(t.createdAt)).toISOString() : '',
    expiresAt: Number(t.expiresAt) > 0 ? new Date(Number(t.expiresAt)).toISOString() : '',
    usedBy: t.usedBy,
  };
}

export interface ResourceGroup {
  kind: ResourceKind;
  items: Resource[];
}

export interface PrintOptions {
  format: OutputFormat;
  now: Date;
  showLabels?: boolean;
  noHeaders?: boolean;
  /** One object was asked for by name: json/yaml print it as itself, not as a List. */
  single?: boolean;
}

function resourceColumns(kind: ResourceKind, options: PrintOptions, qualifyNames: boolean): Column<Resource>[] {
  const columns = visibleColumns(columnsFor(kind), options.format === 'wide').map((c) =>
    qualifyNames && c.header === 'NAME' ? { ...c, value: (o: Resource) => objectRef(kind, o.metadata.name) } : c,
  );
  return options.showLabels ? [...columns, LABELS_COLUMN] : columns;
}

function table<T>(columns: readonly Column<T>[], items: readonly T[], options: PrintOptions): string {
  const rows = items.map((item) => columns.map((c) => c.value(item, options.now)));
  return options.noHeaders ? formatTable(rows[0] ?? [], rows.slice(1)) : formatTable(columns.map((c) => c.header), rows);
}

/** Objects of one or more kinds, in the chosen format. */
export function formatResources(groups: readonly ResourceGroup[], options: PrintOptions): string {
  const all = groups.flatMap((g) => g.items);
  switch (options.format) {
    case 'name':
      return groups.flatMap((g) => g.items.map((o) => `${objectRef(g.kind, o.metadata.name)}\n`)).join('');
    case 'json':
      return jsonText(options.single && all.length === 1 ? all[0] : listOf(all));
    case 'yaml':
      return yamlText(options.single && all.length === 1 ? all[0] : listOf(all));
    case 'table':
    case 'wide': {
      const nonEmpty = groups.filter((g) => g.items.length > 0);
      return nonEmpty.map((g) => table(resourceColumns(g.kind, options, nonEmpty.length > 1), g.items, options)).join('\n');
    }
  }
}

export function formatTokens(tokens: readonly Token__Output[], options: PrintOptions): string {
  switch (options.format) {
    case 'name':
      return tokens.map((t) => `token/${t.id}\n`).join('');
    case 'json':
      return jsonText(options.single && tokens.length === 1 ? tokenObject(tokens[0]!) : listOf(tokens.map(tokenObject)));
    case 'yaml':
      return yamlText(options.single && tokens.length === 1 ? tokenObject(tokens[0]!) : listOf(tokens.map(tokenObject)));
    case 'table':
    case 'wide':
      return tokens.length === 0 ? '' : table(visibleColumns(TOKEN_COLUMNS, options.format === 'wide'), tokens, options);
  }
}

/**
 * Prints `get --watch` output: the first batch as a table with a header, later changes as rows in
 * the same columns (widened when a value needs it), or one object per change in yaml/json/name.
 */
export class WatchPrinter {
  private widths: number[] | undefined;
  private readonly columns: Column<Resource>[];

  constructor(
    private readonly kind: ResourceKind,
    private readonly options: PrintOptions & { showEventType?: boolean },
  ) {
    const base = resourceColumns(kind, options, false);
    this.columns = options.showEventType ? [{ header: 'EVENT', value: () => '' }, ...base] : base;
  }

  /** Rows or documents for some objects; `type` is the watch event (ADDED, MODIFIED, DELETED). */
  print(changes: readonly { type: string; object: Resource }[], now = this.options.now): string {
    if (changes.length === 0) return '';
    const { format, showEventType } = this.options;
    if (format === 'name') return changes.map((c) => `${showEventType ? `${c.type} ` : ''}${objectRef(this.kind, c.object.metadata.name)}\n`).join('');
    if (format === 'json') return changes.map((c) => jsonText(showEventType ? { type: c.type, object: c.object } : c.object)).join('');
    if (format === 'yaml') return changes.map((c) => `---\n${yamlText(showEventType ? { type: c.type, object: c.object } : c.object)}`).join('');
    const rows: Row[] = changes.map((c) => this.columns.map((col) => (col.header === 'EVENT' ? c.type : col.value(c.object, now))));
    let out = '';
    if (!this.widths) {
      const header = this.columns.map((c) => c.header);
      this.widths = columnWidths([header, ...rows]);
      if (!this.options.noHeaders) out += formatRow(header, this.widths);
    } else {
      this.widths = columnWidths([this.widths.map((w) => ' '.repeat(Math.max(0, w - 3))), ...rows]);
    }
    return out + rows.map((r) => formatRow(r, this.widths!)).join('');
  }
}
