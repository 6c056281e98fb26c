/** Decoded text chunks from any DataSource: the common front half of every text importer. */
import { AutoTextDecoder } from './decode.ts';
import { readByteChunks, sourceName } from './source.ts';
import type { DataSource, ImportOptions } from './types.ts';

export interface TextStream {
  fileName: string;
  decoder: AutoTextDecoder;
  chunks: AsyncGenerator<string, void, undefined>;
  /** Bytes read so far (all of them once `chunks` is done). */
  bytesRead(): number;
}

export function openTextStream(source: DataSource, options: ImportOptions): TextStream {
  const fileName = options.fileName ?? sourceName(source);
  const decoder = new AutoTextDecoder(options.encoding ?? 'auto', options.problems);
  let bytesRead = 0;
  async function* chunks(): AsyncGenerator<string, void, undefined> {
    const bytes = readByteChunks(source, {
      fileName,
      signal: options.signal,
      chunkSize: options.chunkSize,
      onProgress: (progress) => {
        bytesRead = progress.bytesRead;
        options.onProgress?.(progress);
      },
    });
    for await (const chunk of bytes) {
      const text = decoder.decode(chunk);
      if (text) yield text;
    }
    const rest = decoder.decode(new Uint8Array(0), true);
    if (rest) yield rest;
  }
  return { fileName, decoder, chunks: chunks(), bytesRead: () => bytesRead };
}
