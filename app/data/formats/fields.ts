/**
 * Reading one mapped field of a row, with every way it can be wrong reported to the log: absent,
 * null, empty, or of the wrong type. Formats build on these so that the same fault gets the same code
 * and the same wording whatever the format.
 */
import type { ExampleSource } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { describeJsonType } from '../import/jsonl.ts';
import type { ProblemCode, ProblemLog } from '../validate.ts';

export interface MapContext {
  log: ProblemLog;
  /**
   * The file's columns when known (CSV header, Parquet schema, or every key seen in a JSON file). A
   * mapped column missing from them is reported once for the file instead of once per row.
   */
  columns?: readonly string[];
}

export function at(row: RawRow, field?: string): { row: number; line?: number; field?: string } {
  return { row: row.row, ...(row.line === undefined ? {} : { line: row.line }), ...(field === undefined ? {} : { field }) };
}

export function sourceOf(row: RawRow): ExampleSource {
  return row.line === undefined ? { row: row.row } : { row: row.row, line: row.line };
}

export interface TextFieldOptions {
  /** The code for a present but empty value: EMPTY_ANSWER for what the model learns to say. */
  emptyCode?: Extract<ProblemCode, 'EMPTY_FIELD' | 'EMPTY_ANSWER'>;
  /** An empty string is a valid value (Alpaca's empty "input"). */
  allowEmpty?: boolean;
}

/** A text field: strings as they are, numbers and booleans as their text; anything else is a problem. */
export function readText(row: RawRow, column: string, log: ProblemLog, options: TextFieldOptions = {}): string | undefined {
  const emptyCode = options.emptyCode ?? 'EMPTY_FIELD';
  if (!Object.hasOwn(row.values, column)) {
    log.add('MISSING_FIELD', at(row, column), `the row has no field "${column}"`);
    return undefined;
  }
  const value = row.values[column];
  if (value === null || value === undefined) {
    if (options.allowEmpty) return '';
    log.add(emptyCode, at(row, column), 'the value is null');
    return undefined;
  }
  const text = scalarText(value);
  if (text === undefined) {
    log.add('WRONG_TYPE', at(row, column), `expected text, found ${describeJsonType(value)}`);
    return undefined;
  }
  if (!options.allowEmpty && text.trim() === '') {
    log.add(emptyCode, at(row, column), 'the value is empty');
    return undefined;
  }
  return text;
}

/** An optional text field (absent or null reads as ""). */
export function readOptionalText(row: RawRow, column: string, log: ProblemLog): string | undefined {
  if (!Object.hasOwn(row.values, column)) return '';
  return readText(row, column, log, { allowEmpty: true });
}

export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Checks that mapped columns exist in a file whose columns are known; reports each missing one once
 * (a file-level error, since no row could be mapped) and returns whether all are there.
 */
export function checkColumns(names: readonly string[], context: MapContext, format: string): boolean {
  const { columns, log } = context;
  if (!columns) return true;
  let ok = true;
  for (const name of names) {
    if (columns.includes(name)) continue;
    ok = false;
    log.add('MISSING_COLUMN', { field: name }, `the ${format} mapping uses column "${name}", which the file does not have (its columns: ${columns.join(', ') || 'none'})`);
  }
  return ok;
}

/** The column a mapping names, or the conventional one; `alternatives` are tried when the file has them. */
export function columnOrDefault(given: string | undefined, conventional: string, context: MapContext, alternatives: readonly string[] = []): string {
  if (given !== undefined) return given;
  if (!context.columns || context.columns.includes(conventional)) return conventional;
  return alternatives.find((name) => context.columns?.includes(name)) ?? conventional;
}

/**
 * A field that holds structured data (a list of messages, of token ids), parsed from JSON when it is
 * text, as a CSV cell holding a list is; `{ value }`, or undefined after reporting what is wrong.
 */
export function readStructuredField(row: RawRow, column: string, log: ProblemLog, expected: string): { value: unknown } | undefined {
  if (!Object.hasOwn(row.values, column)) {
    log.add('MISSING_FIELD', at(row, column), `the row has no field "${column}"`);
    return undefined;
  }
  const value = row.values[column];
  if (typeof value !== 'string') return { value };
  try {
    return { value: JSON.parse(value) };
  } catch {
    log.add('WRONG_TYPE', at(row, column), `expected ${expected}, found text that is not JSON`);
    return undefined;
  }
}
