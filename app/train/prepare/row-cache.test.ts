import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importFile } from '../../data/import/import-file.ts';
import { openFileStorage } from '../../store/fs.ts';
import { sha256Hex } from '../../data/tokenize/index.ts';
import { readCachedRows, ROW_CACHE_VERSION, rowCacheKey, writeCachedRows } from './row-cache.ts';

const CSV = 'text,label\n"good, very",1\nbad\n"fine",0\n';

describe('parsed-rows cache', () => {
  it('gives back the rows, the import info and every problem of the parse', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rows-cache-'));
    const storage = await openFileStorage(root);
    const parsed = await importFile(new Blob([CSV]), { fileName: 'tiny.csv' });
    expect(parsed.problems.errorCount).toBeGreaterThan(0);
    const key = await rowCacheKey('sha256:abc', { fileName: 'tiny.csv' });
    await writeCachedRows(storage, key, parsed);
    const back = await readCachedRows(storage, key);
    expect(back!.rows).toEqual(parsed.rows);
    expect(back!.info).toEqual(parsed.info);
    expect(back!.problems.report()).toEqual(parsed.problems.report());
    expect([...back!.problems.rowsWithErrors()]).toEqual([...parsed.problems.rowsWithErrors()]);
    await rm(root, { recursive: true });
  });

  it('keys the cache by content, file name and import options', async () => {
    const base = await rowCacheKey('sha256:abc', { fileName: 'a.csv' });
    expect(await rowCacheKey('sha256:abd', { fileName: 'a.csv' })).not.toBe(base);
    expect(await rowCacheKey('sha256:abc', { fileName: 'a.csv', delimiter: ';' })).not.toBe(base);
    expect(await rowCacheKey('sha256:abc', { fileName: 'a.csv', header: false })).not.toBe(base);
  });

  it('keys a file read as a given format, or split another way, apart from the file as detected', async () => {
    const detected = await rowCacheKey('sha256:abc', { fileName: 'notes.txt' });
    const keys = await Promise.all([
      rowCacheKey('sha256:abc', { fileName: 'notes.txt', format: 'text' }),
      rowCacheKey('sha256:abc', { fileName: 'notes.txt', format: 'text', splitting: 'paragraphs' }),
      rowCacheKey('sha256:abc', { fileName: 'notes.txt', format: 'csv' }),
      rowCacheKey('sha256:abc', { fileName: 'notes.txt', format: 'jsonl' }),
    ]);
    expect(new Set([detected, ...keys]).size).toBe(5);
    // Without them the key is the one rows were cached under before these options existed.
    expect(detected).toBe(`rows/${await sha256Hex(JSON.stringify([ROW_CACHE_VERSION, 'sha256:abc', 'notes.txt', null, null]))}`);
  });

  it('treats an unreadable item as a miss, so the file is parsed again rather than trusted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rows-cache-'));
    const storage = await openFileStorage(root);
    await storage.put('datasets', 'rows/broken', { version: 1, info: {}, problems: {} }, new TextEncoder().encode('[{"row": 1,'));
    expect(await readCachedRows(storage, 'rows/broken')).toBeUndefined();
    await rm(root, { recursive: true });
  });
});
