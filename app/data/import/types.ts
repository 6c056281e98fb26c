/**
 * What every importer yields and reports. Importers are async generators of RawRow that return an
 * ImportInfo when the file is done, so a caller can stream rows into a cache (or count them) without
 * holding the file, and still learn what was detected.
 */
import type { ProblemLog } from '../validate.ts';

/**
 * What a user can hand to an importer: a File or Blob (the studio's file picker), a byte stream
 * (fetch's body), bytes, or text already in memory (a pasted sample, a test).
 */
export type DataSource = Blob | ReadableStream<Uint8Array> | Uint8Array | ArrayBuffer | string;

/** One record of the file, before any format mapping. */
export interface RawRow {
  /** 1-based index among the file's rows: the key that problems, examples and splits share. */
  readonly row: number;
  /** 1-based physical line where the row starts, where the file has lines (not Parquet). */
  readonly line?: number;
  /** Field name to value: strings for CSV and text, any JSON value for JSON, typed values for Parquet. */
  readonly values: Readonly<Record<string, unknown>>;
}

export interface ImportProgress {
  bytesRead: number;
  /** Undefined for a stream of unknown length. */
  totalBytes: number | undefined;
}

export type TextEncodingName = 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';

export interface ImportOptions {
  /** Names the file in every message; defaults to a File's name, else "data". */
  fileName?: string;
  /** Where row problems go. Required: an importer never drops a row without saying so. */
  problems: ProblemLog;
  signal?: AbortSignal;
  onProgress?: (progress: ImportProgress) => void;
  /** Bytes per read from a Blob (default 1 MiB); tests use tiny chunks to cross every boundary. */
  chunkSize?: number;
  /** 'auto' (default): BOM, else UTF-8, falling back to windows-1252 from the first byte that is not UTF-8. */
  encoding?: TextEncodingName | 'auto';
}

export type FileFormat = 'jsonl' | 'json' | 'csv' | 'parquet' | 'text';

/** What the importer found out about the file, for the UI and `cocktail import`. */
export interface ImportInfo {
  fileName: string;
  format: FileFormat;
  /** Records found, including those that could not be read (bad JSON): row numbers run from 1 to this. */
  rows: number;
  /** Every column seen, in order of first appearance. */
  columns: string[];
  bytes: number;
  /** Text formats only. */
  encoding?: TextEncodingName;
  bom?: boolean;
  /** CSV only: the separator, and whether it was detected (true) or given (false). */
  delimiter?: string;
  delimiterDetected?: boolean;
  /** CSV only: whether the first record is a header, and whether that was detected or given. */
  header?: boolean;
  headerDetected?: boolean;
}

export type RowGenerator = AsyncGenerator<RawRow, ImportInfo, undefined>;

/** Reads a whole row generator into memory and returns its rows with the info it returned. */
export async function collectRows(rows: RowGenerator): Promise<{ rows: RawRow[]; info: ImportInfo }> {
  const collected: RawRow[] = [];
  for (;;) {
    const next = await rows.next();
    if (next.done) return { rows: collected, info: next.value };
    collected.push(next.value);
  }
}

/** Columns in order of first appearance, as rows with different keys (JSON) come in. */
export class ColumnCollector {
  private readonly seen = new Set<string>();

  addKeys(values: Readonly<Record<string, unknown>>): void {
    for (const key of Object.keys(values)) this.seen.add(key);
  }

  add(name: string): void {
    this.seen.add(name);
  }

  list(): string[] {
    return [...this.seen];
  }
}
