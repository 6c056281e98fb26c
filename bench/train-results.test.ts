import { describe, expect, it } from 'vitest';
import { trainResults, trainTable, type TrainMeasurement } from './train-results.ts';

const measured: TrainMeasurement = {
  machine: 'm',
  adapter: 'a',
  browser: 'b',
  B: 2,
  T: 16,
  oursMs: 400,
  tfjsMs: 1600,
  counts: { dispatches: 900, submits: 3, bytesToGpu: 512, readbacks: 1, busyMs: 300 },
  notes: 'n',
};

describe('bench:train results', () => {
  it('has exactly the issue fields, then notes', () => {
    expect(Object.keys(trainResults(measured))).toEqual([
      'machine',
      'adapter',
      'browser',
      'tokens_per_step',
      'ours_tokens_per_s',
      'tfjs_tokens_per_s',
      'ratio',
      'dispatches',
      'submits',
      'bytes_to_gpu',
      'readbacks',
      'gpu_busy_share',
      'notes',
    ]);
  });

  it('turns step times into tokens per second and the ratio ours over TF.js', () => {
    const results = trainResults(measured);
    // 32 tokens in 0.4 s and in 1.6 s.
    expect(results.tokens_per_step).toBe(32);
    expect(results.ours_tokens_per_s).toBeCloseTo(80, 12);
    expect(results.tfjs_tokens_per_s).toBeCloseTo(20, 12);
    expect(results.ratio).toBeCloseTo(4, 12);
    expect(results.gpu_busy_share).toBeCloseTo(0.75, 12);
    expect(results).toMatchObject({ dispatches: 900, submits: 3, bytes_to_gpu: 512, readbacks: 1 });
  });

  it('caps the busy share at 1 and refuses a step of no time', () => {
    expect(trainResults({ ...measured, counts: { ...measured.counts, busyMs: 500 } }).gpu_busy_share).toBe(1);
    expect(() => trainResults({ ...measured, tfjsMs: 0 })).toThrow(/TF.js: a step must take a positive number of milliseconds/);
  });

  it('marks a ratio under the target of 3 in the table', () => {
    expect(trainTable(trainResults({ ...measured, tfjsMs: 800 }))).toContain('| 32 | 80.00 | 40.00 | 2.00x (under 3x) | 900 | 3 | 512 | 1 | 0.75 |');
  });
});
