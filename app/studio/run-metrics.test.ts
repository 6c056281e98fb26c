import { describe, expect, it } from 'vitest';
import type { EvalEvent } from '../train/run.ts';
import { overlayCurves, runCurve, runMetricsCsv, type StepLike } from './run-metrics.ts';

const step = (n: number, loss: number, taskLosses: (number | null)[]): StepLike => ({ step: n, loss, taskLosses, lr: 1e-3 * n, gradNorm: 0.5, skipped: !Number.isFinite(loss), tokens: 128, seconds: 0.5 });
const evaluation = (n: number, phrases: number, tweets: number): EvalEvent => ({
  step: n,
  tasks: [
    { task: 'phrases', metric: 'accuracy', loss: 1.25, score: phrases, examples: 8, samples: [] },
    { task: 'tweets, finance', metric: 'loss', loss: tweets, score: tweets, examples: 8, samples: [] },
  ],
});

describe('a run’s metrics as CSV', () => {
  const run = {
    taskNames: ['phrases', 'tweets, finance'],
    history: [step(1, 2.5, [2, 3]), step(2, Number.NaN, [null, null]), step(3, 1.5, [1.5, null])],
    evaluations: [evaluation(2, 0.5, 2.25), evaluation(3, 0.75, 2)],
  };

  it('writes a header and one row per step, with validation columns on the evaluated steps', () => {
    const lines = runMetricsCsv(run).split('\r\n');
    expect(lines[0]).toBe('step,loss,loss/phrases,"loss/tweets, finance",lr,grad_norm,tokens,seconds,tokens_per_second,skipped,val_loss/phrases,val_accuracy/phrases,"val_loss/tweets, finance"');
    expect(lines[1]).toBe('1,2.5,2,3,0.001,0.5,128,0.5,256,false,,,');
    expect(lines[2]).toBe('2,NaN,,,0.002,0.5,128,0.5,256,true,1.25,0.5,2.25');
    expect(lines[3]).toBe('3,1.5,1.5,,0.003,0.5,128,0.5,256,false,1.25,0.75,2');
    expect(lines[4]).toBe('');
    expect(lines).toHaveLength(5);
  });

  it('keeps an evaluation made after the last step in the history (a run cut short of its checkpoint)', () => {
    const lines = runMetricsCsv({ ...run, history: run.history.slice(0, 1) }).trim().split('\r\n');
    expect(lines.map((line) => line.split(',')[0])).toEqual(['step', '1', '2', '3']);
    expect(lines[3]!.startsWith('3,,,,,,,,,,1.25,0.75,2')).toBe(true);
  });
});

describe('overlaid curves of several runs', () => {
  const a = { history: [step(1, 3, []), step(2, 2, []), step(3, Number.POSITIVE_INFINITY, [])], evaluations: [evaluation(2, 0.5, 2.5)] };
  const b = { history: [step(2, 2.5, []), step(4, 1, [])], evaluations: [evaluation(4, 0.25, 1.5)] };

  it('takes each run’s training loss, with a skipped step as a gap', () => {
    expect(runCurve(a, { kind: 'train-loss' })).toEqual([
      { step: 1, value: 3 },
      { step: 2, value: 2 },
      { step: 3, value: null },
    ]);
  });

  it('takes a task’s validation loss or metric, and nothing for a task scored by loss alone', () => {
    expect(runCurve(b, { kind: 'val-score', task: 'phrases' })).toEqual([{ step: 4, value: 0.25 }]);
    expect(runCurve(b, { kind: 'val-loss', task: 'tweets, finance' })).toEqual([{ step: 4, value: 1.5 }]);
    expect(runCurve(b, { kind: 'val-score', task: 'tweets, finance' })).toEqual([]);
    expect(runCurve(b, { kind: 'val-loss', task: 'absent' })).toEqual([]);
  });

  it('lines the runs up by step, leaving out what a run does not have', () => {
    const rows = overlayCurves([
      { key: 'run0', points: runCurve(a, { kind: 'train-loss' }) },
      { key: 'run1', points: runCurve(b, { kind: 'train-loss' }) },
    ]);
    expect(rows).toEqual([{ step: 1, run0: 3 }, { step: 2, run0: 2, run1: 2.5 }, { step: 3, run0: null }, { step: 4, run1: 1 }]);
  });
});
