import { describe, expect, it } from 'vitest';
import { mixPlan } from '../../train/mixture.ts';
import { parseRecipe } from '../../train/recipe.ts';
import { DEFAULT_ADAPTIVE, withStrategy } from './strategies.ts';

describe('the adaptive strategy on the Mixture page', () => {
  it('switches to adaptive with the schema’s defaults, which parse back unchanged', () => {
    const mixture = withStrategy({ strategy: 'temperature', temperature: 2, per: 'example' }, 'adaptive', ['a'], {});
    expect(mixture).toEqual({ strategy: 'adaptive', per: 'example', adaptive: DEFAULT_ADAPTIVE });
    const parsed = parseRecipe({ model: { source: 'm' }, tasks: [{ name: 'a', source: { file: 'a.txt' }, format: 'text' }], steps: 5, mixture });
    expect(parsed.mixture.adaptive).toEqual(DEFAULT_ADAPTIVE);
  });

  it('previews an adaptive mixture before its options are filled in, as the proportional base bounded to the default shares', () => {
    const recipe = parseRecipe({ model: { source: 'm' }, tasks: [{ name: 'a', source: { file: 'a.txt' }, format: 'text' }, { name: 'b', source: { file: 'b.txt' }, format: 'text' }], steps: 5 });
    const plan = mixPlan({ ...recipe, mixture: { strategy: 'adaptive', per: 'example' } }, [{ name: 'a', examples: 990 }, { name: 'b', examples: 10 }], 5);
    expect(plan.strategy).toEqual({ kind: 'proportional' });
    expect(plan.adaptive).toMatchObject({ minShare: 0.02, maxShare: 0.9 });
  });
});
