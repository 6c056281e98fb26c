/**
 * Parquet through hyparquet. Parquet keeps its schema in a footer at the end of the file, so it needs
 * random access (a Blob, bytes, or HTTP range requests), not a one-way stream. Rows are read one row
 * group at a time: a row group is Parquet's unit of compression, so that is the least that can be held.
 * hyparquet decodes uncompressed and Snappy pages itself (the Hub's converted files are Snappy); other
 * codecs would need the hyparquet-compressors package, which is not installed.
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData, type RowGroup } from 'hyparquet';
import { DataError, throwIfCancelled } from '../errors.ts';
import { sourceName } from './source.ts';
import type { ImportOptions, RawRow, RowGenerator } from './types.ts';

export type ParquetSource = Blob | Uint8Array | ArrayBuffer | AsyncBuffer;

export interface ParquetImportOptions extends Omit<ImportOptions, 'encoding' | 'chunkSize'> {
  /** Read only these columns (Parquet is columnar, so the others are never fetched). */
  columns?: readonly string[];
  /** Rows that came before this file, so the shards of one split number their rows as one sequence. */
  rowsBefore?: number;
}

export function asyncBufferOf(source: ParquetSource): AsyncBuffer {
  if (source instanceof Uint8Array) {
    const copy = source.byteOffset === 0 && source.byteLength === source.buffer.byteLength ? source.buffer : source.slice().buffer;
    return arrayBufferBuffer(copy as ArrayBuffer);
  }
  if (source instanceof ArrayBuffer) return arrayBufferBuffer(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { byteLength: source.size, slice: (start, end) => source.slice(start, end).arrayBuffer() };
  }
  return source as AsyncBuffer;
}

function arrayBufferBuffer(buffer: ArrayBuffer): AsyncBuffer {
  return { byteLength: buffer.byteLength, slice: (start, end) => buffer.slice(start, end) };
}

export async function* readParquetRows(source: ParquetSource, options: ParquetImportOptions): RowGenerator {
  const fileName = options.fileName ?? (source instanceof Blob ? sourceName(source) : 'data.parquet');
  const file = asyncBufferOf(source);
  throwIfCancelled(options.signal, fileName);
  const metadata = await readMetadata(file, fileName);
  const available = topLevelColumns(metadata);
  const columns = options.columns ? [...options.columns] : available;
  const missing = columns.filter((name) => !available.includes(name));
  if (missing.length > 0) {
    throw new DataError('DATA_BAD_MAPPING', `${fileName} has no column ${missing.map((m) => `"${m}"`).join(', ')}; its columns are ${available.join(', ')}.`, {
      fileName,
      missing,
    });
  }
  let rowStart = 0;
  let row = options.rowsBefore ?? 0;
  for (const group of metadata.row_groups) {
    throwIfCancelled(options.signal, fileName);
    const rowEnd = rowStart + Number(group.num_rows);
    let objects: Record<string, unknown>[];
    try {
      objects = await parquetReadObjects({ file, metadata, rowStart, rowEnd, columns: options.columns ? columns : undefined });
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw unreadable(fileName, error, `rows ${rowStart + 1} to ${rowEnd}`);
    }
    for (const object of objects) {
      const values = Object.fromEntries(Object.entries(object).map(([key, value]) => [key, plainValue(value)]));
      const raw: RawRow = { row: ++row, values };
      yield raw;
    }
    rowStart = rowEnd;
    options.onProgress?.({ bytesRead: Math.min(groupEnd(group), file.byteLength), totalBytes: file.byteLength });
  }
  options.onProgress?.({ bytesRead: file.byteLength, totalBytes: file.byteLength });
  return { fileName, format: 'parquet', rows: rowStart, columns, bytes: file.byteLength };
}

async function readMetadata(file: AsyncBuffer, fileName: string): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file);
  } catch (error) {
    throw unreadable(fileName, error, 'the footer');
  }
}

function unreadable(fileName: string, error: unknown, where: string): DataError {
  const reason = error instanceof Error ? error.message : String(error);
  const hint = /compression|codec/i.test(reason) ? ' Only uncompressed and Snappy-compressed Parquet can be read here.' : '';
  return new DataError('DATA_UNREADABLE', `${fileName} could not be read as Parquet (${where}): ${reason}.${hint}`, { fileName, reason });
}

function topLevelColumns(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((child) => child.element.name);
}

/** End of a row group's bytes in the file: where progress stands once it is read. */
function groupEnd(group: RowGroup): number {
  let end = 0;
  for (const chunk of group.columns) {
    const meta = chunk.meta_data;
    if (!meta) continue;
    const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
    end = Math.max(end, start + Number(meta.total_compressed_size));
  }
  return end;
}

/**
 * Parquet INT64 arrives as bigint, which JSON cannot carry and arithmetic mixes badly with: a safe
 * integer becomes a number, anything larger stays exact as a decimal string.
 */
export function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Array.from(value, plainValue);
  if (Array.isArray(value)) return value.map(plainValue);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plainValue(inner)]));
  }
  return value;
}
