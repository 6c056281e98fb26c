import { openAsBlob, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import type { GpuContext } from '../gpu/device.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { openFileStorage } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import { parseRecipe, type Recipe } from './recipe.ts';
import type { MixtureEvent } from './run-control.ts';
import { runRecipe, type RunEnvironment, type RunResult } from './run.ts';

let ctx: GpuContext;
let root: string;
let env: (storage: Storage) => RunEnvironment;

/** Sentences of FPB as two plain-text task files: a larger task and a small one. */
beforeAll(async () => {
  ctx = await acquireTestGpu();
  root = await mkdtemp(join(tmpdir(), 'cocktail-control-'));
  const sentences = readFileSync(fixturePath('datasets/fpb/Sentences_50Agree.txt'), 'latin1')
    .split(/\r?\n/)
    .map((line) => line.slice(0, line.lastIndexOf('@')).trim())
    .filter((line) => line.length > 0 && line.length < 90);
  await writeFile(join(root, 'big.txt'), sentences.slice(0, 48).join('\n'));
  await writeFile(join(root, 'small.txt'), sentences.slice(100, 112).join('\n'));
  const modelDir = fixturePath('models/aidreams260K');
  env = (storage) => ({ ctx, storage, openModel: () => filesFromDirectory(modelDir), openTaskFile: (path) => openAsBlob(join(root, path)) });
});
afterAll(async () => {
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

const recipe = (overrides: Record<string, unknown> = {}): Recipe =>
  parseRecipe({
    model: { source: 'aidreams260K' },
    tasks: [
      { name: 'big', source: { file: 'big.txt', file_format: 'text' }, format: 'text', validation_fraction: 0.25 },
      { name: 'small', source: { file: 'small.txt', file_format: 'text' }, format: 'text', validation_fraction: 0.25 },
    ],
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] },
    optimizer: { lr: 2e-2 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 4,
    max_length: 32,
    steps: 8,
    eval_every: 2,
    eval_examples: 4,
    checkpoint_every: 1000,
    seed: 5,
    ...overrides,
  });

async function weightsOf(result: RunResult): Promise<Uint8Array[]> {
  return Promise.all([...result.adapters.values()].map(async (files) => new Uint8Array(await files.weights.arrayBuffer())));
}

describe('adaptive mixing, best checkpoint and early stopping in a real run', { timeout: 600_000 }, () => {
  it('re-weights tasks at evaluations, and a run paused and resumed across a re-weighting is bit-identical to a straight one', async () => {
    const adaptive = recipe({ mixture: { strategy: 'adaptive', adaptive: { base: 'proportional', rule: 'remaining', rule_temperature: 0.05, min_share: 0.05, max_share: 0.95 } } });
    const straightStorage = await openFileStorage(join(root, 'straight'));
    const mixture: MixtureEvent[] = [];
    const straight = await runRecipe(adaptive, 'adaptive', env(straightStorage), { onMixture: (event) => mixture.push(event) });
    // The start, then one event per evaluation (steps 2, 4, 6 and the final 8).
    expect(mixture.map((event) => event.step)).toEqual([0, 2, 4, 6, 8]);
    expect(mixture[0]!.probabilities[0]).toBeGreaterThan(mixture[0]!.probabilities[1]!);
    const changed = mixture.filter((event) => event.reasons.length > 0);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed[0]!.step).toBeLessThan(6);
    expect(changed[0]!.probabilities).not.toEqual(mixture[0]!.probabilities);

    const pausedStorage = await openFileStorage(join(root, 'paused'));
    const controller = new AbortController();
    const pausedAt = changed[0]!.step + 1;
    const paused = await runRecipe(adaptive, 'adaptive', env(pausedStorage), { onStep: (step) => step.step === pausedAt && controller.abort('pause') }, { signal: controller.signal });
    expect(paused).toMatchObject({ status: 'paused', step: pausedAt });
    const resumedMixture: MixtureEvent[] = [];
    const resumed = await runRecipe(adaptive, 'adaptive', env(pausedStorage), { onMixture: (event) => resumedMixture.push(event) }, { resume: true });
    expect(resumed.history.map((record) => record.loss)).toEqual(straight.history.map((record) => record.loss));
    expect(resumedMixture.filter((event) => event.step > pausedAt)).toEqual(mixture.filter((event) => event.step > pausedAt));
    expect(await weightsOf(resumed)).toEqual(await weightsOf(straight));
    await straightStorage.close();
    await pausedStorage.close();
  });

  it('draws a small task less at the evaluation after its validation loss rises (a task built to overfit)', async () => {
    // Known answer: the small task trains on one word repeated and is validated on digits and symbols
    // in no order, which neither task contains: every step moves probability away from its validation
    // text, so its validation loss can only rise, and the rise rule must then halve its weight.
    const symbols = ['7', '#', '3', '%', '9', '&', '1', '+', '5', '=', '0', '~'];
    const garbage = (row: number) => Array.from({ length: 12 }, (_, i) => symbols[(row * 5 + i * 7) % symbols.length]).join(' ');
    await writeFile(join(root, 'overfit.txt'), Array.from({ length: 8 }, () => 'red red red red red red red red').join('\n'));
    await writeFile(join(root, 'overfit-validation.txt'), Array.from({ length: 8 }, (_, row) => garbage(row)).join('\n'));
    const overfitting = recipe({
      tasks: [
        { name: 'big', source: { file: 'big.txt', file_format: 'text' }, format: 'text', validation_fraction: 0.25 },
        { name: 'small', source: { file: 'overfit.txt', validation_file: 'overfit-validation.txt', file_format: 'text' }, format: 'text' },
      ],
      mixture: { strategy: 'adaptive', adaptive: { base: 'uniform', rise_threshold: 0.02, factor: 0.5 } },
    });
    const storage = await openFileStorage(join(root, 'overfit'));
    const mixture: MixtureEvent[] = [];
    const smallLoss = new Map<number, number>();
    await runRecipe(overfitting, 'overfit', env(storage), {
      onMixture: (event) => mixture.push(event),
      onEval: (event) => smallLoss.set(event.step, event.tasks.find((task) => task.task === 'small')!.loss),
    });
    await storage.close();

    const small = mixture[0]!.taskNames.indexOf('small');
    const evaluated = [...smallLoss.keys()].sort((a, b) => a - b);
    // The first evaluation whose loss for the small task is above (1 + θ) times its best before it.
    const rise = evaluated.find((step, i) => i > 0 && smallLoss.get(step)! > 1.02 * Math.min(...evaluated.slice(0, i).map((s) => smallLoss.get(s)!)));
    expect(rise, `the small task's validation loss never rose: ${JSON.stringify([...smallLoss])}`).toBeDefined();
    const before = mixture.filter((event) => event.step < rise!).at(-1)!;
    const after = mixture.find((event) => event.step === rise)!;
    expect(after.reasons.map((reason) => reason.task)).toContain('small');
    expect(after.multipliers[small]).toBeCloseTo(before.multipliers[small]! * 0.5, 12);
    expect(after.probabilities[small]).toBeLessThan(before.probabilities[small]!);
  });

  it('refuses adaptive mixing for a task without a validation split, naming it', () => {
    expect(() => recipe({ mixture: { strategy: 'adaptive' }, tasks: [{ name: 'big', source: { file: 'big.txt', file_format: 'text' }, format: 'text', validation_fraction: 0 }] })).toThrow(/task "big" has no validation split/);
  });

  it('exports the adapters of the best evaluation, bit for bit as kept, and they equal a run stopped at that step', async () => {
    const storage = await openFileStorage(join(root, 'best'));
    const best = recipe({ steps: 12, optimizer: { lr: 8e-2 }, best_checkpoint: { by: 'loss', tasks: ['small'], patience: 2 } });
    const bests: number[] = [];
    const result = await runRecipe(best, 'best', env(storage), { onBest: (event) => bests.push(event.step) });
    expect(result.best).toBeDefined();
    expect(result.best!.step).toBe(bests.at(-1));
    const losses = result.evaluations.map((evaluation) => evaluation.tasks.find((task) => task.task === 'small')!.loss);
    expect(result.best!.score).toBe(Math.min(...losses));
    const exported = await weightsOf(result);
    // Kept as stored at that evaluation.
    const kept = await storage.getBytes('checkpoints', 'best#best/shared');
    expect(exported).toEqual([kept]);
    // And the same bits as a run of the same recipe that simply ends at the best step.
    const shorter = await runRecipe(recipe({ steps: result.best!.step, optimizer: { lr: 8e-2 } }), 'shorter', env(storage));
    expect(exported).toEqual(await weightsOf(shorter));
    if (result.stoppedEarly) expect(result.step).toBeLessThan(12);
    await storage.close();
  });
});
