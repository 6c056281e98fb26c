/**
 * "Which layer routes best?": the router's features of every layer asked (default: every hidden state,
 * 0..L) from ONE forward pass per batch of prompts, then one head per (layer × pooling), each trained
 * exactly as `router train` trains it (trainRouter, same balanced train/held-out split, head options and
 * seed, fed the features through its cache), and each one's held-out accuracy reported side by side.
 * The best is the highest held-out accuracy; a tie goes to the earlier layer (then the pooling asked
 * first), the cheaper router to run.
 */
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { checkFeatureSpec, featureWidth, routerFeaturesByLayer, type Pooling } from './features.ts';
import { featureCacheKey, routerTrainingSet, trainRouter, type ExpertTask, type FeatureCache, type RouterTrainingOptions } from './router.ts';

export interface LayerComparisonOptions extends Omit<RouterTrainingOptions, 'feature' | 'cache' | 'onStage' | 'onEvaluation'> {
  /** hidden_states indices to compare; default every one, 0..numLayers. */
  layers?: readonly number[];
  /** Poolings to compare at each layer, in order of preference for ties. */
  poolings: readonly Pooling[];
  onProgress?: (progress: LayerComparisonProgress) => void;
}

export interface LayerComparisonProgress {
  /** "features": prompts through the forward pass; "heads": heads trained, `result` the one just done. */
  phase: 'features' | 'heads';
  done: number;
  total: number;
  /** Seconds left of this phase at the pace so far. */
  etaSeconds?: number;
  result?: LayerResult;
}

export interface LayerResult {
  layer: number;
  pooling: Pooling;
  heldOutAccuracy: number;
  /** Training accuracy at the kept step. */
  trainAccuracy: number;
  heldOutLoss: number;
  /** The step whose weights were kept (lowest held-out loss), and how many were run. */
  bestStep: number;
  steps: number;
  stoppedEarly: boolean;
}

export interface LayerComparison {
  /** Layer by layer, each layer's poolings in the order asked. */
  results: LayerResult[];
  best: LayerResult;
  trainCounts: number[];
  heldOutCounts: number[];
  /** Prompts longer than the model's context, cut to it. */
  truncated: number;
}

/** Every hidden state of the model: 0 (embeddings) to L (final norm). */
export const everyLayer = (numLayers: number): number[] => Array.from({ length: numLayers + 1 }, (_, layer) => layer);

/** The highest held-out accuracy; ties to the earlier entry (results are ordered by layer, then pooling asked). */
export function bestLayer(results: readonly LayerResult[]): LayerResult {
  if (results.length === 0) throw new CocktailError('BAD_ARGUMENT', 'no layer was compared');
  return results.reduce((best, result) => (result.heldOutAccuracy > best.heldOutAccuracy ? result : best));
}

export async function compareRouterLayers(ctx: GpuContext, model: GpuModel, tokenizer: TextTokenizer, tasks: readonly ExpertTask[], options: LayerComparisonOptions): Promise<LayerComparison> {
  const { config } = model;
  const layers = [...new Set(options.layers ?? everyLayer(config.numLayers))].sort((a, b) => a - b);
  const poolings = [...new Set(options.poolings)];
  if (layers.length === 0) throw new CocktailError('BAD_ARGUMENT', 'give at least one layer to compare', { field: 'layers' });
  if (poolings.length === 0) throw new CocktailError('BAD_ARGUMENT', 'give at least one pooling to compare', { field: 'pooling' });
  for (const layer of layers) for (const pooling of poolings) checkFeatureSpec({ layer, pooling }, config);

  const { split, prompts } = routerTrainingSet(tokenizer, config, tasks, options);
  const unique = [...new Map(prompts.map((prompt) => [featureCacheKey(prompt.ids), prompt.ids])).entries()];
  const started = Date.now();
  const eta = (done: number, total: number, since: number) => (done > 0 ? ((Date.now() - since) / 1000 / done) * (total - done) : undefined);
  const features = await routerFeaturesByLayer(
    ctx,
    model,
    unique.map(([, ids]) => ids),
    layers,
    poolings,
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onBatch: (done, total) => options.onProgress?.({ phase: 'features', done, total, ...withEta(eta(done, total, started)) }),
    },
  );

  const results: LayerResult[] = [];
  const total = layers.length * poolings.length;
  const headsStarted = Date.now();
  for (const [l, layer] of layers.entries()) {
    for (const [p, pooling] of poolings.entries()) {
      const width = featureWidth(pooling, config.hiddenSize);
      const cache: FeatureCache = new Map(unique.map(([key], row) => [key, features[l]![p]!.subarray(row * width, (row + 1) * width)]));
      const trained = await trainRouter(ctx, model, tokenizer, tasks, { ...options, feature: { layer, pooling }, cache });
      const summary = trained.router.training!;
      const kept = trained.history.find((evaluation) => evaluation.step === summary.bestStep);
      const result: LayerResult = {
        layer,
        pooling,
        heldOutAccuracy: summary.heldOutAccuracy,
        trainAccuracy: kept?.trainAccuracy ?? NaN,
        heldOutLoss: kept?.heldOutLoss ?? NaN,
        bestStep: summary.bestStep,
        steps: trained.history.at(-1)?.step ?? 0,
        stoppedEarly: summary.stoppedEarly,
      };
      results.push(result);
      const done = results.length;
      options.onProgress?.({ phase: 'heads', done, total, result, ...withEta(eta(done, total, headsStarted)) });
    }
  }
  return { results, best: bestLayer(results), trainCounts: split.trainCounts, heldOutCounts: split.heldOutCounts, truncated: prompts.filter((prompt) => prompt.truncatedFrom !== undefined).length };
}

const withEta = (seconds: number | undefined) => (seconds !== undefined ? { etaSeconds: seconds } : {});
