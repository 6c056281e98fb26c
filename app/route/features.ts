/**
 * The router's features: the frozen base model's hidden state over a prompt (no adapter applied) at
 * one layer, pooled over the prompt's tokens. Layer ℓ is Hugging Face's hidden_states[ℓ]: 0 the
 * embeddings, ℓ in 1..L−1 the residual stream after ℓ layers, L the final norm's output.
 * Pooling: "mean" over the tokens or the "last" token's state (C features each), or both joined,
 * "mean_last" = [mean ; last] (2C features): on the small fixture model neither alone separates
 * tasks as well as the two together (docs/router-format.md).
 *
 * Prompts run in batches on our forward kernels, right-padded: attention is causal, so no real token
 * sees the padding after it, and the pooled rows are exactly those of each prompt run alone. Only
 * the layers below the deepest one read are computed; routerFeaturesByLayer reads many layers (and
 * poolings) from the same pass, for comparing layers (app/route/layers.ts).
 */
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { MAX_STAGING_BYTES, ReadbackBuffer, type ReadbackSlot } from '../gpu/readback.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { createIndexTensor } from '../gpu/tensor.ts';
import type { ModelConfig } from '../model/config.ts';
import { DecoderGraph } from '../model/graph.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import { encodeEmbedding } from '../gpu/ops/embedding.ts';
import { encodeResidualScale } from '../gpu/ops/residual.ts';
import { encodeRmsnorm } from '../gpu/ops/rmsnorm.ts';

export const POOLINGS = ['mean', 'last', 'mean_last'] as const;
export type Pooling = (typeof POOLINGS)[number];

export interface FeatureSpec {
  /** hidden_states index, 0..numLayers. */
  layer: number;
  pooling: Pooling;
}

/** Tokens per batch of the feature pass: small enough for a short submit, large enough to fill a GPU. */
const TOKENS_PER_BATCH = 2048;

/** The middle layer: hidden_states[⌊L/2⌋], where sentence-level features are usually richest. */
export function defaultRouterLayer(config: Pick<ModelConfig, 'numLayers'>): number {
  return Math.floor(config.numLayers / 2);
}

export function checkFeatureSpec(spec: FeatureSpec, config: Pick<ModelConfig, 'numLayers'>): void {
  if (!Number.isSafeInteger(spec.layer) || spec.layer < 0 || spec.layer > config.numLayers) {
    throw new CocktailError('ROUTER_BAD_LAYER', `router layer ${spec.layer} is not a hidden state of this ${config.numLayers}-layer model: choose 0 (embeddings) to ${config.numLayers} (final norm)`, { layer: spec.layer, numLayers: config.numLayers });
  }
  if (!isPooling(spec.pooling)) throw new CocktailError('ROUTER_BAD_POOLING', `router pooling must be ${POOLINGS.map((name) => `"${name}"`).join(', ')}, got "${String(spec.pooling)}"`, { pooling: spec.pooling });
}

export function isPooling(value: unknown): value is Pooling {
  return (POOLINGS as readonly unknown[]).includes(value);
}

/** Features per prompt: C for one pooling, 2C for mean and last joined. */
export function featureWidth(pooling: Pooling, hiddenSize: number): number {
  return pooling === 'mean_last' ? 2 * hiddenSize : hiddenSize;
}

/** Features [prompts, featureWidth] (row-major), one row per prompt, in the order given. */
export async function routerFeatures(ctx: GpuContext, model: GpuModel, prompts: readonly (readonly number[] | Int32Array)[], spec: FeatureSpec, signal?: AbortSignal): Promise<Float32Array> {
  const byLayer = await routerFeaturesByLayer(ctx, model, prompts, [spec.layer], [spec.pooling], { ...(signal ? { signal } : {}) });
  return byLayer[0]![0]!;
}

export interface FeaturePassOptions {
  signal?: AbortSignal;
  /** After each batch: prompts done of the total. */
  onBatch?: (done: number, total: number) => void;
  /** Bytes of hidden states held for reading at once (default MAX_STAGING_BYTES): when a batch's layers need more, they are read in turns as the pass goes. Batches are the same either way. */
  stagingBytes?: number;
}

/**
 * Features of every (layer, pooling) asked, from ONE forward pass per batch: [layer][pooling] →
 * [prompts, featureWidth] in the order given. Each layer's hidden state is copied out as soon as the
 * layer has written it (the inference graph reuses residual buffers from layer 2 on, so a state read
 * after the pass would be a later layer's).
 */
export async function routerFeaturesByLayer(
  ctx: GpuContext,
  model: GpuModel,
  prompts: readonly (readonly number[] | Int32Array)[],
  layers: readonly number[],
  poolings: readonly Pooling[],
  options: FeaturePassOptions = {},
): Promise<Float32Array[][]> {
  const { config } = model;
  for (const layer of layers) for (const pooling of poolings) checkFeatureSpec({ layer, pooling }, config);
  if (layers.length === 0 || poolings.length === 0) throw new CocktailError('BAD_ARGUMENT', 'the feature pass needs at least one layer and one pooling');
  const C = config.hiddenSize;
  const out = layers.map(() => poolings.map((pooling) => new Float32Array(prompts.length * featureWidth(pooling, C))));
  prompts.forEach((ids, index) => {
    if (ids.length === 0) throw new CocktailError('ROUTER_EMPTY_PROMPT', `prompt ${index + 1} has no tokens to route by`, { index });
    if (ids.length > config.maxPositionEmbeddings) throw new CocktailError('ROUTER_PROMPT_TOO_LONG', `prompt ${index + 1} has ${ids.length} tokens, more than the model's context of ${config.maxPositionEmbeddings}; truncate it first (routerPromptIds does)`, { index });
  });
  const stagingBytes = options.stagingBytes ?? MAX_STAGING_BYTES;
  // Similar lengths share a batch, so little is padding.
  const order = prompts.map((_, index) => index).sort((a, b) => prompts[a]!.length - prompts[b]!.length);
  let start = 0;
  while (start < order.length) {
    if (options.signal?.aborted) throw new CocktailError('CANCELLED', 'computing the router features was cancelled');
    let end = start + 1;
    while (end < order.length && (end - start + 1) * prompts[order[end]!]!.length <= TOKENS_PER_BATCH) end++;
    const batch = order.slice(start, end);
    const longest = prompts[batch.at(-1)!]!.length;
    const hidden = await hiddenStates(ctx, model, batch.map((index) => prompts[index]!), longest, layers, stagingBytes);
    layers.forEach((_, l) => {
      poolings.forEach((pooling, p) => {
        const width = featureWidth(pooling, C);
        batch.forEach((index, row) => out[l]![p]!.set(pool(hidden[l]!, row, longest, C, prompts[index]!.length, pooling), index * width));
      });
    });
    start = end;
    options.onBatch?.(start, order.length);
  }
  return out;
}

/** The pooled features of row `row` of hidden [B, T, C] over its first `length` tokens. */
function pool(hidden: Float32Array, row: number, T: number, C: number, length: number, pooling: Pooling): Float32Array {
  const base = row * T * C;
  const last = () => hidden.slice(base + (length - 1) * C, base + length * C);
  const mean = () => {
    const sum = new Float64Array(C);
    for (let t = 0; t < length; t++) for (let c = 0; c < C; c++) sum[c]! += hidden[base + t * C + c]!;
    return Float32Array.from(sum, (value) => value / length);
  };
  if (pooling === 'last') return last();
  if (pooling === 'mean') return mean();
  const joined = new Float32Array(2 * C);
  joined.set(mean(), 0);
  joined.set(last(), C);
  return joined;
}

/**
 * hidden_states[layer] [B, T, C] of right-padded prompts, for each of `layers` in order, from one
 * forward pass. Each state is copied out right after it is produced, in the same command encoder,
 * before a later layer reuses its buffer; when the copies fill `stagingBytes`, the work so far is
 * submitted and read, and the pass goes on from where it stopped (the graph keeps its state).
 */
async function hiddenStates(ctx: GpuContext, model: GpuModel, prompts: readonly (readonly number[] | Int32Array)[], T: number, layers: readonly number[], stagingBytes: number): Promise<Float32Array[]> {
  const B = prompts.length;
  const { config } = model;
  const L = config.numLayers;
  const graph = new DecoderGraph(ctx, model, { B, T }, { training: false, loraRank: 0 });
  const ids = new Uint32Array(B * T);
  prompts.forEach((prompt, row) => ids.set(prompt, row * T));
  const positions = Uint32Array.from({ length: B * T }, (_, e) => e % T);
  const idsTensor = createIndexTensor(ctx.device, 'router ids', [B * T], 'u32', ids);
  const positionsTensor = createIndexTensor(ctx.device, 'router positions', [B * T], 'u32', positions);
  const batch = { ids: idsTensor, positions: positionsTensor };
  const wanted = [...new Set(layers)].sort((a, b) => a - b);
  const stateBytes = B * T * config.hiddenSize * 4;
  const perRead = Math.max(1, Math.min(wanted.length, Math.floor(stagingBytes / stateBytes)));
  const readback = new ReadbackBuffer(ctx.device, 'router hidden states', perRead * stateBytes);
  /** Encodes what produces hidden_states[state] from hidden_states[state − 1] (from the ids for 0). */
  const produce = (encoder: GPUCommandEncoder, state: number) => {
    if (state === 0) {
      encodeEmbedding(ctx, encoder, { ids: idsTensor, parts: model.embedding }, graph.residual[0]!);
      // Gemma scales its embeddings by √C before the first layer, as encodeForward does.
      if (model.embeddingScale !== 1) encodeResidualScale(ctx, encoder, graph.residual[0]!, model.embeddingScale);
      return;
    }
    graph.encodeLayerForward(encoder, state - 1, batch);
    if (state === L) encodeRmsnorm(ctx, encoder, { x: graph.residual[L]!, w: model.finalNorm, eps: config.rmsNormEps }, graph.final, graph.finalRstd);
  };
  const stateTensor = (state: number) => (state === L ? graph.final : graph.residual[state]!);
  try {
    const states = new Map<number, Float32Array>();
    let produced = -1;
    let next = 0;
    while (next < wanted.length) {
      const slots: [number, ReadbackSlot][] = [];
      const work = withinErrorScopes(ctx, 'the router feature pass', () => {
        const encoder = ctx.device.createCommandEncoder({ label: 'router features' });
        while (slots.length < perRead && next < wanted.length) {
          const state = wanted[next++]!;
          while (produced < state) produce(encoder, ++produced);
          slots.push([state, readback.copy(encoder, stateTensor(state))]);
        }
        ctx.device.queue.submit([encoder.finish()]);
      });
      await throwGpuErrors(work);
      const result = await readback.read();
      for (const [state, slot] of slots) states.set(state, result.f32(slot).slice());
    }
    return layers.map((layer) => states.get(layer)!);
  } finally {
    readback.destroy();
    graph.destroy();
    idsTensor.buffer.destroy();
    positionsTensor.buffer.destroy();
  }
}
