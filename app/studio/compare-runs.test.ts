import { describe, expect, it } from 'vitest';
import type { TaskEvaluation } from '../train/evaluate.ts';
import { compareRuns, deltaGlyph, finalEvaluation, formatDelta, formatMetric, higherIsBetter, noiseThreshold, type ComparedColumn } from './compare-runs.ts';

const task = (name: string, metric: TaskEvaluation['metric'], score: number, loss: number, examples = 100): TaskEvaluation => ({ task: name, metric, score, loss, examples, samples: [] });
const column = (id: string, tasks: TaskEvaluation[], step = 30): ComparedColumn => ({ id, label: id, evaluation: { step, tasks } });

describe('compareRuns', () => {
  const phraseOnly = column('phrase', [task('phrase', 'accuracy', 0.62, 0.9)]);
  const tweetOnly = column('tweet', [task('tweet', 'accuracy', 0.55, 1.1)]);
  const mixture = column('mix', [task('phrase', 'accuracy', 0.8, 0.7), task('tweet', 'accuracy', 0.5, 1.2)]);

  it('aligns tasks across runs that trained different tasks, leaving gaps where a run lacks one', () => {
    const rows = compareRuns([phraseOnly, tweetOnly, mixture]);
    expect(rows.map((row) => row.task)).toEqual(['phrase', 'tweet']);
    expect(rows[0]!.cells.map((cell) => cell.value)).toEqual([0.62, undefined, 0.8]);
    expect(rows[1]!.cells.map((cell) => cell.value)).toEqual([undefined, 0.55, 0.5]);
  });

  it('marks the highest score best for accuracy and the lowest loss best when comparing losses', () => {
    expect(compareRuns([phraseOnly, tweetOnly, mixture])[0]!.cells.map((cell) => cell.best)).toEqual([false, false, true]);
    const losses = compareRuns([phraseOnly, tweetOnly, mixture], { by: 'loss' });
    expect(losses[0]!.metric).toBe('loss');
    expect(losses[0]!.cells.map((cell) => cell.best)).toEqual([false, false, true]);
    expect(losses[1]!.cells.map((cell) => cell.best)).toEqual([false, true, false]);
  });

  it('marks no best cell when every run scores the same, and every top cell of a tie with something below it', () => {
    const same = [column('a', [task('t', 'accuracy', 0.5, 1)]), column('b', [task('t', 'accuracy', 0.5, 1)]), column('c', [task('t', 'accuracy', 0.5, 1)])];
    expect(compareRuns(same)[0]!.cells.map((cell) => cell.best)).toEqual([false, false, false]);
    expect(compareRuns(same, { by: 'loss' })[0]!.cells.map((cell) => cell.best)).toEqual([false, false, false]);
    const tie = [...same.slice(0, 2), column('c', [task('t', 'accuracy', 0.25, 1.5)])];
    expect(compareRuns(tie)[0]!.cells.map((cell) => cell.best)).toEqual([true, true, false]);
  });

  it('shows the sign of a difference with glyphs common fonts have: no full-width ＝', () => {
    expect([deltaGlyph(0.1), deltaGlyph(-0.1), deltaGlyph(0)]).toEqual(['▲', '▼', '=']);
    // ▲ and ▼ are in WGL4 (the set every system font covers); = is ASCII.
    expect(deltaGlyph(0).charCodeAt(0)).toBeLessThan(0x80);
  });

  it('marks no best cell when only one run has the task', () => {
    const rows = compareRuns([phraseOnly, tweetOnly]);
    expect(rows.flatMap((row) => row.cells.map((cell) => cell.best))).toEqual([false, false, false, false]);
  });

  it('gives each cell its signed difference from the baseline, judged by the metric’s direction', () => {
    const [phrase, tweet] = compareRuns([phraseOnly, tweetOnly, mixture], { baselineId: 'mix' });
    expect(phrase!.cells[0]!.delta).toBeCloseTo(-0.18);
    expect(phrase!.cells[0]!.change).toBe('worse');
    expect(phrase!.cells[2]!.delta).toBeUndefined();
    expect(tweet!.cells[1]!.delta).toBeCloseTo(0.05);
    expect(tweet!.cells[1]!.change).toBe('better');

    const [phraseLoss] = compareRuns([phraseOnly, mixture], { baselineId: 'mix', by: 'loss' });
    expect(phraseLoss!.cells[0]!.delta).toBeCloseTo(0.2);
    expect(phraseLoss!.cells[0]!.change).toBe('worse');
  });

  it('says whether a difference exceeds the noise of the validation split', () => {
    const small = column('small', [task('phrase', 'accuracy', 0.65, 0.9, 32)]);
    const large = column('large', [task('phrase', 'accuracy', 0.95, 0.5, 32)]);
    const base = column('base', [task('phrase', 'accuracy', 0.62, 1.0, 32)]);
    const [row] = compareRuns([base, small, large], { baselineId: 'base' });
    expect(row!.cells[1]!.matters).toBe(false);
    expect(row!.cells[2]!.matters).toBe(true);
  });

  it('does not compare a task measured with another metric', () => {
    const rouge = column('rouge', [task('phrase', 'rouge_l', 0.4, 0.9)]);
    const [row] = compareRuns([phraseOnly, rouge], { baselineId: 'phrase' });
    expect(row!.metric).toBe('accuracy');
    expect(row!.cells[1]).toEqual({ best: false, otherMetric: 'rouge_l' });
  });

  it('compares against nothing when the baseline is not among the columns', () => {
    const rows = compareRuns([phraseOnly, mixture], { baselineId: 'gone' });
    expect(rows[0]!.cells.every((cell) => cell.delta === undefined)).toBe(true);
  });
});

describe('metric helpers', () => {
  it('knows which way is better', () => {
    expect(higherIsBetter('loss')).toBe(false);
    for (const metric of ['accuracy', 'exact_match', 'numeric_match', 'rouge_l'] as const) expect(higherIsBetter(metric)).toBe(true);
  });

  it('takes the latest evaluation of a run as its final one', () => {
    const events = [
      { step: 10, tasks: [] },
      { step: 30, tasks: [] },
      { step: 20, tasks: [] },
    ];
    expect(finalEvaluation(events)?.step).toBe(30);
    expect(finalEvaluation([])).toBeUndefined();
  });

  it('needs at least one example’s worth of difference on a small split', () => {
    expect(noiseThreshold('accuracy', { value: 1, examples: 10 }, { value: 1, examples: 10 })).toBeCloseTo(0.1);
    expect(noiseThreshold('accuracy', { value: 0.5, examples: 100 }, { value: 0.5, examples: 100 })).toBeCloseTo(2 * Math.sqrt(0.005));
    expect(noiseThreshold('loss', { value: 2, examples: 10 }, { value: 1, examples: 10 })).toBeCloseTo(0.01);
  });

  it('formats values and signed differences for people', () => {
    expect(formatMetric('accuracy', 0.625)).toBe('62.5%');
    expect(formatMetric('loss', 1.23456)).toBe('1.235');
    expect(formatDelta('accuracy', 0.05)).toBe('+5.0 pts');
    expect(formatDelta('loss', -0.0314)).toBe('−0.031');
    expect(formatDelta('rouge_l', 0)).toBe('±0.0 pts');
  });
});
