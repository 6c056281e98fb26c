import { describe, expect, it } from 'vitest';
import { DataError } from '../errors.ts';
import { readByteChunks, sourceName, sourceSize } from './source.ts';
import type { ImportProgress } from './types.ts';

async function drain(iterable: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

const bytes = new Uint8Array(Array.from({ length: 10 }, (_, i) => i));

describe('readByteChunks', () => {
  it('reads a Blob in slices of the chunk size and reports bytes read of the total', async () => {
    const progress: ImportProgress[] = [];
    const chunks = await drain(readByteChunks(new Blob([bytes]), { fileName: 'b', chunkSize: 4, onProgress: (p) => progress.push(p) }));
    expect(chunks.map((c) => [...c])).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(progress).toEqual([
      { bytesRead: 4, totalBytes: 10 },
      { bytesRead: 8, totalBytes: 10 },
      { bytesRead: 10, totalBytes: 10 },
    ]);
  });

  it('reads a ReadableStream as it comes, with an unknown total', async () => {
    const stream = new Blob([bytes]).stream();
    const progress: ImportProgress[] = [];
    const chunks = await drain(readByteChunks(stream, { fileName: 's', onProgress: (p) => progress.push(p) }));
    expect(chunks.reduce((n, c) => n + c.byteLength, 0)).toBe(10);
    expect(progress.at(-1)).toEqual({ bytesRead: 10, totalBytes: undefined });
  });

  it('reads bytes, an ArrayBuffer and a string', async () => {
    expect((await drain(readByteChunks(bytes, { fileName: 'u', chunkSize: 3 }))).length).toBe(4);
    expect((await drain(readByteChunks(bytes.buffer, { fileName: 'a', chunkSize: 5 }))).length).toBe(2);
    const text = await drain(readByteChunks('héllo', { fileName: 't' }));
    expect(new TextDecoder().decode(text[0])).toBe('héllo');
  });

  it('stops with DATA_CANCELLED when the signal fires between chunks', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const chunk of readByteChunks(new Blob([bytes]), { fileName: 'big.csv', chunkSize: 2, signal: controller.signal })) {
        seen.push(chunk.byteLength);
        if (seen.length === 2) controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ code: 'DATA_CANCELLED', message: expect.stringContaining('big.csv') });
    expect(seen).toEqual([2, 2]);
  });

  it('cancels the underlying stream when the reader stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(4));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const chunk of readByteChunks(stream, { fileName: 'endless' })) {
      expect(chunk.byteLength).toBe(4);
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('refuses a chunk size that is not a positive integer', async () => {
    await expect(drain(readByteChunks(bytes, { fileName: 'x', chunkSize: 0 }))).rejects.toThrow(RangeError);
  });

  it('is already cancelled when the signal fired before reading', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(drain(readByteChunks(bytes, { fileName: 'x', signal: controller.signal }))).rejects.toBeInstanceOf(DataError);
  });
});

describe('sourceName and sourceSize', () => {
  it('takes a File its name and size, and knows no size for a stream', () => {
    const file = new File(['abc'], 'rows.jsonl');
    expect(sourceName(file)).toBe('rows.jsonl');
    expect(sourceName(new Blob(['x']))).toBe('data');
    expect(sourceSize(file)).toBe(3);
    expect(sourceSize(new Blob(['x']).stream())).toBeUndefined();
  });
});
