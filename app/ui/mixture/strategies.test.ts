import { describe, expect, it } from 'vitest';
import { rememberParameters, withStrategy } from './strategies.ts';

const tasks = ['phrases', 'tweets'];

describe('switching the mixture strategy', () => {
  it('gives temperature a default of 2 and keeps the sampling unit and the regularizer share', () => {
    expect(withStrategy({ strategy: 'proportional', per: 'batch', regularizer_share: 0.3 }, 'temperature', tasks, {})).toEqual({
      strategy: 'temperature',
      temperature: 2,
      per: 'batch',
      regularizer_share: 0.3,
    });
  });

  it('drops parameters the new strategy does not use, and brings remembered ones back', () => {
    const temperature = { strategy: 'temperature' as const, temperature: 3.5, cap: 500, per: 'example' as const };
    const remembered = rememberParameters(temperature, {});
    const roundRobin = withStrategy(temperature, 'round_robin', tasks, remembered);
    expect(roundRobin).toEqual({ strategy: 'round_robin', per: 'example' });
    expect(withStrategy(roundRobin, 'temperature', tasks, rememberParameters(roundRobin, remembered))).toEqual(temperature);
  });

  it('gives manual weights one weight per task, 1 for tasks without one', () => {
    const manual = withStrategy({ strategy: 'uniform', per: 'example' }, 'manual', tasks, { weights: { tweets: 3, gone: 2 } });
    expect(manual).toEqual({ strategy: 'manual', per: 'example', weights: { phrases: 1, tweets: 3 } });
  });
});
