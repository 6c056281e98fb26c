/**
 * `cocktail train --json` on the inputs of issue 13: a large task file reports how far its preparation
 * is before the first step.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';

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
});
