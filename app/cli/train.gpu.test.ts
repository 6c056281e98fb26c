import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureTask } from '../../test/tasks.ts';
import { parseModelConfig } from '../model/config.ts';
import { importPeftAdapter } from '../train/peft.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

describe('cocktail train', { timeout: 300_000 }, () => {
  it('runs a finance cocktail recipe on the real model and data: per-task losses, evaluation, a PEFT adapter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-recipe-'));
    const recipe = {
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [
        fixtureTask('fpb', { max_examples: 48 }),
        fixtureTask('alpaca', { role: 'regularizer', max_examples: 24 }),
      ],
      mixture: { strategy: 'temperature', temperature: 2 },
      lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
      batch_size: 2,
      max_length: 96,
      steps: 3,
      eval_every: 1000,
      eval_examples: 6,
      eval_max_new_tokens: 8,
      checkpoint_every: 2,
      seed: 3,
    };
    const recipePath = join(dir, 'finance.json');
    await writeFile(recipePath, JSON.stringify(recipe));
    const { stdout } = await run(process.execPath, [BIN, 'train', '--recipe', recipePath, '--out', join(dir, 'run'), '--json'], { maxBuffer: 16 * 2 ** 20 });
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(steps.every((e) => Number.isFinite(e.loss))).toBe(true);
    const evals = events.filter((e) => e.event === 'eval');
    expect(evals.map((e) => [e.task, e.metric])).toEqual([['fpb', 'accuracy'], ['alpaca', 'rouge_l']]);
    expect(events.find((e) => e.event === 'task' && e.task === 'fpb')).toMatchObject({ rows: 4846 });
    const adapterDir = join(dir, 'run', 'adapter');
    const config = parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
    const adapter = await importPeftAdapter({ config: await readFile(join(adapterDir, 'adapter_config.json'), 'utf8'), weights: new Blob([await readFile(join(adapterDir, 'adapter_model.safetensors'))]) }, config);
    expect(adapter.config.targets.sort()).toEqual(['q_proj', 'v_proj']);
    expect([...adapter.pairs.values()].some((pair) => pair.b.some((v) => v !== 0))).toBe(true);

    // Evaluating the exported adapter on its own gives the run's final numbers.
    const evaluated = (await run(process.execPath, [BIN, 'eval', '--recipe', recipePath, '--adapter', adapterDir, '--json'])).stdout;
    const again = evaluated.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const task of ['fpb', 'alpaca']) {
      const final = evals.find((e) => e.task === task)!;
      expect(again.find((e) => e.task === task)).toMatchObject({ metric: final.metric, score: final.score, loss: final.loss });
    }
    // Classification reports per class, checked against the confusion matrix it prints.
    type Scores = { precision: number; recall: number; f1: number; support: number };
    const fpb = again.find((e) => e.task === 'fpb') as { examples: number; score: number; per_class: Record<string, Scores>; macro_f1: number; majority_accuracy: number; confusion: Record<string, Record<string, number>> };
    const labels = ['negative', 'neutral', 'positive'];
    expect(Object.keys(fpb.per_class)).toEqual(labels);
    expect(Object.keys(fpb.confusion)).toEqual(labels);
    const cell = (expected: string, got: string) => fpb.confusion[expected]![got]!;
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    expect(sum(labels.flatMap((expected) => labels.map((got) => cell(expected, got))))).toBe(fpb.examples);
    expect(fpb.score).toBeCloseTo(sum(labels.map((label) => cell(label, label))) / fpb.examples, 12);
    const f1s: number[] = [];
    for (const label of labels) {
      const support = sum(labels.map((got) => cell(label, got)));
      const predicted = sum(labels.map((expected) => cell(expected, label)));
      const precision = predicted === 0 ? 0 : cell(label, label) / predicted;
      const recall = support === 0 ? 0 : cell(label, label) / support;
      expect(fpb.per_class[label]).toMatchObject({ support });
      expect(fpb.per_class[label]!.precision).toBeCloseTo(precision, 12);
      expect(fpb.per_class[label]!.recall).toBeCloseTo(recall, 12);
      if (support + predicted > 0) f1s.push(precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall));
    }
    expect(fpb.macro_f1).toBeCloseTo(sum(f1s) / f1s.length, 12);
    expect(fpb.majority_accuracy).toBeCloseTo(Math.max(...labels.map((label) => fpb.per_class[label]!.support)) / fpb.examples, 12);
    await rm(dir, { recursive: true });
  });

  it('clamps a max_length longer than the model’s context before it prepares the data, and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-recipe-'));
    const recipe = {
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [fixtureTask('fpb', { max_examples: 8, validation_fraction: 0.002 })],
      batch_size: 2,
      max_length: 4096,
      steps: 1,
      eval_examples: 2,
    };
    const recipePath = join(dir, 'long.json');
    await writeFile(recipePath, JSON.stringify(recipe));
    const { stdout } = await run(process.execPath, [BIN, 'eval', '--recipe', recipePath, '--json']);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events[0]).toEqual({ event: 'notice', message: "max_length 4096 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128." });
    expect(events.find((e) => e.event === 'eval')).toMatchObject({ task: 'fpb', examples: 2 });
    await rm(dir, { recursive: true });
  });

  it('names the recipe file and every problem in it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cocktail-recipe-'));
    const recipePath = join(dir, 'bad.json');
    await writeFile(recipePath, JSON.stringify({ model: { source: 'x' }, tasks: [{ name: 'a', source: { file: 'a.csv' }, format: 'csv' }] }));
    const failure = await run(process.execPath, [BIN, 'train', '--recipe', recipePath]).catch((error: { stderr: string }) => error);
    expect((failure as { stderr: string }).stderr).toMatch(/bad\.json has 2 problems:\n {2}tasks\[0\]\.format: must be one of[\s\S]*steps: give "steps" or "epochs"/);
    await rm(dir, { recursive: true });
  });
});
