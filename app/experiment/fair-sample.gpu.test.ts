import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { recipeEnvironment } from '../cli/recipe-env.ts';
import type { GpuContext } from '../gpu/device.ts';
import { openFileStorage } from '../store/fs.ts';
import type { TaskEvaluation } from '../train/evaluate.ts';
import { parseRecipe } from '../train/recipe.ts';
import type { ExperimentSpec } from './design.ts';
import { runExperiment } from './runner.ts';
import { ANIMALS, colourTask, HELPER_WORDING, NAMES, PLACES } from './test-support.ts';

let ctx: GpuContext;
let dir: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  dir = await mkdtemp(join(tmpdir(), 'cocktail-fair-sample-'));
  // A classification file sorted by label: 24 "red" rows, then 24 "blue" ones. Its validation split
  // keeps file order, so its first examples are all "red": a prefix would score one class only.
  const rows = (colour: string) => NAMES.slice(0, 2).flatMap((name) => ANIMALS.flatMap((animal) => PLACES.map((place) => `${name} saw a ${animal} ${place},${colour}`)));
  await writeFile(join(dir, 'colour.csv'), `text,label\n${[...rows('red'), ...rows('blue')].join('\n')}\n`);
  await writeFile(join(dir, 'helper.jsonl'), colourTask(HELPER_WORDING, 'red', ['Sam']));
});
afterAll(async () => {
  ctx?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const spec = (): ExperimentSpec => ({
  recipe: parseRecipe({
    model: { source: fixturePath('models/aidreams260K') },
    tasks: [
      { name: 'colour', source: { file: 'colour.csv' }, format: 'classification', validation_fraction: 0.25 },
      { name: 'helper', source: { file: 'helper.jsonl' }, format: 'prompt_completion', metric: 'loss', validation_fraction: 0.25 },
    ],
    mixture: { strategy: 'uniform' },
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] },
    batch_size: 2,
    max_length: 32,
    steps: 1,
    eval_examples: 4,
    seed: 21,
  }),
  targets: ['colour'],
  designs: ['single'],
  seeds: 2,
  budget: 'steps',
});

describe('the examples an experiment scores', { timeout: 600_000 }, () => {
  it('are one seeded, label-stratified sample per task, the same in every arm and seed', async () => {
    const reports = new Map<string, TaskEvaluation[]>();
    const { records } = await runExperiment(spec(), 'fair', recipeEnvironment(dir, ctx, await openFileStorage(join(dir, 'state')), true), {
      onArmDone: (record, _history, _adapter, evaluations) => void reports.set(`${record.arm}/${record.seed}`, evaluations),
    });
    // Arms colour and helper (one run per seed), under seeds 21 and 22.
    expect(records.map((r) => `${r.arm}/${r.seed}`).sort()).toEqual(['colour/21', 'colour/22', 'helper/21', 'helper/22']);
    for (const task of ['colour', 'helper']) {
      const samples = records.map((record) => record.evaluations[task]!.examples);
      expect(new Set(samples.map((sample) => JSON.stringify(sample))).size).toBe(1);
    }
    // The classification sample follows the split's labels (6 red, 6 blue): 2 of each, where the split's
    // first 4 are all red. (Only the sample is tokenized, so its indices are those of the sampled validation.)
    expect(records[0]!.evaluations.colour!.examples).toHaveLength(4);
    for (const evaluations of reports.values()) {
      const report = evaluations.find((evaluation) => evaluation.task === 'colour')!;
      expect(report.sample).toMatchObject({ splitSize: 12, whole: false, labels: { red: 2, blue: 2 }, splitLabels: { red: 6, blue: 6 } });
    }
    // The helper's 3 validation examples are fewer than eval_examples: all of them, in every arm.
    expect(records[0]!.evaluations.helper!.examples).toEqual([0, 1, 2]);
  });
});
