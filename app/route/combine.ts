/**
 * Top-k soft mixing as one adapter. Experts i = 1..k with A_i [r_i, in], B_i [out, r_i], scale s_i and
 * mixing weight w_i add Σ w_i·s_i·B_i·A_i·x to a projection. Stacking the A_i as rows and the
 * w_i·s_i·B_i as columns gives one adapter of rank R = Σ r_i with scale 1 whose delta is exactly that
 * sum, so the fused LoRA kernel runs the mixture as it runs any adapter. A projection that an expert
 * does not adapt gets zero rows and columns from it. "base" (no adapter) mixes as a zero delta: it adds
 * no rows, and its weight stays out of the others' (w_base·0), so a mixture of base at w_b and an expert
 * at 1 − w_b is the base model plus (1 − w_b) of that expert's delta, the weighted sum of both outputs.
 */
import { CocktailError } from '../errors.ts';
import type { LoraTarget } from '../model/config.ts';
import { loraPairKey, loraScale, type LoraAdapter, type LoraPair } from '../model/lora.ts';
import { BASE_EXPERT, type RoutingDecision } from './decide.ts';

export interface WeightedExpert {
  /** undefined: "base", the model with no adapter (a zero delta). */
  adapter: LoraAdapter | undefined;
  weight: number;
}

export function combineAdapters(weighted: readonly WeightedExpert[], numLayers: number): LoraAdapter {
  for (const { weight } of weighted) if (!Number.isFinite(weight)) throw new CocktailError('ROUTER_BAD_WEIGHT', `a mixing weight must be finite, got ${weight}`, { weight });
  const experts = weighted.filter((expert): expert is { adapter: LoraAdapter; weight: number } => expert.adapter !== undefined);
  if (experts.length === 0) throw new CocktailError('ROUTER_NOTHING_TO_MIX', 'soft mixing needs at least one expert adapter', {});
  const R = experts.reduce((sum, { adapter }) => sum + adapter.config.r, 0);
  const targets = [...new Set(experts.flatMap(({ adapter }) => adapter.config.targets))].sort() as LoraTarget[];
  const pairs = new Map<string, LoraPair>();
  for (let layer = 0; layer < numLayers; layer++) {
    for (const target of targets) {
      const key = loraPairKey(layer, target);
      const present = experts.map(({ adapter }) => adapter.pairs.get(key)).find((pair) => pair !== undefined);
      if (!present) continue;
      const { inFeatures, outFeatures } = present;
      const a = new Float32Array(R * inFeatures);
      const b = new Float32Array(outFeatures * R);
      let offset = 0;
      for (const { adapter, weight } of experts) {
        const r = adapter.config.r;
        const pair = adapter.pairs.get(key);
        if (pair) {
          a.set(pair.a, offset * inFeatures);
          const factor = weight * loraScale(adapter.config);
          for (let o = 0; o < outFeatures; o++) for (let j = 0; j < r; j++) b[o * R + offset + j] = factor * pair.b[o * r + j]!;
        }
        offset += r;
      }
      pairs.set(key, { a, b, inFeatures, outFeatures });
    }
  }
  return { config: { r: R, alpha: R, dropout: 0, targets, rslora: false }, pairs };
}

/**
 * The adapter that answers a routing decision: none for "base", the chosen expert's, or the top-k
 * mixture combined into one. `adapterOf` reads an expert's adapter (never asked for "base").
 */
export async function answeringAdapter(decision: RoutingDecision, adapterOf: (expert: string) => LoraAdapter | Promise<LoraAdapter>, numLayers: number): Promise<LoraAdapter | undefined> {
  const read = async (expert: string) => (expert === BASE_EXPERT ? undefined : adapterOf(expert));
  if (!decision.mixture) return read(decision.chosen);
  const weighted = await Promise.all(decision.mixture.map(async ({ expert, weight }) => ({ adapter: await read(expert), weight })));
  return combineAdapters(weighted, numLayers);
}
