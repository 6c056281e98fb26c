/**
 * CSV, TSV and other delimited text. The first 64 KiB are sampled to guess the delimiter and whether
 * there is a header (either can be given instead), then the whole file streams through the parser.
 * Every row is checked against the header's width; malformed rows are reported with their line and
 * row numbers, and a row with an unclosed quote says where the quote opened.
 */
import { DelimitedParser, type ParsedRecord } from './delimited-parser.ts';
import { detectDelimiter, detectHeader, measureDelimiter, sampleRecords } from './delimited-sniff.ts';
import { openTextStream } from './text-stream.ts';
import type { DataSource, ImportOptions, RawRow, RowGenerator } from './types.ts';

export interface CsvImportOptions extends ImportOptions {
  /** One character, or 'auto' (default): detected among , tab ; | (tab first for .tsv/.tab files). */
  delimiter?: string | 'auto';
  /** Whether the first record names the columns; 'auto' (default) guesses. */
  header?: boolean | 'auto';
  /** Column names to use: for a file without a header, or to rename a header's columns. */
  columnNames?: readonly string[];
  /** The quote character (default '"'); null when quotes in the file are ordinary characters. */
  quote?: string | null;
}

const SAMPLE_CHARS = 64 * 1024;

export async function* readCsvRows(source: DataSource, options: CsvImportOptions): RowGenerator {
  const text = openTextStream(source, options);
  const problems = options.problems;
  const quote = options.quote === undefined ? '"' : options.quote;

  // Sample the head, keeping its chunks to parse again: a stream cannot be rewound.
  const headChunks: string[] = [];
  let headLength = 0;
  // Pulled by hand: leaving a for-await loop early would close the stream.
  while (headLength < SAMPLE_CHARS) {
    const next = await text.chunks.next();
    if (next.done) break;
    headChunks.push(next.value);
    headLength += next.value.length;
  }
  const complete = headLength < SAMPLE_CHARS;
  const head = headChunks.join('');

  const delimiterGiven = options.delimiter !== undefined && options.delimiter !== 'auto';
  const guess = delimiterGiven
    ? measureDelimiter(head, options.delimiter as string, quote, complete)
    : detectDelimiter(head, quote, complete, /\.(tsv|tab)$/i.test(text.fileName) ? '\t' : ',');
  const dialect = { delimiter: guess.delimiter, quote };
  const headerGiven = options.header !== undefined && options.header !== 'auto';
  const header = headerGiven ? (options.header as boolean) : detectHeader(sampleRecords(head, dialect, complete));

  const parser = new DelimitedParser(dialect);
  let columns: string[] | undefined;
  let rows = 0;

  function toRow(record: ParsedRecord): RawRow | undefined {
    if (record.blank) {
      problems.add('BLANK_LINE', { line: record.line }, 'blank line skipped');
      return undefined;
    }
    if (!columns) {
      columns = header ? headerColumns(record, options.columnNames) : positionalColumns(guess.fieldCount, options.columnNames);
      if (header) return undefined;
    }
    const row = ++rows;
    const at = { line: record.line, row };
    if (record.unclosedQuoteLine !== undefined) {
      const swallowed = (record.endLine ?? record.line) - record.unclosedQuoteLine;
      problems.add(
        'UNCLOSED_QUOTE',
        { ...at, line: record.unclosedQuoteLine },
        `a quoted field opens on line ${record.unclosedQuoteLine} and never closes, so the ${swallowed} line(s) after it were read as one field and this row was not imported`,
      );
      return undefined;
    }
    if (record.strayQuote) problems.add('STRAY_QUOTE', at, `a quote inside an unquoted field was kept as a character`);
    if (record.fields.length !== columns.length) {
      problems.add(
        'RAGGED_ROW',
        at,
        `${record.fields.length} field(s) where the ${header ? 'header has' : 'file has'} ${columns.length} (delimiter ${JSON.stringify(dialect.delimiter)})`,
      );
    }
    const entries: [string, string][] = [];
    for (let i = 0; i < columns.length && i < record.fields.length; i++) entries.push([columns[i]!, record.fields[i]!]);
    return { row, line: record.line, values: Object.fromEntries(entries) };
  }

  function headerColumns(record: ParsedRecord, names: readonly string[] | undefined): string[] {
    if (names) return [...names];
    const seen = new Map<string, number>();
    return record.fields.map((field, index) => {
      const name = field.trim() || `column_${index + 1}`;
      const times = (seen.get(name) ?? 0) + 1;
      seen.set(name, times);
      if (times === 1) return name;
      const renamed = `${name}_${times}`;
      problems.add('DUPLICATE_COLUMN', { line: record.line }, `column ${index + 1} repeats the name "${name}" and was renamed "${renamed}"`);
      return renamed;
    });
  }

  for (const chunk of headChunks) {
    for (const record of parser.push(chunk)) {
      const row = toRow(record);
      if (row) yield row;
    }
  }
  headChunks.length = 0;
  for await (const chunk of text.chunks) {
    for (const record of parser.push(chunk)) {
      const row = toRow(record);
      if (row) yield row;
    }
  }
  for (const record of parser.end()) {
    const row = toRow(record);
    if (row) yield row;
  }
  return {
    fileName: text.fileName,
    format: 'csv',
    rows,
    columns: columns ?? [],
    bytes: text.bytesRead(),
    encoding: text.decoder.encoding,
    bom: text.decoder.bom,
    delimiter: dialect.delimiter,
    delimiterDetected: !delimiterGiven,
    header,
    headerDetected: !headerGiven,
  };
}

function positionalColumns(fieldCount: number, names: readonly string[] | undefined): string[] {
  if (names) return [...names];
  return Array.from({ length: Math.max(fieldCount, 1) }, (_, i) => `column_${i + 1}`);
}
