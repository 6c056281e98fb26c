/**
 * JSON Lines: one JSON object per line. A line that does not parse is reported with its 1-based line
 * number and the parser's own words, and the next line is read as if nothing happened, so one bad line
 * never hides the rest of the file.
 */
import { LineSplitter, type TextLine } from './lines.ts';
import { openTextStream } from './text-stream.ts';
import { ColumnCollector, type DataSource, type ImportOptions, type RawRow, type RowGenerator } from './types.ts';

export async function* readJsonlRows(source: DataSource, options: ImportOptions): RowGenerator {
  const text = openTextStream(source, options);
  const lines = new LineSplitter();
  const columns = new ColumnCollector();
  const problems = options.problems;
  let rows = 0;

  function toRow({ text: lineText, line }: TextLine): RawRow | undefined {
    if (lineText.trim() === '') {
      problems.add('BLANK_LINE', { line }, 'blank line skipped');
      return undefined;
    }
    const row = ++rows;
    let value: unknown;
    try {
      value = JSON.parse(lineText);
    } catch (error) {
      problems.add('BAD_JSON', { line, row }, `not valid JSON (${jsonErrorText(error)}): ${preview(lineText)}`);
      return undefined;
    }
    if (!isPlainObject(value)) {
      problems.add('NOT_AN_OBJECT', { line, row }, `expected a JSON object of fields, found ${describeJsonType(value)}`);
      return undefined;
    }
    columns.addKeys(value);
    return { row, line, values: value };
  }

  for await (const chunk of text.chunks) {
    for (const line of lines.push(chunk)) {
      const row = toRow(line);
      if (row) yield row;
    }
  }
  for (const line of lines.end()) {
    const row = toRow(line);
    if (row) yield row;
  }
  return {
    fileName: text.fileName,
    format: 'jsonl',
    rows,
    columns: columns.list(),
    bytes: text.bytesRead(),
    encoding: text.decoder.encoding,
    bom: text.decoder.bom,
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${preview(JSON.stringify(value))})`;
  if (typeof value === 'object') return `an object (${preview(JSON.stringify(value))})`;
  return `a ${typeof value} (${preview(String(value))})`;
}

export function jsonErrorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A short excerpt of a bad value for a message: enough to find it, not the whole 4 KB line. */
export function preview(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
