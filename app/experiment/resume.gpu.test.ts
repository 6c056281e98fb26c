import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { recipeEnvironment } from '../cli/recipe-env.ts';
import type { GpuContext } from '../gpu/device.ts';
import { openFileStorage } from '../store/fs.ts';
import { parseRecipe } from '../train/recipe.ts';
import type { ExperimentSpec } from './design.ts';
import type { ArmSeedRecord } from './results.ts';
import { loadExperiment, runExperiment, type ExperimentEvents } from './runner.ts';
import { colourTask, HELPER_WORDING, TARGET_WORDING } from './test-support.ts';

let ctx: GpuContext;
let dir: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  dir = await mkdtemp(join(tmpdir(), 'cocktail-experiment-resume-'));
  await writeFile(join(dir, 'target.jsonl'), colourTask(TARGET_WORDING, 'red', ['Tom', 'Ben']));
  await writeFile(join(dir, 'helper.jsonl'), colourTask(HELPER_WORDING, 'red', ['Tom', 'Ben']));
});
afterAll(async () => {
  ctx?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const recipe = (lr = 1e-2, steps = 4) =>
  parseRecipe({
    model: { source: fixturePath('models/aidreams260K') },
    tasks: ['target', 'helper'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion', metric: 'loss', validation_fraction: 0.25 })),
    mixture: { strategy: 'uniform' },
    lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj'] },
    optimizer: { lr },
    batch_size: 2,
    max_length: 32,
    steps,
    eval_examples: 6,
    checkpoint_every: 2,
    seed: 3,
  });

const spec = (lr?: number): ExperimentSpec => ({ recipe: recipe(lr), targets: ['target'], designs: ['pairs'], seeds: 2, budget: 'steps' });

/** Everything a record holds that depends on the computation (not on the clock). */
const numbers = (records: readonly ArmSeedRecord[]) =>
  [...records].sort((a, b) => `${a.arm}/${a.seed}`.localeCompare(`${b.arm}/${b.seed}`)).map(({ arm, seed, steps, evaluations, tokens }) => ({ arm, seed, steps, evaluations, tokens }));

/** The uninterrupted experiment the interrupted ones are compared with, run once for the file. */
let straightRun: ReturnType<typeof runExperiment> | undefined;
const uninterrupted = async () => (straightRun ??= openFileStorage(join(dir, 'straight')).then((storage) => runExperiment(spec(), 'straight', recipeEnvironment(dir, ctx, storage, true))));

describe('resuming an experiment', { timeout: 600_000 }, () => {
  it('stopped mid-arm (paused, then cancelled) and resumed, gives the results of an uninterrupted experiment', async () => {
    const straight = await uninterrupted();
    expect(straight.status).toBe('completed');
    expect(straight.records).toHaveLength(4);

    const storage = await openFileStorage(join(dir, 'interrupted'));
    const env = recipeEnvironment(dir, ctx, storage, true);
    const stopAt = (arm: string, seed: number, step: number, reason: string): { controller: AbortController; events: ExperimentEvents } => {
      const controller = new AbortController();
      return {
        controller,
        events: {
          onStep: (p) => {
            if (p.arm === arm && p.seed === seed && p.step === step) controller.abort(reason);
          },
        },
      };
    };
    // Paused at step 3 of the second arm's first seed: that arm checkpoints at step 3.
    const pause = stopAt('target+helper', 3, 3, 'pause');
    const paused = await runExperiment(spec(), 'x', env, pause.events, { signal: pause.controller.signal });
    expect(paused.status).toBe('paused');
    expect(paused.records.map((r) => `${r.arm}/${r.seed}`)).toEqual(['target/3', 'target/4']);

    // Cancelled (a crash, for the arm) at step 3 of the last run: its periodic checkpoint at step 2 remains.
    const cancel = stopAt('target+helper', 4, 3, 'cancel');
    await expect(runExperiment(spec(), 'x', env, cancel.events, { signal: cancel.controller.signal, resume: true })).rejects.toMatchObject({ code: 'CANCELLED' });

    const started: string[] = [];
    const resumed = await runExperiment(spec(), 'x', env, { onArmStart: (arm, seed) => started.push(`${arm}/${seed}`) }, { resume: true });
    expect(resumed.status).toBe('completed');
    expect(started).toEqual(['target+helper/4']);
    expect(numbers(resumed.records)).toEqual(numbers(straight.records));
    expect(resumed.results).toEqual(straight.results);
  });

  it('a device lost mid-arm stops the experiment with the reason; resumed on a new device, finished arms are not redone and the results are the uninterrupted ones', async () => {
    const straight = await uninterrupted();
    const storage = await openFileStorage(join(dir, 'lost'));
    const lostGpu = await acquireTestGpu();
    // Lost at step 3 of the second arm's first seed: that arm's periodic checkpoint at step 2 remains.
    const lose: ExperimentEvents = {
      onStep: (p) => {
        if (p.arm === 'target+helper' && p.seed === 3 && p.step === 3) lostGpu.destroy();
      },
    };
    await expect(runExperiment(spec(), 'z', recipeEnvironment(dir, lostGpu, storage, true), lose)).rejects.toMatchObject({
      code: 'DEVICE_LOST',
      message: expect.stringMatching(/^The GPU device was lost[\s\S]*Experiment "z" stopped with 2 arm runs finished; they are kept, and resuming continues/),
    });

    const freshGpu = await acquireTestGpu();
    try {
      const started: string[] = [];
      const resumed = await runExperiment(spec(), 'z', recipeEnvironment(dir, freshGpu, storage, true), { onArmStart: (arm, seed) => started.push(`${arm}/${seed}`) }, { resume: true });
      expect(resumed.status).toBe('completed');
      expect(started).toEqual(['target+helper/3', 'target+helper/4']);
      expect(numbers(resumed.records)).toEqual(numbers(straight.records));
      expect(resumed.results).toEqual(straight.results);
    } finally {
      freshGpu.destroy();
    }
  });

  it('refuses to resume a paused experiment with a changed recipe, and keeps its finished arms viewable', async () => {
    const storage = await openFileStorage(join(dir, 'changed'));
    const env = recipeEnvironment(dir, ctx, storage, true);
    const controller = new AbortController();
    await runExperiment(spec(), 'y', env, { onArmDone: () => controller.abort('pause') }, { signal: controller.signal });
    await expect(runExperiment(spec(2e-2), 'y', env, {}, { resume: true })).rejects.toMatchObject({ code: 'EXPERIMENT_CHANGED', message: expect.stringMatching(/different recipe or design.*1 finished arm runs stay viewable/) });
    await expect(runExperiment(spec(), 'y', env)).rejects.toMatchObject({ code: 'EXPERIMENT_EXISTS' });
    const stored = await loadExperiment(storage, 'y');
    expect(stored!.manifest.status).toBe('paused');
    expect(stored!.records.map((r) => r.arm)).toEqual(['target']);
  });

  it('warns about an experiment whose estimate is very long, and keeps training it', async () => {
    // 2 arms × 2 seeds × 100 million steps: days even at a millisecond a step.
    const long: ExperimentSpec = { recipe: recipe(1e-2, 100_000_000), targets: ['target'], designs: ['pairs'], seeds: 2, budget: 'steps' };
    const controller = new AbortController();
    const seen: string[] = [];
    const events: ExperimentEvents = {
      onWarning: (message) => seen.push(`warning: ${message}`),
      onStep: (p) => {
        seen.push(`step ${p.step}`);
        if (p.step === 3) controller.abort('cancel');
      },
    };
    await expect(runExperiment(long, 'long', recipeEnvironment(dir, ctx, await openFileStorage(join(dir, 'long')), true), events, { signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    // Warned once, after the first measured step, and training went on until it was cancelled.
    expect(seen[0]).toMatch(/^warning: This is a long experiment: about \d+ hours more at the measured speed\. It can run/);
    expect(seen.slice(1)).toEqual(['step 1', 'step 2', 'step 3']);
  });
});
