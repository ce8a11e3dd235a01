import { parseDocuments, type ParsedDocument } from '../documents.js';
import { formatFieldError, type FieldError } from './field-error.js';
import { validateResource, type ValidationResult } from './validate-resource.js';

/** One line per problem: `FILE[#doc] KIND/NAME: field: reason`. */
export function formatProblem(location: string, kind: string | undefined, name: string | undefined, error: FieldError): string {
  const object = kind || name ? ` ${kind ?? '<no kind>'}/${name ?? '<no name>'}` : '';
  return `${location}${object}: ${formatFieldError(error)}`;
}

export interface CheckedDocument {
  location: string;
  result: ValidationResult;
}

/** Parses and validates every document of one input; YAML errors become failed results. */
export function checkDocuments(text: string, source: string): CheckedDocument[] {
  return parseDocuments(text, source).map((doc: ParsedDocument) => ({
    location: doc.location,
    result: doc.error !== undefined ? { valid: false, errors: [{ field: '', reason: doc.error }] } : validateResource(doc.object),
  }));
}

/** The problem lines of checked documents, in input order. */
export function problemLines(checked: readonly CheckedDocument[]): string[] {
  return checked.flatMap(({ location, result }) =>
    result.valid ? [] : result.errors.map((e) => formatProblem(location, result.kind, result.name, e)),
  );
}
