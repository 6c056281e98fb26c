import { describe, expect, it } from 'vitest';
import { pageForPath } from './recipe-paths.ts';

describe('pageForPath', () => {
  it('sends each problem to the page that edits that part of the recipe', () => {
    expect(pageForPath('model.source')).toBe('model');
    expect(pageForPath('tasks')).toBe('tasks');
    expect(pageForPath('tasks[1].format')).toBe('tasks');
    expect(pageForPath('mixture.weights.fpb')).toBe('mixture');
    expect(pageForPath('lora.targets')).toBe('train');
    expect(pageForPath('optimizer.betas[1]')).toBe('train');
    expect(pageForPath('steps')).toBe('train');
    expect(pageForPath('')).toBe('recipes');
    expect(pageForPath('name')).toBe('recipes');
  });
});
