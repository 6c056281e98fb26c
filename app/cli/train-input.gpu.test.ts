/**
 * `cocktail train --json` on the inputs of issue 13: a large task file reports how far its preparation
 * is before the first step; rows longer than the model's positions are not trained as they are.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { loadTokenizer } from '../model/tokenizer.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cocktail-train-input-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Event = Record<string, unknown>;

async function train(recipe: Record<string, unknown>, name: string): Promise<Event[]> {
  const recipePath = join(dir, `${name}.json`);
  await writeFile(recipePath, JSON.stringify({ model: { source: fixturePath('models/aidreams260K') }, lora: { r: 2, alpha: 4, targets: ['q_proj'] }, batch_size: 2, steps: 1, eval_examples: 4, eval_max_new_tokens: 4, seed: 1, ...recipe }));
  const { stdout } = await run(process.execPath, [BIN, 'train', '--recipe', recipePath, '--out', join(dir, `run-${name}`), '--json'], { maxBuffer: 64 * 2 ** 20 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Event);
}

describe('cocktail train on large and overlong inputs', { timeout: 300_000 }, () => {
  it('reports preparation progress of a large file as JSON events, ending at its size, before the first step', async () => {
    const file = join(dir, 'large.jsonl');
    const lines = Array.from({ length: 20_000 }, (_, i) => `${JSON.stringify({ instruction: `Repeat the number ${i}`, input: 'up', output: `${i}` })}\n`);
    await appendFile(file, lines.join(''));
    const size = (await stat(file)).size;
    const events = await train({ tasks: [{ name: 'large', source: { file: 'large.jsonl' }, format: 'instruction', max_examples: 8 }], max_length: 128 }, 'large');
    const firstStep = events.findIndex((e) => e.event === 'step');
    const prepare = events.filter((e, i) => e.event === 'prepare' && i < firstStep);
    expect(prepare.filter((e) => e.stage === 'import').at(-1)).toMatchObject({ task: 'large', done: size, total: size });
    expect(prepare.filter((e) => e.stage === 'map').at(-1)).toMatchObject({ done: 20_000, total: 20_000 });
    // Eight training examples and the four validation examples an evaluation scores, not the 2,000 of the split.
    expect(prepare.filter((e) => e.stage === 'tokenize').at(-1)).toMatchObject({ done: 12, total: 12 });
    expect(events.find((e) => e.event === 'task')).toMatchObject({ task: 'large', rows: 20_000, validation: 2_000 });
  });

  it('clamps a max_length past the model\'s 128 positions, with a notice, and trains a 767-token row cut to them', async () => {
    const tokenizer = await loadTokenizer(await filesFromDirectory(fixturePath('models/aidreams260K')));
    const words = 'profits rose sharply as the company grew';
    let answer = words;
    while (tokenizer.encode(answer).length < 767) answer = `${answer} ${words}`;
    expect(tokenizer.encode(answer).length).toBeGreaterThanOrEqual(767);
    const rows = [{ instruction: 'Say it all', input: '', output: answer }, ...Array.from({ length: 11 }, (_, i) => ({ instruction: `Say ${i}`, input: '', output: `${i}` }))];
    await writeFile(join(dir, 'long.jsonl'), rows.map((row) => JSON.stringify(row)).join('\n'));
    const events = await train({ tasks: [{ name: 'long', source: { file: 'long.jsonl' }, format: 'instruction', validation_fraction: 0 }], max_length: 1024 }, 'long');
    expect(events).toContainEqual({ event: 'notice', message: "max_length 1024 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128." });
    const task = events.find((e) => e.event === 'task')!;
    expect(task).toMatchObject({ task: 'long', rows: 12, train: 12, truncated: 1 });
    expect(task.maxTokens).toBeLessThanOrEqual(128);
    expect(events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([1]);
  });
});
