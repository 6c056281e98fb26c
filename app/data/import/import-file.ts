/**
 * One entry point for a file a user brings: detect its format (or take the one given), pick the
 * importer, and either stream its rows (openRowStream) or read them all (importFile).
 */
import { DataError } from '../errors.ts';
import { ProblemLog } from '../validate.ts';
import { readCsvRows, type CsvImportOptions } from './csv.ts';
import { DETECTION_BYTES, detectFileFormat } from './detect.ts';
import { readJsonRows } from './json.ts';
import { readJsonlRows } from './jsonl.ts';
import { readParquetRows } from './parquet.ts';
import { sourceName } from './source.ts';
import { readTextRows, type TextSplitting } from './text.ts';
import { collectRows, type DataSource, type FileFormat, type ImportInfo, type ImportOptions, type RawRow, type RowGenerator } from './types.ts';

export interface ImportFileOptions extends Omit<ImportOptions, 'problems'>, Pick<CsvImportOptions, 'delimiter' | 'header' | 'columnNames' | 'quote'> {
  /** 'auto' (default) detects from the name and content; a given delimiter implies 'csv'. */
  format?: FileFormat | 'auto';
  /** Plain text only. */
  splitting?: TextSplitting;
  /** JSON object of rows only: the field that receives each row's key. */
  keyField?: string;
  /** Parquet only: read just these columns. */
  columns?: readonly string[];
  /** Where problems go; a new log named after the file when omitted. */
  problems?: ProblemLog;
}

export interface ImportedFile {
  rows: RawRow[];
  info: ImportInfo;
  problems: ProblemLog;
}

/** Reads every row into memory, with what was detected and every problem found. */
export async function importFile(source: DataSource, options: ImportFileOptions = {}): Promise<ImportedFile> {
  const fileName = options.fileName ?? sourceName(source);
  const problems = options.problems ?? new ProblemLog(fileName);
  const stream = await openRowStream(source, { ...options, fileName, problems });
  const { rows, info } = await collectRows(stream.rows);
  return { rows, info, problems };
}

/** The right importer's row generator, for callers that stream rows into a cache or a counter. */
export async function openRowStream(
  source: DataSource,
  options: ImportFileOptions & { problems: ProblemLog },
): Promise<{ format: FileFormat; rows: RowGenerator }> {
  const fileName = options.fileName ?? sourceName(source);
  const importOptions = { ...options, fileName };
  let format = options.format ?? 'auto';
  const peeked = await peekHead(source, DETECTION_BYTES);
  const data = peeked.source;
  if (format === 'auto') format = options.delimiter !== undefined && options.delimiter !== 'auto' ? 'csv' : detectFileFormat(fileName, peeked.head);
  checkTextLooksReadable(fileName, format, peeked.head);
  switch (format) {
    case 'jsonl':
      return { format, rows: readJsonlRows(data, importOptions) };
    case 'json':
      return { format, rows: readJsonRows(data, importOptions) };
    case 'csv':
      return { format, rows: readCsvRows(data, importOptions) };
    case 'text':
      return { format, rows: readTextRows(data, importOptions) };
    case 'parquet':
      return { format, rows: readParquetRows(await randomAccess(data, fileName), importOptions) };
  }
}

/** Signatures of binary files people rename to .csv or .json by mistake (spreadsheets are zips). */
const BINARY_SIGNATURES: { bytes: number[]; what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive (an .xlsx spreadsheet or .zip)' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { bytes: [0x50, 0x41, 0x52, 0x31], what: 'a Parquet file' },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0], what: 'an old Office document (.xls or .doc)' },
  { bytes: [0x1f, 0x8b], what: 'a gzip archive' },
];

/**
 * Refuses an empty file and a binary one before an importer reads it as text: decoded with
 * fallbacks, a binary file becomes rows of mojibake that would otherwise train as if they were data.
 * A NUL byte never occurs in UTF-8 or Windows-1252 text (UTF-16, which has them, starts with a BOM).
 */
function checkTextLooksReadable(fileName: string, format: FileFormat, head: Uint8Array): void {
  if (head.byteLength === 0) throw new DataError('DATA_EMPTY', `${fileName} is empty (0 bytes): there are no rows to read. Choose the file that holds the data.`, { fileName });
  if (format === 'parquet') return;
  const signature = BINARY_SIGNATURES.find(({ bytes }) => bytes.every((byte, i) => head[i] === byte));
  if (signature) {
    throw new DataError('DATA_BINARY', `${fileName} is ${signature.what}, not ${format} text. Export the data as CSV, JSON Lines or Parquet and choose that file.`, { fileName, format });
  }
  const utf16 = (head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff);
  const nul = utf16 ? -1 : head.indexOf(0);
  if (nul >= 0) {
    throw new DataError('DATA_BINARY', `${fileName} holds binary data (a NUL byte at offset ${nul}), not ${format} text; it may be another kind of file renamed. Export the data as CSV, JSON Lines or Parquet and choose that file.`, {
      fileName,
      format,
      offset: nul,
    });
  }
  if (head.byteLength < DETECTION_BYTES && head.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d)) {
    throw new DataError('DATA_EMPTY', `${fileName} holds only blank space (${head.byteLength} bytes): there are no rows to read.`, { fileName });
  }
}

/** The first bytes of a source, and a source that still yields every byte (a stream cannot be rewound). */
async function peekHead(source: DataSource, bytes: number): Promise<{ head: Uint8Array; source: DataSource }> {
  if (typeof source === 'string') return { head: new TextEncoder().encode(source.slice(0, bytes)), source };
  if (source instanceof Uint8Array) return { head: source.subarray(0, bytes), source };
  if (source instanceof ArrayBuffer) return { head: new Uint8Array(source, 0, Math.min(bytes, source.byteLength)), source };
  if (source instanceof Blob) return { head: new Uint8Array(await source.slice(0, bytes).arrayBuffer()), source };
  const reader = source.getReader();
  const taken: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const next = await reader.read();
    if (next.done) {
      done = true;
      break;
    }
    taken.push(next.value);
    length += next.value.byteLength;
  }
  const head = new Uint8Array(length);
  let offset = 0;
  for (const chunk of taken) {
    head.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const replay = new ReadableStream<Uint8Array>({
    start(controller) {
      if (length > 0) controller.enqueue(head);
      if (done) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head: head.subarray(0, bytes), source: replay };
}

/** Parquet needs random access: a stream is gathered into a Blob (which a browser may keep on disk). */
async function randomAccess(source: DataSource, fileName: string): Promise<Blob | Uint8Array | ArrayBuffer> {
  if (typeof source === 'string') {
    throw new DataError('DATA_UNREADABLE', `${fileName}: Parquet is binary and cannot be given as text.`, { fileName });
  }
  if (source instanceof Blob || source instanceof Uint8Array || source instanceof ArrayBuffer) return source;
  const parts: Uint8Array[] = [];
  const reader = source.getReader();
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    parts.push(next.value);
  }
  return new Blob(parts as BlobPart[]);
}
