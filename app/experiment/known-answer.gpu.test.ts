import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { fixturePath } from '../../test/fixtures.ts';
import { recipeEnvironment } from '../cli/recipe-env.ts';
import type { GpuContext } from '../gpu/device.ts';
import { openFileStorage } from '../store/fs.ts';
import { parseRecipe } from '../train/recipe.ts';
import type { ExperimentSpec } from './design.ts';
import { runExperiment } from './runner.ts';
import { colourTask, HELPER_WORDING, TARGET_WORDING } from './test-support.ts';

let ctx: GpuContext;
let dir: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  dir = await mkdtemp(join(tmpdir(), 'cocktail-experiment-'));
  // 96 rows each: 72 to train, 24 to validate.
  await writeFile(join(dir, 'target.jsonl'), colourTask(TARGET_WORDING, 'red'));
  await writeFile(join(dir, 'helper.jsonl'), colourTask(HELPER_WORDING, 'red'));
  await writeFile(join(dir, 'conflict.jsonl'), colourTask(TARGET_WORDING, 'blue'));
});
afterAll(async () => {
  ctx?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const recipe = () =>
  parseRecipe({
    model: { source: fixturePath('models/aidreams260K') },
    tasks: ['target', 'helper', 'conflict'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion', metric: 'loss', validation_fraction: 0.25 })),
    mixture: { strategy: 'uniform' },
    lora: { r: 8, alpha: 16, dropout: 0 },
    optimizer: { lr: 1e-2 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 8,
    max_length: 32,
    steps: 4,
    eval_every: 1000,
    eval_examples: 24,
    checkpoint_every: 4,
    seed: 1,
  });

describe('a known-answer experiment on the real aidreams260K model', { timeout: 1_200_000 }, () => {
  it('finds the helper’s positive and the conflict’s negative effect on the target, with intervals that exclude zero, and leave-one-out agrees', async () => {
    // Pairs and all: the arms target, target+helper, target+conflict and all three, two seeds each. Under
    // "target-examples" every arm sees the target's 32 examples; the others add the helper's or the conflict's.
    const spec: ExperimentSpec = { recipe: recipe(), targets: ['target'], designs: ['pairs', 'all'], seeds: 2, budget: 'target-examples' };
    const storage = await openFileStorage(join(dir, 'state'));
    const { status, results } = await runExperiment(spec, 'known', recipeEnvironment(dir, ctx, storage, true));
    expect(status).toBe('completed');
    expect(results.arms.map((arm) => [arm.id, arm.steps])).toEqual([
      ['target', 4],
      ['target+helper', 8],
      ['target+conflict', 8],
      ['target+helper+conflict', 12],
    ]);
    const effect = (arm: string) => results.effects.find((e) => e.arm === arm && e.target === 'target')!;
    // The target's metric is its validation loss; a positive delta means a lower loss.
    expect(effect('target+helper').delta).toBeGreaterThan(0);
    expect(effect('target+helper').ci[0]).toBeGreaterThan(0);
    expect(effect('target+conflict').delta).toBeLessThan(0);
    expect(effect('target+conflict').ci[1]).toBeLessThan(0);
    expect(results.synergy.map((cell) => [cell.task, cell.significant, Math.sign(cell.delta)])).toEqual([
      ['helper', true, 1],
      ['conflict', true, -1],
    ]);
    const contribution = (removed: string) => results.leave_one_out.find((l) => l.target === 'target' && l.removed === removed)!.delta;
    expect(Math.sign(contribution('helper'))).toBe(1);
    expect(Math.sign(contribution('conflict'))).toBe(-1);
    expect(results.recommended!.tasks).toEqual(['target', 'helper']);
  });
});
