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
import type { StepRecord } from '../train/trainer.ts';
import type { ExperimentSpec } from './design.ts';
import type { ArmSeedRecord } from './results.ts';
import { runExperiment, type ExperimentEvents } from './runner.ts';
import { colourTask, HELPER_WORDING, TARGET_WORDING } from './test-support.ts';

let ctx: GpuContext;
let dir: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  dir = await mkdtemp(join(tmpdir(), 'cocktail-single-arms-'));
  await writeFile(join(dir, 'target.jsonl'), colourTask(TARGET_WORDING, 'red', ['Tom', 'Ben']));
  await writeFile(join(dir, 'helper.jsonl'), colourTask(HELPER_WORDING, 'blue', ['Sam']));
});
afterAll(async () => {
  ctx?.destroy();
  await rm(dir, { recursive: true, force: true });
});

// Everything that could tell two runs apart is switched on: dropout, a warmup + cosine schedule (the
// learning rate depends on the step), two micro-batches per step, and tasks of different sizes (24 and 12 rows).
const spec = (): ExperimentSpec => ({
  recipe: parseRecipe({
    model: { source: fixturePath('models/aidreams260K') },
    tasks: ['target', 'helper'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion', metric: 'loss', validation_fraction: 0.25 })),
    mixture: { strategy: 'proportional' },
    lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj'] },
    optimizer: { lr: 1e-2 },
    schedule: { kind: 'cosine', warmup_steps: 1 },
    batch_size: 2,
    grad_accum: 2,
    max_length: 32,
    steps: 3,
    eval_examples: 6,
    checkpoint_every: 2,
    seed: 11,
  }),
  targets: ['target'],
  designs: ['single'],
  seeds: 2,
  budget: 'steps',
});

interface Observed {
  starts: string[];
  models: number;
  prepared: string[][];
  histories: Map<string, StepRecord[]>;
  adapters: Map<string, Uint8Array>;
}

function observe(): { events: ExperimentEvents; seen: Observed } {
  const seen: Observed = { starts: [], models: 0, prepared: [], histories: new Map(), adapters: new Map() };
  const events: ExperimentEvents = {
    run: {
      onStage: (stage) => {
        if (stage === 'model') seen.models++;
      },
      onPrepared: (reports) => seen.prepared.push(reports.map((report) => report.task)),
    },
    onArmStart: (arm, seed) => seen.starts.push(`${arm}/${seed}`),
    onArmDone: async (record, history, adapter) => {
      seen.histories.set(`${record.arm}/${record.seed}`, [...history]);
      seen.adapters.set(`${record.arm}/${record.seed}`, new Uint8Array(await adapter!.weights.arrayBuffer()));
    },
  };
  return { events, seen };
}

/** What a record holds that the computation decides (not the clock). */
const numbers = (records: readonly ArmSeedRecord[]) =>
  [...records].sort((a, b) => `${a.arm}/${a.seed}`.localeCompare(`${b.arm}/${b.seed}`)).map(({ arm, tasks, seed, steps, evaluations, tokens, runId }) => ({ arm, tasks, seed, steps, evaluations, tokens, runId }));
const trained = (history: readonly StepRecord[]) => history.map(({ step, loss, taskLosses, lr, gradNorm, skipped, tokens }) => ({ step, loss, taskLosses, lr, gradNorm, skipped, tokens }));

describe('single-task arms of one seed', { timeout: 600_000 }, () => {
  it('train in one run with an adapter each and give exactly the results of separate runs, on one loaded model and one preparation', async () => {
    const separate = observe();
    const apart = await runExperiment(spec(), 'x', recipeEnvironment(dir, ctx, await openFileStorage(join(dir, 'apart')), true), separate.events, { together: false });
    const joint = observe();
    const together = await runExperiment(spec(), 'x', recipeEnvironment(dir, ctx, await openFileStorage(join(dir, 'together')), true), joint.events);

    expect(separate.seen.starts).toEqual(['target/11', 'target/12', 'helper/11', 'helper/12']);
    // One run per seed for both single arms; the model loaded once and each task prepared once for the experiment.
    expect(joint.seen.starts).toEqual(['target | helper/11', 'target | helper/12']);
    expect(joint.seen.models).toBe(1);
    expect(joint.seen.prepared).toEqual([['target', 'helper']]);

    // Each arm's evaluation of every task, its steps and tokens, its step-by-step training and its adapter's bytes are those of its own run.
    expect(numbers(together.records)).toEqual(numbers(apart.records));
    for (const key of ['target/11', 'target/12', 'helper/11', 'helper/12']) {
      expect(trained(joint.seen.histories.get(key)!)).toEqual(trained(separate.seen.histories.get(key)!));
      expect(joint.seen.adapters.get(key)).toEqual(separate.seen.adapters.get(key));
    }
    expect(trained(joint.seen.histories.get('target/11')!).map((s) => s.step)).toEqual([1, 2, 3]);
    expect(together.results).toEqual(apart.results);

    // Paused at step 3 of seed 11's joint run (the target's second turn) and resumed: every task's sampler is drawn again to where it was.
    const storage = await openFileStorage(join(dir, 'resumed'));
    const controller = new AbortController();
    const stop: ExperimentEvents = {
      onStep: (p) => {
        if (p.seed === 11 && p.step === 3) controller.abort('pause');
      },
    };
    expect((await runExperiment(spec(), 'x', recipeEnvironment(dir, ctx, storage, true), stop, { signal: controller.signal })).status).toBe('paused');
    const resumed = await runExperiment(spec(), 'x', recipeEnvironment(dir, ctx, storage, true), {}, { resume: true });
    expect(numbers(resumed.records)).toEqual(numbers(together.records));
  });
});
