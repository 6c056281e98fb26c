import { describe, expect, it } from 'vitest';
import { exactMatch, finalNumber, numericMatch, rougeL } from './metrics.ts';

describe('metrics', () => {
  it('exact match ignores case, punctuation, articles and spacing', () => {
    expect(exactMatch('  The Positive.', 'positive')).toBe(1);
    expect(exactMatch('negative', 'positive')).toBe(0);
  });

  it('numeric match reads GSM8K’s #### answer or the last number, ignoring thousands separators', () => {
    expect(finalNumber('She pays 3 * 24 = 72 dollars.\n#### 72')).toBe(72);
    expect(finalNumber('so the total is 1,080 apples')).toBe(1080);
    expect(numericMatch('The answer is 72.0', '#### 72')).toBe(1);
    expect(numericMatch('I think 71', '72')).toBe(0);
    expect(numericMatch('no number here', '72')).toBe(0);
  });

  it('ROUGE-L is the F1 of the longest common subsequence of words', () => {
    // After normalising (the article goes), police killed gunman vs police kill gunman: an LCS of 2 of 3 words each side.
    expect(rougeL('police killed the gunman', 'police kill the gunman')).toBeCloseTo(2 / 3, 12);
    expect(rougeL('w x y z', 'w y q')).toBeCloseTo((2 * (2 / 4) * (2 / 3)) / (2 / 4 + 2 / 3), 12);
    expect(rougeL('same words here', 'same words here')).toBe(1);
    expect(rougeL('nothing', 'shared')).toBe(0);
  });
});
