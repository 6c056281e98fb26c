/**
 * The decoder graph on our kernels: one forward (and, for training, backward) pass of a Llama-family
 * model over a batch of B sequences × T tokens, encoded into the caller's command encoder.
 *
 * Per layer (N = B·T rows; every projection is a fused LoRA linear):
 *   n1 = rmsnorm(x) → q, k, v = proj(n1) → rope(q), rope(k) → o = attention(q, k, v) → x_mid = x + proj_o(o)
 *   n2 = rmsnorm(x_mid) → gate, up = proj(n2) → h = silu(gate)·up → x_next = x_mid + proj_down(h)
 * then the final norm, and the LM head fused with the cross-entropy (no [N, V] logits are stored).
 *
 * Activation plan: without recomputation every layer keeps its own ActivationSet for the backward;
 * with it, only each layer's input x is kept and one shared set is refilled by re-running the layer
 * forward just before its backward.
 */
import type { GpuContext } from '../gpu/device.ts';
import { encodeAttentionForward } from '../gpu/ops/attention.ts';
import { encodeEmbedding } from '../gpu/ops/embedding.ts';
import { encodeLoraLinear } from '../gpu/ops/lora_linear.ts';
import { encodeResidualAdd } from '../gpu/ops/residual.ts';
import { encodeRmsnorm } from '../gpu/ops/rmsnorm.ts';
import { encodeRope } from '../gpu/ops/rope.ts';
import { encodeSwiglu } from '../gpu/ops/swiglu.ts';
import { createTensor, elementCount, view, type GpuTensor } from '../gpu/tensor.ts';
import { LORA_TARGETS, type LoraTarget, type ModelConfig } from './config.ts';
import type { GpuLayer, GpuModel } from './gpu-model.ts';
import type { GpuLora } from './lora-gpu.ts';

export interface BatchShape {
  /** Sequences. */
  B: number;
  /** Tokens per sequence. */
  T: number;
}

/** A batch on the GPU: ids and positions [N] u32, and segment ids [B, T] u32 (0 = padding) unless every token is real and one example. */
export interface BatchTensors {
  ids: GpuTensor;
  positions: GpuTensor;
  segments?: GpuTensor;
}

/** Keys and values of every position generated so far, per layer [1, capacity, Hkv, D] (one sequence). */
export interface KvCache {
  capacity: number;
  k: GpuTensor[];
  v: GpuTensor[];
  destroy(): void;
}

/** Where a forward pass over a cache writes: its tokens are positions offset .. offset + T − 1. */
export interface CacheWrite {
  cache: KvCache;
  offset: number;
}

export function createKvCache(ctx: GpuContext, config: ModelConfig, capacity: number): KvCache {
  const shape = [1, capacity, config.numKvHeads, config.headDim];
  const make = (name: string) => createTensor(ctx.device, name, shape, 'f32');
  const k = Array.from({ length: config.numLayers }, (_, layer) => make(`k cache ${layer}`));
  const v = Array.from({ length: config.numLayers }, (_, layer) => make(`v cache ${layer}`));
  return { capacity, k, v, destroy: () => [...k, ...v].forEach((tensor) => tensor.buffer.destroy()) };
}

const TARGETS = Object.keys(LORA_TARGETS) as LoraTarget[];

/** Everything one layer's forward writes and its backward reads. */
export class ActivationSet {
  readonly n1: GpuTensor;
  readonly rstd1: GpuTensor;
  readonly q: GpuTensor;
  readonly k: GpuTensor;
  readonly v: GpuTensor;
  readonly o: GpuTensor;
  readonly logsumexp: GpuTensor;
  readonly attentionOut: GpuTensor;
  readonly xMid: GpuTensor;
  readonly n2: GpuTensor;
  readonly rstd2: GpuTensor;
  readonly gate: GpuTensor;
  readonly up: GpuTensor;
  readonly h: GpuTensor;
  readonly mlpOut: GpuTensor;
  /** X·Aᵀ [N, r] per adapted projection. */
  readonly u = new Map<LoraTarget, GpuTensor>();
  private readonly tensors: GpuTensor[] = [];

  constructor(ctx: GpuContext, config: ModelConfig, { B, T }: BatchShape, loraRank: number, label: string) {
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
    const N = B * T;
    const make = (name: string, shape: number[]) => {
      const tensor = createTensor(ctx.device, `${label} ${name}`, shape, 'f32');
      this.tensors.push(tensor);
      return tensor;
    };
    this.n1 = make('n1', [N, C]);
    this.rstd1 = make('rstd1', [N]);
    this.q = make('q', [B, T, H, D]);
    this.k = make('k', [B, T, Hkv, D]);
    this.v = make('v', [B, T, Hkv, D]);
    this.o = make('o', [B, T, H, D]);
    this.logsumexp = make('logsumexp', [B, H, T]);
    this.attentionOut = make('attention out', [N, C]);
    this.xMid = make('x_mid', [N, C]);
    this.n2 = make('n2', [N, C]);
    this.rstd2 = make('rstd2', [N]);
    this.gate = make('gate', [N, I]);
    this.up = make('up', [N, I]);
    this.h = make('h', [N, I]);
    this.mlpOut = make('mlp out', [N, C]);
    if (loraRank > 0) for (const target of TARGETS) this.u.set(target, make(`U ${target}`, [N, loraRank]));
  }

  destroy(): void {
    for (const tensor of this.tensors) tensor.buffer.destroy();
  }
}

export interface GraphOptions {
  /** Keep what the backward needs (otherwise one activation set is reused by every layer). */
  training: boolean;
  recompute?: boolean;
  /** Rank of the LoRA adapters this graph will run with (0: base model only). */
  loraRank: number;
}

export class DecoderGraph {
  readonly shape: BatchShape;
  /** Residual stream entering each layer, and after the last one: [L + 1] tensors of [N, C]. */
  readonly residual: GpuTensor[] = [];
  readonly layerActivations: ActivationSet[] = [];
  /** Output of the final norm [N, C]: what the LM head reads. */
  readonly final: GpuTensor;
  readonly finalRstd: GpuTensor;
  private readonly owned: GpuTensor[] = [];

  constructor(
    private readonly ctx: GpuContext,
    readonly model: GpuModel,
    shape: BatchShape,
    readonly options: GraphOptions,
  ) {
    this.shape = shape;
    const { config } = model;
    const N = shape.B * shape.T;
    const make = (name: string, dims: number[]) => {
      const tensor = createTensor(ctx.device, name, dims, 'f32');
      this.owned.push(tensor);
      return tensor;
    };
    const keepResidual = options.training;
    for (let layer = 0; layer <= config.numLayers; layer++) {
      this.residual.push(keepResidual || layer < 2 ? make(`x${layer}`, [N, config.hiddenSize]) : this.residual[layer % 2]!);
    }
    const sets = options.training && !options.recompute ? config.numLayers : 1;
    for (let i = 0; i < sets; i++) this.layerActivations.push(new ActivationSet(ctx, config, shape, options.loraRank, sets > 1 ? `layer ${i}` : 'layer'));
    this.final = make('final norm', [N, config.hiddenSize]);
    this.finalRstd = make('final rstd', [N]);
  }

  /** The activation set layer `layer` writes into. */
  activations(layer: number): ActivationSet {
    return this.layerActivations[Math.min(layer, this.layerActivations.length - 1)]!;
  }

  /** Encodes the forward pass from token ids to the final norm's output; with `cache`, attends over it too. */
  encodeForward(encoder: GPUCommandEncoder, batch: BatchTensors, lora?: GpuLora, cache?: CacheWrite): void {
    const { model, ctx } = this;
    encodeEmbedding(ctx, encoder, { ids: batch.ids, parts: model.embedding }, this.residual[0]!);
    for (let layer = 0; layer < model.config.numLayers; layer++) this.encodeLayerForward(encoder, layer, batch, lora, cache);
    const last = this.residual[model.config.numLayers]!;
    encodeRmsnorm(ctx, encoder, { x: last, w: model.finalNorm, eps: model.config.rmsNormEps }, this.final, this.finalRstd);
  }

  /** One layer: residual[layer] → residual[layer + 1], writing its activation set. */
  encodeLayerForward(encoder: GPUCommandEncoder, layer: number, batch: BatchTensors, lora?: GpuLora, cache?: CacheWrite): void {
    const { ctx, model } = this;
    const { config } = model;
    const weights = model.layers[layer]!;
    const acts = this.activations(layer);
    const x = this.residual[layer]!;
    const eps = config.rmsNormEps;
    const project = (target: LoraTarget, input: GpuTensor, output: GpuTensor) => this.encodeProjection(encoder, weights, layer, target, input, output, acts, lora);

    encodeRmsnorm(ctx, encoder, { x, w: weights.inputNorm, eps }, acts.n1, acts.rstd1);
    project('q_proj', acts.n1, acts.q);
    project('k_proj', acts.n1, acts.k);
    project('v_proj', acts.n1, acts.v);
    const N = this.shape.B * this.shape.T;
    encodeRope(ctx, encoder, { x: view(acts.q, [N, config.numHeads, config.headDim]), positions: batch.positions, frequencies: model.ropeFrequencies });
    encodeRope(ctx, encoder, { x: view(acts.k, [N, config.numKvHeads, config.headDim]), positions: batch.positions, frequencies: model.ropeFrequencies });
    if (cache) {
      // The new keys and values join the cache; attention then reads every position so far.
      const rowBytes = config.numKvHeads * config.headDim * 4;
      const bytes = this.shape.T * rowBytes;
      encoder.copyBufferToBuffer(acts.k.buffer, 0, cache.cache.k[layer]!.buffer, cache.offset * rowBytes, bytes);
      encoder.copyBufferToBuffer(acts.v.buffer, 0, cache.cache.v[layer]!.buffer, cache.offset * rowBytes, bytes);
    }
    const keys = cache
      ? { k: cache.cache.k[layer]!, v: cache.cache.v[layer]!, keyLength: cache.offset + this.shape.T }
      : { k: acts.k, v: acts.v, ...(batch.segments ? { segments: batch.segments } : {}) };
    encodeAttentionForward(ctx, encoder, { q: acts.q, ...keys }, { o: acts.o, logsumexp: acts.logsumexp });
    project('o_proj', acts.o, acts.attentionOut);
    encodeResidualAdd(ctx, encoder, x, acts.attentionOut, acts.xMid);

    encodeRmsnorm(ctx, encoder, { x: acts.xMid, w: weights.postAttentionNorm, eps }, acts.n2, acts.rstd2);
    project('gate_proj', acts.n2, acts.gate);
    project('up_proj', acts.n2, acts.up);
    encodeSwiglu(ctx, encoder, { gate: acts.gate, up: acts.up }, acts.h);
    project('down_proj', acts.h, acts.mlpOut);
    encodeResidualAdd(ctx, encoder, acts.xMid, acts.mlpOut, this.residual[layer + 1]!);
  }

  private encodeProjection(
    encoder: GPUCommandEncoder,
    weights: GpuLayer,
    layer: number,
    target: LoraTarget,
    input: GpuTensor,
    output: GpuTensor,
    acts: ActivationSet,
    lora: GpuLora | undefined,
  ): void {
    const { weight, bias } = weights.projections[target];
    const pair = lora?.pair(layer, target);
    // Attention's q/k/v/o are [B, T, heads, D]; a projection sees the same bytes as [N, heads·D].
    const rows = this.shape.B * this.shape.T;
    const asMatrix = (tensor: GpuTensor): GpuTensor => view(tensor, [rows, elementCount(tensor.shape) / rows]);
    encodeLoraLinear(
      this.ctx,
      encoder,
      { x: asMatrix(input), w: weight, ...(bias ? { bias } : {}), ...(pair ? { lora: { a: pair.a, b: pair.b, scale: lora!.scale } } : {}) },
      asMatrix(output),
      pair ? acts.u.get(target) : undefined,
    );
  }

  destroy(): void {
    for (const tensor of this.owned) tensor.buffer.destroy();
    for (const set of this.layerActivations) set.destroy();
  }
}
