/**
 * Bytes in chunks from any DataSource, with progress and cancellation. A Blob is read by slices, so
 * only one chunk is in memory at a time whatever the file's size, and the same code runs in a worker
 * and in Node (both have Blob and ReadableStream).
 */
import { throwIfCancelled } from '../errors.ts';
import type { DataSource, ImportProgress } from './types.ts';

export const DEFAULT_CHUNK_SIZE = 1 << 20;

export interface ByteReadOptions {
  fileName: string;
  signal?: AbortSignal;
  onProgress?: (progress: ImportProgress) => void;
  chunkSize?: number;
}

/** The name a source carries (a File has one), else the fallback. */
export function sourceName(source: DataSource, fallback = 'data'): string {
  if (typeof Blob !== 'undefined' && source instanceof Blob && 'name' in source && typeof source.name === 'string' && source.name) {
    return source.name;
  }
  return fallback;
}

/** Total size in bytes where it is known before reading. */
export function sourceSize(source: DataSource): number | undefined {
  if (typeof source === 'string') return undefined;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return source.byteLength;
  if (source instanceof Blob) return source.size;
  return undefined;
}

export async function* readByteChunks(source: DataSource, options: ByteReadOptions): AsyncGenerator<Uint8Array, number, undefined> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source;
  const totalBytes = sourceSize(bytes);
  let bytesRead = 0;
  const advance = (chunk: Uint8Array): Uint8Array => {
    bytesRead += chunk.byteLength;
    options.onProgress?.({ bytesRead, totalBytes });
    return chunk;
  };
  throwIfCancelled(options.signal, options.fileName);

  if (bytes instanceof Uint8Array || bytes instanceof ArrayBuffer) {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    for (let start = 0; start < view.byteLength; start += chunkSize) {
      throwIfCancelled(options.signal, options.fileName);
      yield advance(view.subarray(start, Math.min(start + chunkSize, view.byteLength)));
    }
    return bytesRead;
  }

  if (bytes instanceof Blob) {
    for (let start = 0; start < bytes.size; start += chunkSize) {
      throwIfCancelled(options.signal, options.fileName);
      const slice = bytes.slice(start, Math.min(start + chunkSize, bytes.size));
      yield advance(new Uint8Array(await slice.arrayBuffer()));
    }
    return bytesRead;
  }

  const reader = bytes.getReader();
  try {
    for (;;) {
      throwIfCancelled(options.signal, options.fileName);
      const { done, value } = await reader.read();
      if (done) return bytesRead;
      if (value.byteLength > 0) yield advance(value);
    }
  } finally {
    // Stops the producer (a download, a file read) when the consumer stops early or is cancelled.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
