import { describe, expect, it } from 'vitest';
import { formatMetric, formatNumber } from './format.ts';

describe('formatNumber', () => {
  it('keeps four significant digits and drops trailing zeros', () => {
    expect(formatNumber(2.345678)).toBe('2.346');
    expect(formatNumber(12)).toBe('12');
    expect(formatNumber(0)).toBe('0');
  });

  it('writes learning rates and huge values with an exponent', () => {
    expect(formatNumber(2e-4)).toBe('2.00e-4');
    expect(formatNumber(3_400_000)).toBe('3.40e+6');
  });

  it('names a non-finite value instead of printing a number', () => {
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });
});

describe('formatMetric', () => {
  it('shows rates in percent and other metrics as numbers', () => {
    expect(formatMetric('accuracy', 0.5)).toBe('50.0%');
    expect(formatMetric('numeric_match', 1)).toBe('100.0%');
    expect(formatMetric('rouge_l', 0.41234)).toBe('0.412');
    expect(formatMetric('loss', 2.5)).toBe('2.500');
    expect(formatMetric('accuracy', Number.NaN)).toBe('—');
  });
});
