/**
 * A 50 MB JSON Lines file, prepared as a run prepares it (file storage, tokenization cache, only the
 * validation examples an evaluation scores): it is read in chunks with progress all the way, and the
 * memory it takes stays under a stated bound.
 *
 * The bound: the peak growth of the JavaScript heap plus memory outside it (buffers) while the file is
 * prepared stays under MEMORY_BOUND_FACTOR (4) times the file's size, 200 MiB here. The rows are held
 * as parsed objects (the seeded split needs them all), about three times the file (140-155 MiB
 * measured on 2 cores); caching the parse as one JSON text (275 MiB) or tokenizing all 12,000
 * validation examples (240 MiB, and two minutes) went past it. The same bound is in README.md.
 */
import { openAsBlob } from 'node:fs';
import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerIdentity } from '../../data/tokenize/index.ts';
import { openFileStorage } from '../../store/fs.ts';
import { prepareTasks, type PrepareProgress } from '../prepare.ts';
import { fixtureTokenizer, modelFiles, testRecipe } from './test-support.ts';

const FILE_BYTES = 50 * 2 ** 20;
const MEMORY_BOUND_FACTOR = 4;
const WORDS = 'the market rose sharply as profits grew and the company said it expected further gains next year'.split(' ');

let dir: string;
let file: string;

/** Rows of instruction data, written a megabyte at a time so the test itself never holds the file. */
async function writeLargeJsonl(path: string, bytes: number): Promise<number> {
  let written = 0;
  let row = 0;
  while (written < bytes) {
    const lines: string[] = [];
    let chunk = 0;
    while (chunk < 2 ** 20) {
      const text = Array.from({ length: 40 + (row % 30) }, (_, k) => WORDS[(row * 7 + k) % WORDS.length]).join(' ');
      const line = `${JSON.stringify({ instruction: `Summarize item ${row}`, input: text, output: text.slice(0, 60) })}\n`;
      lines.push(line);
      chunk += Buffer.byteLength(line);
      row++;
    }
    await appendFile(path, lines.join(''));
    written += chunk;
  }
  return row;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-large-'));
  file = join(dir, 'large.jsonl');
  await writeLargeJsonl(file, FILE_BYTES);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a 50 MB JSON Lines task file', () => {
  it('is read in chunks with progress, tokenizes only the validation examples evaluations score, and stays under its memory bound', { timeout: 120_000 }, async () => {
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThanOrEqual(FILE_BYTES);
    const files = await modelFiles();
    const tokenizer = await fixtureTokenizer();
    const storage = await openFileStorage(join(dir, 'state'));
    const recipe = testRecipe([{ name: 'large', source: { file: 'large.jsonl' }, format: 'instruction', max_examples: 64 }], { eval_examples: 20 });
    const progress: PrepareProgress[] = [];

    const memory = () => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.external;
    };
    const before = memory();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, memory())), 5);
    let prepared;
    try {
      prepared = await prepareTasks(recipe, {
        tokenizer,
        openFile: async (path) => openAsBlob(join(dir, path)),
        storage,
        tokenizerIdentity: await tokenizerIdentity(files),
        evaluatedOnly: true,
        onProgress: (event) => {
          progress.push(event);
          peak = Math.max(peak, memory());
        },
      });
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - before;
    expect(growth, `peak memory growth ${(growth / 2 ** 20).toFixed(0)} MiB for a ${(size / 2 ** 20).toFixed(0)} MiB file`).toBeLessThan(MEMORY_BOUND_FACTOR * size);

    // Read in chunks: many import events, bytes only ever growing, ending at the file's size.
    const imported = progress.filter((event) => event.stage === 'import').map((event) => event.done);
    expect(imported.length).toBeGreaterThan(20);
    expect(imported.every((done, i) => i === 0 || done >= imported[i - 1]!)).toBe(true);
    expect(imported.at(-1)).toBe(size);
    expect(progress.filter((event) => event.stage === 'map').at(-1)).toMatchObject({ done: prepared.reports[0]!.rows, total: prepared.reports[0]!.rows });

    // The split holds thousands of validation examples; only the 20 an evaluation scores were tokenized.
    const [report] = prepared.reports;
    expect(report!.split.validation).toBeGreaterThan(10_000);
    expect(prepared.tasks[0]!.validation).toHaveLength(20);
    expect(prepared.tasks[0]!.validationPrompts).toHaveLength(20);
    expect(prepared.tasks[0]!.train).toHaveLength(64);
    expect(progress.filter((event) => event.stage === 'tokenize').at(-1)).toMatchObject({ done: 64 + 20, total: 64 + 20 });
  });
});
