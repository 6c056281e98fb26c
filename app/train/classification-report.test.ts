import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import { classificationReport } from './classification-report.ts';

const LABELS = ['Bearish', 'Bullish', 'Neutral'];

describe('the classification report', () => {
  it('agrees with per-class counts taken one answer at a time', () => {
    const random = Random.fromSeed(5);
    // Skewed answers: mostly Neutral expected, a model that over-answers Bullish.
    const answers = Array.from({ length: 97 }, () => ({ expected: LABELS[random.int(10) < 6 ? 2 : random.int(2)]!, got: LABELS[random.int(10) < 5 ? 1 : random.int(3)]! }));
    const report = classificationReport(answers, LABELS);

    let correct = 0;
    const f1s: number[] = [];
    for (const label of LABELS) {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (const { expected, got } of answers) {
        if (expected === label && got === label) tp++;
        else if (got === label) fp++;
        else if (expected === label) fn++;
      }
      correct += tp;
      const precision = tp / (tp + fp);
      const recall = tp / (tp + fn);
      const f1 = (2 * precision * recall) / (precision + recall);
      f1s.push(f1);
      expect(report.perClass[label]!.support).toBe(tp + fn);
      expect(report.perClass[label]!.precision).toBeCloseTo(precision, 12);
      expect(report.perClass[label]!.recall).toBeCloseTo(recall, 12);
      expect(report.perClass[label]!.f1).toBeCloseTo(f1, 12);
      for (const got of LABELS) expect(report.confusion[label]![got]).toBe(answers.filter((answer) => answer.expected === label && answer.got === got).length);
    }
    expect(report.accuracy).toBeCloseTo(correct / answers.length, 12);
    expect(report.macroF1).toBeCloseTo(f1s.reduce((a, b) => a + b, 0) / 3, 12);
    const neutral = answers.filter((answer) => answer.expected === 'Neutral').length;
    expect(report.majorityLabel).toBe('Neutral');
    expect(report.majorityAccuracy).toBeCloseTo(neutral / answers.length, 12);
    expect(report.labels).toEqual(LABELS);
  });

  it('gives 0, not NaN, for a class never predicted, and leaves a class neither expected nor predicted out of macro-F1', () => {
    const answers = [
      { expected: 'Bearish', got: 'Bearish' },
      { expected: 'Bearish', got: 'Bearish' },
      { expected: 'Bullish', got: 'Bearish' },
    ];
    const report = classificationReport(answers, LABELS);
    expect(report.perClass.Bullish).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(report.perClass.Neutral).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    // Bearish: precision 2/3, recall 1, F1 0.8; Bullish 0; Neutral not counted.
    expect(report.macroF1).toBeCloseTo(0.4, 12);
    expect(report.majorityAccuracy).toBeCloseTo(2 / 3, 12);
    expect(report.confusion).toEqual({ Bearish: { Bearish: 2, Bullish: 0, Neutral: 0 }, Bullish: { Bearish: 1, Bullish: 0, Neutral: 0 }, Neutral: { Bearish: 0, Bullish: 0, Neutral: 0 } });
  });
});
