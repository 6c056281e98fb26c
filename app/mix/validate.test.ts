import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import type { MixConfig, MixStrategy } from './types.ts';
import { findMixConfigProblems, validateMixConfig } from './validate.ts';

const validConfig: MixConfig = {
  tasks: [
    { name: 'phrasebank', examples: 4846 },
    { name: 'gsm8k', examples: 7473 },
    { name: 'alpaca', examples: 999, role: 'regularizer' },
  ],
  strategy: { kind: 'proportional' },
  regularizerShare: 0.15,
  sampleBy: 'example',
  batchSize: 8,
  totalSteps: 100,
  seed: 1,
};

/** A config from a recipe file: anything may be wrong with it, so the tests build it loosely. */
function configWith(changes: Record<string, unknown>): MixConfig {
  return { ...validConfig, ...changes } as MixConfig;
}

function withStrategy(strategy: Record<string, unknown>): MixConfig {
  return configWith({ strategy: strategy as unknown as MixStrategy });
}

function thrown(config: MixConfig): CocktailError {
  try {
    validateMixConfig(config);
  } catch (error) {
    expect(error).toBeInstanceOf(CocktailError);
    return error as CocktailError;
  }
  throw new Error('expected validateMixConfig to throw');
}

describe('mixture validation', () => {
  it('accepts a valid config', () => {
    expect(findMixConfigProblems(validConfig)).toEqual([]);
    expect(() => validateMixConfig(validConfig)).not.toThrow();
  });

  it('refuses a mixture with no tasks', () => {
    expect(thrown(configWith({ tasks: [] })).code).toBe('MIX_NO_TASKS');
  });

  it('refuses a task with zero examples, naming the task', () => {
    const error = thrown(configWith({ tasks: [{ name: 'empty', examples: 0 }] }));
    expect(error.code).toBe('MIX_TASK_EMPTY');
    expect(error.message).toContain('"empty"');
    expect(error.message).toContain('tasks[0].examples');
  });

  it('refuses a fractional or negative number of examples', () => {
    expect(thrown(configWith({ tasks: [{ name: 'a', examples: 2.5 }] })).code).toBe('MIX_TASK_EXAMPLES_INVALID');
    expect(thrown(configWith({ tasks: [{ name: 'a', examples: -3 }] })).message).toContain('-3');
  });

  it('refuses duplicate task names', () => {
    const error = thrown(configWith({ tasks: [{ name: 'a', examples: 1 }, { name: 'a', examples: 2 }] }));
    expect(error.code).toBe('MIX_TASK_NAME_DUPLICATE');
    expect(error.message).toContain('tasks[1].name');
  });

  it('refuses an unknown role', () => {
    const error = thrown(configWith({ tasks: [{ name: 'a', examples: 1, role: 'teacher' }] }));
    expect(error.code).toBe('MIX_TASK_ROLE_INVALID');
    expect(error.message).toContain('"teacher"');
  });

  it('refuses a mixture in which every task is a regularizer', () => {
    expect(thrown(configWith({ tasks: [{ name: 'a', examples: 1, role: 'regularizer' }] })).code).toBe('MIX_NO_TRAINING_TASK');
  });

  it.each([1, -0.1, 1.5, Number.NaN])('refuses a regularizer share of %s, outside [0, 1)', (share) => {
    const error = thrown(configWith({ regularizerShare: share }));
    expect(error.code).toBe('MIX_REGULARIZER_SHARE_INVALID');
    expect(error.message).toContain('regularizerShare');
    expect(error.message).toContain(String(share));
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses temperature %s', (temperature) => {
    const error = thrown(withStrategy({ kind: 'temperature', temperature }));
    expect(error.code).toBe('MIX_TEMPERATURE_INVALID');
    expect(error.message).toContain('strategy.temperature');
    expect(error.message).toContain(String(temperature));
  });

  it('refuses a cap that is not a positive number', () => {
    expect(thrown(withStrategy({ kind: 'proportional', cap: 0 })).code).toBe('MIX_CAP_INVALID');
  });

  it('refuses a negative manual weight, naming the task and the value', () => {
    const error = thrown(withStrategy({ kind: 'manual', weights: { phrasebank: -1, gsm8k: 1, alpaca: 1 } }));
    expect(error.code).toBe('MIX_WEIGHT_INVALID');
    expect(error.message).toContain('strategy.weights.phrasebank');
    expect(error.message).toContain('-1');
  });

  it('refuses a NaN manual weight', () => {
    const error = thrown(withStrategy({ kind: 'manual', weights: { phrasebank: Number.NaN, gsm8k: 1, alpaca: 1 } }));
    expect(error.code).toBe('MIX_WEIGHT_INVALID');
    expect(error.message).toContain('NaN');
  });

  it('refuses a weight for a task that is not in the mixture', () => {
    const error = thrown(withStrategy({ kind: 'manual', weights: { phrasebank: 1, gsm8k: 1, alpaca: 1, tweets: 2 } }));
    expect(error.code).toBe('MIX_WEIGHT_UNKNOWN_TASK');
    expect(error.message).toContain('"tweets"');
  });

  it('refuses manual weights that leave a task out', () => {
    const error = thrown(withStrategy({ kind: 'manual', weights: { phrasebank: 1, alpaca: 1 } }));
    expect(error.code).toBe('MIX_WEIGHT_MISSING');
    expect(error.message).toContain('"gsm8k"');
  });

  it('refuses manual weights that are zero for every training task', () => {
    expect(thrown(withStrategy({ kind: 'manual', weights: { phrasebank: 0, gsm8k: 0, alpaca: 1 } })).code).toBe('MIX_WEIGHTS_ALL_ZERO');
  });

  it('refuses zero weights for every regularizer while the regularizer share is positive', () => {
    expect(thrown(withStrategy({ kind: 'manual', weights: { phrasebank: 1, gsm8k: 0, alpaca: 0 } })).code).toBe('MIX_WEIGHTS_ALL_ZERO');
  });

  it('accepts zero weights for every regularizer when the share is 0', () => {
    const config = configWith({ regularizerShare: 0, strategy: { kind: 'manual', weights: { phrasebank: 1, gsm8k: 0, alpaca: 0 } } });
    expect(findMixConfigProblems(config)).toEqual([]);
  });

  it('refuses an unknown strategy kind, listing the known ones', () => {
    const error = thrown(withStrategy({ kind: 'random' }));
    expect(error.code).toBe('MIX_STRATEGY_UNKNOWN');
    expect(error.message).toContain('"random"');
    expect(error.message).toContain('round-robin');
  });

  it('refuses a schedule with no points', () => {
    expect(thrown(withStrategy({ kind: 'schedule', points: [] })).code).toBe('MIX_SCHEDULE_EMPTY');
  });

  it('refuses a schedule point outside [0, 1]', () => {
    const weights = { phrasebank: 1, gsm8k: 1, alpaca: 1 };
    const error = thrown(withStrategy({ kind: 'schedule', points: [{ at: 1.5, weights }] }));
    expect(error.code).toBe('MIX_SCHEDULE_AT_INVALID');
    expect(error.message).toContain('strategy.points[0].at');
  });

  it('refuses schedule points out of order', () => {
    const weights = { phrasebank: 1, gsm8k: 1, alpaca: 1 };
    const error = thrown(withStrategy({ kind: 'schedule', points: [{ at: 0.5, weights }, { at: 0.5, weights }] }));
    expect(error.code).toBe('MIX_SCHEDULE_ORDER');
    expect(error.message).toContain('strategy.points[1].at');
  });

  it('checks the weights of every schedule point', () => {
    const error = thrown(withStrategy({ kind: 'schedule', points: [{ at: 0, weights: { phrasebank: 1, gsm8k: 1, alpaca: 1, nope: 1 } }] }));
    expect(error.code).toBe('MIX_WEIGHT_UNKNOWN_TASK');
    expect(error.message).toContain('strategy.points[0].weights');
  });

  it('refuses an unknown interpolation', () => {
    const weights = { phrasebank: 1, gsm8k: 1, alpaca: 1 };
    expect(thrown(withStrategy({ kind: 'schedule', interpolation: 'cubic', points: [{ at: 0, weights }] })).code).toBe(
      'MIX_SCHEDULE_INTERPOLATION_INVALID',
    );
  });

  it('refuses a batch size, step count or sampling unit that cannot be used', () => {
    expect(thrown(configWith({ batchSize: 0 })).code).toBe('MIX_BATCH_SIZE_INVALID');
    expect(thrown(configWith({ totalSteps: 1.5 })).code).toBe('MIX_TOTAL_STEPS_INVALID');
    expect(thrown(configWith({ sampleBy: 'token' })).code).toBe('MIX_SAMPLE_BY_INVALID');
  });

  it('refuses a seed outside the 32-bit range', () => {
    expect(thrown(configWith({ seed: -1 })).code).toBe('MIX_SEED_INVALID');
    expect(thrown(configWith({ seed: 2 ** 32 })).code).toBe('MIX_SEED_INVALID');
  });

  it('reports every problem at once, with the first problem’s code', () => {
    const config = configWith({ tasks: [{ name: 'a', examples: 0 }], batchSize: -2, strategy: { kind: 'temperature', temperature: 0 } });
    const problems = findMixConfigProblems(config);
    expect(problems.map((problem) => problem.code)).toEqual(['MIX_TASK_EMPTY', 'MIX_BATCH_SIZE_INVALID', 'MIX_TEMPERATURE_INVALID']);
    const error = thrown(config);
    expect(error.code).toBe('MIX_TASK_EMPTY');
    expect(error.message).toContain('3 problems');
    expect(error.details.problems).toHaveLength(3);
  });
});
