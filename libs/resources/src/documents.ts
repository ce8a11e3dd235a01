/**
 * Multi-document YAML and JSON in, YAML and JSON out. Input is untrusted: sizes, nesting and alias
 * expansion are bounded, duplicate keys and unknown tags are errors, and nothing here throws.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { MAX_NESTING, tooDeepField } from './validation/nesting.js';

export interface ParsedDocument {
  /** Where the object came from: `file.yaml`, `file.yaml#2`, `file.yaml#1 items[3]`. */
  location: string;
  /** The parsed object; absent when `error` is set. */
  object?: unknown;
  /** Why the document could not be read (YAML syntax, size or nesting limits). */
  error?: string;
}

export interface DocumentLimits {
  /** Largest input accepted, in bytes of UTF-16 text (default 8 MiB). */
  maxBytes: number;
  /** Deepest nesting of maps and lists (default 64). */
  maxDepth: number;
  /** Alias nodes allowed per document (default 100; bounds "billion laughs" expansion). */
  maxAliases: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = { maxBytes: 8 * 1024 * 1024, maxDepth: MAX_NESTING, maxAliases: 100 };

/** The YAML parser recurses per level: far beyond the limit it runs out of stack, which is that limit too. */
function yamlProblem(message: string, limits: DocumentLimits): string {
  return /Maximum call stack size exceeded/.test(message) ? `document is nested deeper than ${limits.maxDepth} levels` : `yaml: ${message.split('\n')[0]}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `kind: List` (what `kubectl get -o yaml` prints) and `<Kind>List` hold their objects in `items`. */
function isList(v: unknown): v is { items: unknown[] } {
  return isObject(v) && typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items);
}

/**
 * Splits `text` into documents. Empty documents (comments only) are skipped; a List is expanded
 * into its items. `source` names the input in locations (a file name, or `-` for stdin).
 */
export function parseDocuments(text: string, source: string, limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS): ParsedDocument[] {
  if (text.length > limits.maxBytes) {
    return [{ location: source, error: `input is larger than ${limits.maxBytes} bytes` }];
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let docs;
  try {
    docs = parseAllDocuments(body, { uniqueKeys: true, prettyErrors: true, strict: true, stringKeys: true });
  } catch (e) {
    return [{ location: source, error: yamlProblem((e as Error).message, limits) }];
  }
  const list = Array.isArray(docs) ? docs : [docs];
  const nonEmpty = list.filter((d) => d.contents !== null || d.errors.length > 0);
  const numbered = nonEmpty.length > 1;
  const out: ParsedDocument[] = [];
  nonEmpty.forEach((doc, i) => {
    const location = numbered ? `${source}#${i + 1}` : source;
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      out.push({ location, error: yamlProblem(problem.message, limits) });
      return;
    }
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: limits.maxAliases });
    } catch (e) {
      out.push({ location, error: yamlProblem((e as Error).message, limits) });
      return;
    }
    if (tooDeepField(object, limits.maxDepth) !== undefined) {
      out.push({ location, error: `document is nested deeper than ${limits.maxDepth} levels` });
      return;
    }
    if (isList(object)) {
      object.items.forEach((item, j) => out.push({ location: `${location} items[${j}]`, object: item }));
    } else {
      out.push({ location, object });
    }
  });
  return out;
}

/** Objects as a multi-document YAML stream. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/** Objects as indented JSON: one object as itself, several as a Kubernetes `List`. */
export function toJson(objects: readonly unknown[]): string {
  const value = objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } };
  return `${JSON.stringify(value, null, 2)}\n`;
}
