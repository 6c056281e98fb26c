import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStorage } from '../store/fs.ts';
import type { Storage } from '../store/storage.ts';
import type { TaskEvaluation } from './evaluate.ts';
import type { PeftFiles } from './peft.ts';
import { parseRecipe, type Recipe } from './recipe.ts';
import { checkAdaptiveTasks, deleteRunControl, RunControl, type ControlledTrainer } from './run-control.ts';
import type { PreparedTask } from './task-data.ts';

let root: string;
let storage: Storage;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'run-control-'));
  storage = await openFileStorage(root);
});
afterEach(async () => {
  await storage.close();
  await rm(root, { recursive: true, force: true });
});

const recipe = (extra: Record<string, unknown>): Recipe =>
  parseRecipe({ model: { source: 'm' }, tasks: [{ name: 'a', source: { file: 'a.txt' }, format: 'text' }, { name: 'b', source: { file: 'b.txt' }, format: 'text' }], steps: 100, ...extra });

const task = (name: string, validation: number): PreparedTask => ({ name, role: 'task', metric: 'loss', train: [], validation: new Array(validation).fill(null), validationPrompts: [], meanTokens: 1 }) as unknown as PreparedTask;
const tasks = [task('a', 4), task('b', 4)];

/** A trainer whose adapters at step s are the bytes [s, s, s]: which step's adapters were exported is plain to see. */
function fakeTrainer(): ControlledTrainer & { step: number; multipliers: number[] } {
  const trainer = {
    step: 0,
    multipliers: [1, 1],
    mixProbabilities: () => trainer.multipliers.map((m) => m / (trainer.multipliers[0]! + trainer.multipliers[1]!)),
    setMixMultipliers: (m: readonly number[]) => {
      trainer.multipliers = [...m];
    },
    exportAdapters: async (): Promise<Map<string, PeftFiles>> => new Map([['shared', { config: `{"step": ${trainer.step}}`, weights: new Blob([new Uint8Array([trainer.step, trainer.step, trainer.step])]) }]]),
  };
  return trainer;
}

const results = (a: number, b: number): TaskEvaluation[] => [
  { task: 'a', metric: 'loss', loss: a, score: a, examples: 4, samples: [] },
  { task: 'b', metric: 'loss', loss: b, score: b, examples: 4, samples: [] },
];

describe('RunControl', () => {
  it('keeps the best evaluation’s adapters and stops after `patience` evaluations without improvement', async () => {
    const control = await RunControl.open(recipe({ best_checkpoint: { by: 'loss', tasks: ['b'], patience: 2 } }), tasks, storage, 'r', null);
    const trainer = fakeTrainer();
    const outcomes = [];
    for (const [step, [a, b]] of [[10, [3, 3]], [20, [2, 2]], [30, [1, 2.5]], [40, [1, 2.1]]] as const) {
      trainer.step = step;
      outcomes.push(await control.afterEvaluation(step, results(a, b), trainer));
    }
    expect(outcomes.map((outcome) => outcome.best?.step ?? null)).toEqual([10, 20, null, null]);
    expect(outcomes.map((outcome) => outcome.stop !== null)).toEqual([false, false, false, true]);
    expect(outcomes[3]!.stop).toMatch(/no improvement .* in 2 evaluations since step 20/);
    const best = await control.bestAdapters();
    expect(best?.step).toBe(20);
    expect(new Uint8Array(await best!.adapters.get('shared')!.weights.arrayBuffer())).toEqual(new Uint8Array([20, 20, 20]));
  });

  it('judges by the mean score, higher being better, a loss-scored task counting as −loss', async () => {
    const control = await RunControl.open(recipe({ best_checkpoint: { by: 'score' } }), tasks, storage, 'r', null);
    const trainer = fakeTrainer();
    const scored = (accuracy: number, loss: number): TaskEvaluation[] => [
      { task: 'a', metric: 'accuracy', loss: 1, score: accuracy, examples: 4, samples: [] },
      { task: 'b', metric: 'loss', loss, score: loss, examples: 4, samples: [] },
    ];
    expect((await control.afterEvaluation(1, scored(0.5, 2), trainer)).best?.score).toBe((0.5 - 2) / 2);
    expect((await control.afterEvaluation(2, scored(0.6, 2.5), trainer)).best).toBeNull();
    expect((await control.afterEvaluation(3, scored(0.95, 2.2), trainer)).best?.step).toBe(3);
  });

  it('re-weights an adaptive mixture at each evaluation and resumes from the state of the last evaluation before the checkpoint', async () => {
    const adaptive = recipe({ mixture: { strategy: 'adaptive', adaptive: { min_share: 0, max_share: 1 } } });
    const trainer = fakeTrainer();
    const control = await RunControl.open(adaptive, tasks, storage, 'r', null);
    await control.afterEvaluation(10, results(2, 2), trainer);
    const outcome = await control.afterEvaluation(20, results(1.5, 2.5), trainer);
    expect(outcome.mixture?.multipliers).toEqual([1, 0.5]);
    expect(outcome.mixture?.reasons.map((reason) => reason.task)).toEqual(['b']);
    expect(trainer.multipliers).toEqual([1, 0.5]);
    await control.afterEvaluation(30, results(1.4, 2.8), trainer);
    // Resumed from a checkpoint at step 25: the state after step 20's evaluation, so step 30 repeats exactly.
    const resumed = await RunControl.open(adaptive, tasks, storage, 'r', 25);
    const again = fakeTrainer();
    again.multipliers = [1, 0.5];
    const repeated = await resumed.afterEvaluation(30, results(1.4, 2.8), again);
    expect(repeated.mixture?.multipliers).toEqual([1, 0.25]);
    expect(again.multipliers).toEqual([1, 0.25]);
  });

  it('refuses adaptive mixing when a prepared task has no validation examples, naming it', () => {
    expect(() => checkAdaptiveTasks(recipe({ mixture: { strategy: 'adaptive' } }), [task('a', 4), task('b', 0)])).toThrow(expect.objectContaining({ code: 'TRAIN_ADAPTIVE_NO_VALIDATION', details: { task: 'b' } }));
  });
});

describe('deleteRunControl', () => {
  it('removes the stored state and best adapters of one run only', async () => {
    const best = recipe({ best_checkpoint: { by: 'loss' } });
    const trainer = fakeTrainer();
    for (const runId of ['r', 'other']) await (await RunControl.open(best, tasks, storage, runId, null)).afterEvaluation(1, results(1, 1), trainer);
    await deleteRunControl(storage, 'r');
    expect((await storage.list('checkpoints')).map((item) => item.key).sort()).toEqual(['other#best/shared', 'other#control']);
  });
});
