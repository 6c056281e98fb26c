import { describe, expect, it } from 'vitest';
import type { AdapterSummary } from '../../gpu/device.ts';
import { adapterKind, defaultBudget } from './memory-budget.ts';

const adapter = (vendor: string, architecture: string, isFallbackAdapter = false): AdapterSummary => ({ vendor, architecture, device: '', description: '', isFallbackAdapter });

describe('the default GPU memory budget', () => {
  it('gives discrete GPUs 8 GiB', () => {
    expect(defaultBudget(adapter('nvidia', 'ampere')).bytes).toBe(8 * 2 ** 30);
    expect(adapterKind(adapter('intel', 'xe-hpg'))).toBe('discrete');
  });

  it('gives integrated, software and unknown adapters a cautious 2 GiB', () => {
    expect(adapterKind(adapter('intel', 'gen-12lp'))).toBe('integrated');
    expect(adapterKind(adapter('apple', 'metal-3'))).toBe('integrated');
    expect(adapterKind(adapter('google', 'swiftshader'))).toBe('software');
    expect(adapterKind(adapter('nvidia', '', true))).toBe('software');
    expect(adapterKind(undefined)).toBe('unknown');
    for (const guess of [defaultBudget(adapter('intel', 'gen-12lp')), defaultBudget(adapter('google', 'swiftshader')), defaultBudget(undefined)]) {
      expect(guess.bytes).toBe(2 * 2 ** 30);
      expect(guess.reason).toMatch(/2 GiB/);
    }
  });
});
