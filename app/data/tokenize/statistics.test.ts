import { describe, expect, it } from 'vitest';
import { previewMix } from '../../mix/preview.ts';
import type { MixPlan } from '../../mix/types.ts';
import { IGNORE_INDEX } from '../example.ts';
import { resolveTokenizeOptions } from './options.ts';
import { taskStatistics } from './statistics.ts';
import type { TokenizedTask } from './tokenize-task.ts';
import type { TokenizedExample } from './types.ts';

const I = IGNORE_INDEX;
const example = (row: number, labels: number[]): TokenizedExample => ({
  source: { row },
  inputIds: Int32Array.from(labels, (_, t) => 100 + t),
  labels: Int32Array.from(labels),
  turnIndex: new Int32Array(labels.length).fill(-1),
  roles: [],
  truncatedTokens: 0,
});

const task = (examples: TokenizedExample[]): TokenizedTask => ({
  task: 'fpb',
  options: resolveTokenizeOptions({ template: { kind: 'plain', name: 'bare' } }),
  examples,
  report: {
    task: 'fpb',
    examplesIn: examples.length + 1,
    examples: examples.length,
    truncatedExamples: 1,
    droppedTokens: 7,
    droppedTrainedTokens: 2,
    untrained: { count: 1, byTruncation: 1, rows: [9] },
    overlong: { count: 0, rows: [] },
    droppedLengths: [],
  },
});

describe('per-task statistics', () => {
  it('counts examples, tokens, trained tokens, lengths and what truncation did', () => {
    const stats = taskStatistics(task([example(1, [I, I, 102, 103]), example(2, [I, 101]), example(3, [I, I, I, I, 104, 105])]));
    expect(stats).toEqual({
      task: 'fpb',
      examples: 3,
      tokens: 12,
      trainedTokens: 5,
      meanTokensPerExample: 4,
      meanTrainedTokensPerExample: 5 / 3,
      minTokens: 2,
      maxTokens: 6,
      truncatedExamples: 1,
      droppedTokens: 7,
      untrainedExamples: 1,
    });
  });

  it('gives zeros, not NaN or infinities, for a task with no examples', () => {
    expect(taskStatistics(task([]))).toMatchObject({ examples: 0, tokens: 0, meanTokensPerExample: 0, minTokens: 0, maxTokens: 0 });
  });

  it('feeds the mixture preview its mean tokens per example', () => {
    const stats = [taskStatistics(task([example(1, [I, 5, 6, 7])])), taskStatistics(task([example(1, [I, 5]), example(2, [I, 5, 6, 7, 8, 9])]))];
    const plan: MixPlan = {
      tasks: stats.map((s, i) => ({ name: `task ${i}`, examples: s.examples })),
      strategy: { kind: 'proportional' },
      sampleBy: 'example',
      batchSize: 2,
      totalSteps: 10,
    };
    const preview = previewMix(plan, { meanTokensPerExample: stats.map((s) => s.meanTokensPerExample) });
    expect(preview.expectedTokens).toEqual(preview.expectedExamples.map((examples, i) => examples * [4, 4][i]!));
    expect(preview.expectedTokens!.reduce((a, b) => a + b, 0)).toBeCloseTo(2 * 10 * 4, 9);
  });
});
