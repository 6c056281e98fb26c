import { describe, expect, it } from 'vitest';
import type { StepEvent, EvalEvent } from '../../train/run.ts';
import type { StepRecord } from '../../train/trainer.ts';
import type { RunRecord, TrainProgress } from '../../../workers/protocol.ts';
import { applyProgress, canResume, IDLE_RUN, mergeEvaluation, newRunId, restoredRun, taskNamesOf, type TrainRun } from './train.ts';

const record = (step: number, loss = 2 / step): StepRecord => ({ step, loss, taskLosses: [loss, null], lr: 1e-4, gradNorm: 0.5, skipped: false, tokens: 256, seconds: 0.5, gpuBytes: 1_000_000 });
const stepEvent = (step: number, loss?: number): TrainProgress => ({ kind: 'step', step: { ...record(step, loss), totalSteps: 12, tokensPerSecond: 512, etaSeconds: 12 - step } satisfies StepEvent });
const evaluation = (step: number, score = 0.5): EvalEvent => ({ step, tasks: [{ task: 'fpb', metric: 'accuracy', loss: 1.5, score, examples: 4, samples: [] }] });
const running: TrainRun = { ...IDLE_RUN, status: 'running', runId: 'r', name: 'r', taskNames: ['fpb', 'tweets'] };

describe('applyProgress', () => {
  it('turns a batch of events into one new run state', () => {
    const events: TrainProgress[] = [
      { kind: 'stage', stage: 'data' },
      { kind: 'prepare', progress: { task: 'fpb', stage: 'tokenize', done: 10, total: 20 } },
      { kind: 'stage', stage: 'train' },
      stepEvent(1),
      stepEvent(2),
      { kind: 'checkpoint', step: 2 },
      { kind: 'eval', eval: evaluation(2) },
    ];
    const next = applyProgress(running, events);
    expect(next).not.toBe(running);
    expect(next.stage).toBe('train');
    expect(next.prepare).toBeUndefined();
    expect(next.history.map((p) => p.step)).toEqual([1, 2]);
    expect(next).toMatchObject({ step: 2, totalSteps: 12, etaSeconds: 10, tokensPerSecond: 512, gpuBytes: 1_000_000, checkpointStep: 2 });
    expect(next.evaluations).toEqual([evaluation(2)]);
    expect(running.history).toEqual([]);
  });

  it('keeps preparation progress while the data stage lasts', () => {
    const next = applyProgress(running, [{ kind: 'stage', stage: 'data' }, { kind: 'prepare', progress: { task: 'fpb', stage: 'import', done: 1, total: 5 } }]);
    expect(next.prepare).toEqual({ task: 'fpb', stage: 'import', done: 1, total: 5 });
  });

  it('records a skipped step’s non-finite loss as no value, which charts leave out', () => {
    const next = applyProgress(running, [stepEvent(1, Number.NaN)]);
    expect(next.history[0]).toMatchObject({ step: 1, loss: null, taskLosses: [null, null] });
  });

  it('replaces the steps a resumed run replays from its checkpoint instead of drawing them twice', () => {
    const before = applyProgress(running, [1, 2, 3, 4].map((step) => stepEvent(step)));
    const resumed = applyProgress(before, [stepEvent(3, 9), stepEvent(4, 9), stepEvent(5, 9)]);
    expect(resumed.history.map((p) => [p.step, p.loss])).toEqual([
      [1, 2],
      [2, 1],
      [3, 9],
      [4, 9],
      [5, 9],
    ]);
  });

  it('leaves the history array untouched when a batch has no steps', () => {
    const before = applyProgress(running, [stepEvent(1)]);
    expect(applyProgress(before, [{ kind: 'checkpoint', step: 1 }]).history).toBe(before.history);
  });
});

describe('mergeEvaluation', () => {
  it('keeps one evaluation per step, in step order', () => {
    const merged = mergeEvaluation([evaluation(6), evaluation(12, 0.1)], evaluation(12, 0.9));
    expect(merged.map((e) => [e.step, e.tasks[0]!.score])).toEqual([
      [6, 0.5],
      [12, 0.9],
    ]);
    expect(mergeEvaluation([evaluation(12)], evaluation(6)).map((e) => e.step)).toEqual([6, 12]);
  });
});

describe('restoredRun', () => {
  const runRecord = (status: RunRecord['status']): RunRecord => ({
    runId: 'finance-1',
    name: 'Finance',
    recipe: { tasks: [{ name: 'fpb' }, { name: 'tweets' }] },
    status,
    step: 7,
    totalSteps: 12,
    startedAt: 1,
    updatedAt: 2,
    evaluations: [evaluation(6)],
    adapterKeys: [],
  });

  it('offers a run that was training when the page went away as interrupted, at its checkpoint’s step', () => {
    const run = restoredRun(runRecord('running'), { step: 6, history: [1, 2, 3, 4, 5, 6].map((step) => record(step)) });
    expect(run).toMatchObject({ status: 'interrupted', runId: 'finance-1', step: 6, checkpointStep: 6, totalSteps: 12, taskNames: ['fpb', 'tweets'] });
    expect(run.history.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.history[0]!.tokensPerSecond).toBe(512);
    expect(run.evaluations).toEqual([evaluation(6)]);
  });

  it('restores a paused run, and an interrupted one with no checkpoint from step 0', () => {
    expect(restoredRun(runRecord('paused'), { step: 7, history: [] })).toMatchObject({ status: 'paused', step: 7 });
    expect(restoredRun(runRecord('running'), undefined)).toMatchObject({ status: 'interrupted', step: 0, history: [] });
  });

  it('shows a finished run as it ended, with its adapters or its error', () => {
    expect(restoredRun({ ...runRecord('completed'), step: 12, adapterKeys: ['finance-1/shared'] }, { step: 12, history: [] })).toMatchObject({ status: 'completed', step: 12, adapterKeys: ['finance-1/shared'] });
    const error = { code: 'OUT_OF_MEMORY', message: 'out of memory' };
    expect(restoredRun({ ...runRecord('failed'), error }, undefined)).toMatchObject({ status: 'failed', step: 7, error });
  });

  it('reads a cancelled run back without an error to show: nobody pressed Pause, nothing failed', () => {
    const cancelled = { ...runRecord('cancelled'), step: 3, error: { code: 'CANCELLED', message: 'run finance-1 was cancelled at step 3' } };
    const run = restoredRun(cancelled, { step: 2, history: [] });
    expect(run).toMatchObject({ status: 'cancelled', step: 3 });
    expect(run).not.toHaveProperty('error');
  });
});

describe('run ids and task names', () => {
  it('names a run after its recipe and start time', () => {
    expect(newRunId('Finance cocktail!', new Date('2025-03-04T05:06:07Z'))).toMatch(/^finance-cocktail-20250304-050607-[a-z0-9]{1,4}$/);
    expect(newRunId('  ')).toMatch(/^run-/);
  });

  it('reads task names from a recipe it does not trust', () => {
    expect(taskNamesOf({ tasks: [{ name: 'a' }, {}] })).toEqual(['a', 'task 2']);
    expect(taskNamesOf(null)).toEqual([]);
    expect(taskNamesOf({ tasks: 'x' })).toEqual([]);
  });
});

describe('canResume', () => {
  it('offers Resume for failed and cancelled runs that kept a checkpoint, as for paused and interrupted ones', () => {
    expect(canResume({ status: 'failed', checkpointStep: 4 })).toBe(true);
    expect(canResume({ status: 'cancelled', checkpointStep: 2 })).toBe(true);
    expect(canResume({ status: 'paused', checkpointStep: 3 })).toBe(true);
    expect(canResume({ status: 'interrupted' })).toBe(true);
  });

  it('does not offer it for a failed or cancelled run without a checkpoint, nor for a completed or active one', () => {
    expect(canResume({ status: 'failed' })).toBe(false);
    expect(canResume({ status: 'cancelled', checkpointStep: 0 })).toBe(false);
    expect(canResume({ status: 'completed', checkpointStep: 12 })).toBe(false);
    expect(canResume({ status: 'running', checkpointStep: 2 })).toBe(false);
  });
});
