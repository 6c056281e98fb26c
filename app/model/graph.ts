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
import { CocktailError } from '../errors.ts';
import { isCommandStream, unboundedStream, type CommandStream } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { attentionScratchShapes, encodeAttentionBackward, encodeAttentionForward } from '../gpu/ops/attention.ts';
import { encodeColumnsCopy } from '../gpu/ops/columns.ts';
import { encodeEmbedding } from '../gpu/ops/embedding.ts';
import { encodeLoraLinear, encodeLoraLinearBackward, type KernelDropout } from '../gpu/ops/lora_linear.ts';
import { encodeMatmul } from '../gpu/ops/matmul.ts';
import { encodeResidualAdd, encodeResidualScale } from '../gpu/ops/residual.ts';
import { encodeRmsnorm, encodeRmsnormBackward } from '../gpu/ops/rmsnorm.ts';
import { encodeRope, encodeRopeBackward } from '../gpu/ops/rope.ts';
import { encodeSwiglu, encodeSwigluBackward } from '../gpu/ops/swiglu.ts';
import { createTensor, elementCount, view, type GpuTensor } from '../gpu/tensor.ts';
import { attentionWindowOf, LORA_TARGETS, loraTargetsOf, type LoraTarget, type ModelConfig } from './config.ts';
import type { GpuLayer, GpuModel } from './gpu-model.ts';
import type { GpuLora } from './lora-gpu.ts';
import { loraPairKey } from './lora.ts';

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
  /** Segment ids are bit sets (evaluation's candidate trees; AttentionInputs.segmentBits): forward only. */
  segmentBits?: boolean;
  /** One past the largest position, when the positions do not start at 0 (what picks LongRoPE's factors); T by default. */
  positionLimit?: number;
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

/** What attention reads of a batch's mask: its segment ids, read as bit sets when the batch says so. */
function segmentsOf({ segments, segmentBits }: BatchTensors): { segments?: GpuTensor; segmentBits?: boolean } {
  if (!segments) return {};
  return segmentBits ? { segments, segmentBits } : { segments };
}

const TARGETS = Object.keys(LORA_TARGETS) as LoraTarget[];

/**
 * Where each projection's LoRA dropout mask is drawn from: seven per layer, as before fused projections
 * existed (so the Llama family's masks are unchanged); a fused projection draws where its first part
 * would, since a model has either the parts or the fused projection, never both.
 */
const DROPOUT_SLOTS_PER_LAYER = 7;
const DROPOUT_SLOT: Record<LoraTarget, number> = { q_proj: 0, k_proj: 1, v_proj: 2, o_proj: 3, gate_proj: 4, up_proj: 5, down_proj: 6, qkv_proj: 0, gate_up_proj: 4 };

/** The LoRA side of an activation set: rank, and the targets whose X·Aᵀ the backward reads. */
interface ActivationLora {
  rank: number;
  targets: readonly LoraTarget[];
  keepPerTarget: boolean;
}

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
  /** Qwen3: q and k as projected, before their per-head RMSNorm, and each head's saved rstd [N·heads]. */
  readonly headNorm?: HeadNormActivations;
  /** Gemma 3: the attention and MLP outputs after their own norms, and those norms' rstd [N]. */
  readonly sandwich?: { attention: GpuTensor; attentionRstd: GpuTensor; mlp: GpuTensor; mlpRstd: GpuTensor };
  /** X·Aᵀ [N, r] per adapted projection (one shared scratch when nothing reads it back). */
  readonly u = new Map<LoraTarget, GpuTensor>();

  constructor(make: Allocate, config: ModelConfig, { B, T }: BatchShape, lora: ActivationLora) {
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
    const N = B * T;
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
    if (config.qkNorm) {
      this.headNorm = { qRaw: make('q before norm', [N * H, D]), kRaw: make('k before norm', [N * Hkv, D]), qRstd: make('q norm rstd', [N * H]), kRstd: make('k norm rstd', [N * Hkv]) };
    }
    if (config.gemma) this.sandwich = { attention: make('attention out normed', [N, C]), attentionRstd: make('attention out rstd', [N]), mlp: make('mlp out normed', [N, C]), mlpRstd: make('mlp out rstd', [N]) };
    if (lora.rank === 0) return;
    if (lora.keepPerTarget) for (const target of lora.targets) this.u.set(target, make(`U ${target}`, [N, lora.rank]));
    else {
      // Inference reads U only inside the projection that wrote it: every target can share one scratch.
      const shared = make('U', [N, lora.rank]);
      for (const target of TARGETS) this.u.set(target, shared);
    }
  }
}

interface HeadNormActivations {
  qRaw: GpuTensor;
  kRaw: GpuTensor;
  qRstd: GpuTensor;
  kRstd: GpuTensor;
}

/** Makes (or, for a graph of a smaller batch, finds) the tensor of this name with these dimensions. */
type Allocate = (name: string, dims: number[]) => GpuTensor;

export interface GraphOptions {
  /** Keep what the backward needs (otherwise one activation set is reused by every layer). */
  training: boolean;
  recompute?: boolean;
  /** Rank of the LoRA adapters this graph will run with (0: base model only). */
  loraRank: number;
  /** The projections a training graph's adapters target (default all seven): only they keep X·Aᵀ for the backward. */
  loraTargets?: readonly LoraTarget[];
}

/**
 * LoRA dropout of a training step: the mask is drawn from (seed, step, module) in forward and backward
 * alike. Seed and step are in `stepUniform`, which the trainer writes once per micro-batch
 * (writeDropoutStep in app/gpu/ops/lora_linear.ts), so a step encodes with the same bind groups as the last.
 */
export interface DropoutStep {
  p: number;
  stepUniform: GPUBuffer;
}

export class DecoderGraph {
  readonly shape: BatchShape;
  /** Residual stream entering each layer, and after the last one: [L + 1] tensors of [N, C]. */
  readonly residual: GpuTensor[] = [];
  readonly layerActivations: ActivationSet[] = [];
  /** Output of the final norm [N, C]: what the LM head reads. */
  readonly final: GpuTensor;
  readonly finalRstd: GpuTensor;
  /** Gradient of the loss with respect to `final`: the cross-entropy accumulates into it. */
  readonly dFinal?: GpuTensor;
  /** Set by the trainer before encoding a step; forward and backward then drop out the same elements. */
  dropout?: DropoutStep;
  private readonly gradients?: GradientWorkspace;
  /** Phi-3's fused projection outputs (forward) and their gradients (backward). */
  private readonly fused?: { qkv: GpuTensor; gateUp: GpuTensor };
  /** The buffers this graph allocated, by name; empty for a graph that runs in another's buffers. */
  private readonly owned = new Map<string, GpuTensor>();

  /**
   * With `host`, the graph allocates nothing: it runs a smaller batch (fewer rows, or shorter rows)
   * in the first elements of the host's buffers, so each batch is computed at its own length.
   */
  constructor(
    private readonly ctx: GpuContext,
    readonly model: GpuModel,
    shape: BatchShape,
    readonly options: GraphOptions,
    private readonly host?: DecoderGraph,
  ) {
    this.shape = shape;
    const { config } = model;
    const N = shape.B * shape.T;
    const make: Allocate = host
      ? (name, dims) => host.leading(name, dims)
      : (name, dims) => {
          const tensor = createTensor(ctx.device, name, dims, 'f32');
          this.owned.set(name, tensor);
          return tensor;
        };
    const keepResidual = options.training;
    for (let layer = 0; layer <= config.numLayers; layer++) {
      this.residual.push(keepResidual || layer < 2 ? make(`x${layer}`, [N, config.hiddenSize]) : this.residual[layer % 2]!);
    }
    const sets = options.training && !options.recompute ? config.numLayers : 1;
    const lora: ActivationLora = { rank: options.loraRank, targets: options.loraTargets ?? loraTargetsOf(config), keepPerTarget: options.training };
    for (let i = 0; i < sets; i++) {
      const label = sets > 1 ? `layer ${i}` : 'layer';
      this.layerActivations.push(new ActivationSet((name, dims) => make(`${label} ${name}`, dims), config, shape, lora));
    }
    if (config.fusedProjections) {
      // Phi-3: the fused projections' outputs, split into q, k, v and gate, up; in the backward, the
      // parts' gradients joined again. One pair serves every layer.
      this.fused = { qkv: make('fused qkv', [N, (config.numHeads + 2 * config.numKvHeads) * config.headDim]), gateUp: make('fused gate_up', [N, 2 * config.intermediateSize]) };
    }
    this.final = make('final norm', [N, config.hiddenSize]);
    this.finalRstd = make('final rstd', [N]);
    if (options.training) {
      this.dFinal = make('d final norm', [N, config.hiddenSize]);
      this.gradients = new GradientWorkspace(make, config, shape, options.loraRank);
    }
  }

  /** GPU memory this graph holds (activations, residual stream, gradient workspace); 0 for one in another graph's buffers. */
  get bytes(): number {
    return [...this.owned.values()].reduce((sum, tensor) => sum + tensor.buffer.size, 0);
  }

  /** The same graph for a batch of at most as many tokens, computed in this graph's buffers (nothing is allocated). */
  resized(shape: BatchShape): DecoderGraph {
    if (shape.B === this.shape.B && shape.T === this.shape.T) return this;
    if (shape.B * shape.T > this.shape.B * this.shape.T) {
      throw new CocktailError('GRAPH_BATCH_TOO_LARGE', `a batch of ${shape.B} × ${shape.T} tokens does not fit a graph built for ${this.shape.B} × ${this.shape.T}`, { B: shape.B, T: shape.T });
    }
    return new DecoderGraph(this.ctx, this.model, shape, this.options, this.host ?? this);
  }

  /** The first elements of the tensor `name`, seen with a shape of at most as many elements. */
  private leading(name: string, dims: number[]): GpuTensor {
    const tensor = this.owned.get(name);
    if (!tensor || elementCount(dims) > elementCount(tensor.shape)) throw new Error(`graph tensor "${name}" [${dims.join(', ')}] is not within the host graph's`);
    return { ...tensor, shape: dims };
  }

  /** The activation set layer `layer` writes into. */
  activations(layer: number): ActivationSet {
    return this.layerActivations[Math.min(layer, this.layerActivations.length - 1)]!;
  }

  /**
   * Encodes the forward pass from token ids to the final norm's output; with `cache`, attends over it
   * too. Given a CommandStream, it reports each layer's FLOPs, so the stream may cut the work into
   * several submits between layers.
   */
  encodeForward(target: GPUCommandEncoder | CommandStream, batch: BatchTensors, lora?: GpuLora, cache?: CacheWrite): void {
    const { model, ctx } = this;
    const stream = isCommandStream(target) ? target : unboundedStream(target);
    encodeEmbedding(ctx, stream.encoder, { ids: batch.ids, parts: model.embedding }, this.residual[0]!);
    if (model.embeddingScale !== 1) encodeResidualScale(ctx, stream.encoder, this.residual[0]!, model.embeddingScale);
    const flops = this.layerForwardFlops(cache ? cache.offset + this.shape.T : this.shape.T);
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      this.encodeLayerForward(stream.encoder, layer, batch, lora, cache);
      stream.add(flops);
    }
    const last = this.residual[model.config.numLayers]!;
    encodeRmsnorm(ctx, stream.encoder, { x: last, w: model.finalNorm, eps: model.config.rmsNormEps }, this.final, this.finalRstd);
  }

  /**
   * Multiply-adds ×2 of one layer's forward over this batch: the seven projections (with LoRA's two
   * thin matmuls each at most) and attention's QKᵀ and PV over `keys` positions.
   */
  layerForwardFlops(keys = this.shape.T): number {
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = this.model.config;
    const N = this.shape.B * this.shape.T;
    const projections = C * H * D * 2 + C * Hkv * D * 2 + 3 * C * I;
    // r·(in + out) per adapted projection, counted as if all seven were (an upper bound).
    const lora = this.options.loraRank * (7 * C + 2 * H * D + 2 * Hkv * D + 3 * I);
    return 2 * N * (projections + lora) + 4 * N * keys * H * D;
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
    const N = this.shape.B * this.shape.T;
    const { headNorm } = acts;
    const rope = this.ropeTable(batch, layer, cache);
    if (this.fused) {
      project('qkv_proj', acts.n1, this.fused.qkv);
      this.encodeSplit(encoder, this.fused.qkv, [acts.q, acts.k, acts.v]);
    } else if (headNorm) {
      // Qwen3: each head of q and k is RMS-normalised over its D dims after the projection, before RoPE.
      project('q_proj', acts.n1, headNorm.qRaw);
      project('k_proj', acts.n1, headNorm.kRaw);
      encodeRmsnorm(ctx, encoder, { x: headNorm.qRaw, w: weights.qNorm!, eps }, view(acts.q, [N * config.numHeads, config.headDim]), headNorm.qRstd);
      encodeRmsnorm(ctx, encoder, { x: headNorm.kRaw, w: weights.kNorm!, eps }, view(acts.k, [N * config.numKvHeads, config.headDim]), headNorm.kRstd);
    } else {
      project('q_proj', acts.n1, acts.q);
      project('k_proj', acts.n1, acts.k);
    }
    if (!this.fused) project('v_proj', acts.n1, acts.v);
    encodeRope(ctx, encoder, { x: view(acts.q, [N, config.numHeads, config.headDim]), positions: batch.positions, ...rope });
    encodeRope(ctx, encoder, { x: view(acts.k, [N, config.numKvHeads, config.headDim]), positions: batch.positions, ...rope });
    if (cache) {
      // The new keys and values join the cache; attention then reads every position so far.
      const rowBytes = config.numKvHeads * config.headDim * 4;
      const bytes = this.shape.T * rowBytes;
      encoder.copyBufferToBuffer(acts.k.buffer, 0, cache.cache.k[layer]!.buffer, cache.offset * rowBytes, bytes);
      encoder.copyBufferToBuffer(acts.v.buffer, 0, cache.cache.v[layer]!.buffer, cache.offset * rowBytes, bytes);
    }
    const keys = cache
      ? { k: cache.cache.k[layer]!, v: cache.cache.v[layer]!, keyLength: cache.offset + this.shape.T }
      : { k: acts.k, v: acts.v, ...segmentsOf(batch) };
    encodeAttentionForward(ctx, encoder, { q: acts.q, ...keys, ...this.attentionOptions(layer) }, { o: acts.o, logsumexp: acts.logsumexp });
    project('o_proj', acts.o, acts.attentionOut);
    const { sandwich } = acts;
    if (sandwich) {
      // Gemma 3: the attention output is normalised before it joins the residual stream.
      encodeRmsnorm(ctx, encoder, { x: acts.attentionOut, w: weights.sandwich!.postAttention, eps }, sandwich.attention, sandwich.attentionRstd);
      encodeResidualAdd(ctx, encoder, x, sandwich.attention, acts.xMid);
    } else encodeResidualAdd(ctx, encoder, x, acts.attentionOut, acts.xMid);

    encodeRmsnorm(ctx, encoder, { x: acts.xMid, w: weights.postAttentionNorm, eps }, acts.n2, acts.rstd2);
    if (this.fused) {
      project('gate_up_proj', acts.n2, this.fused.gateUp);
      this.encodeSplit(encoder, this.fused.gateUp, [acts.gate, acts.up]);
    } else {
      project('gate_proj', acts.n2, acts.gate);
      project('up_proj', acts.n2, acts.up);
    }
    encodeSwiglu(ctx, encoder, { gate: acts.gate, up: acts.up, activation: config.mlpActivation }, acts.h);
    project('down_proj', acts.h, acts.mlpOut);
    if (sandwich) {
      encodeRmsnorm(ctx, encoder, { x: acts.mlpOut, w: weights.sandwich!.postFeedforward, eps }, sandwich.mlp, sandwich.mlpRstd);
      encodeResidualAdd(ctx, encoder, acts.xMid, sandwich.mlp, this.residual[layer + 1]!);
    } else encodeResidualAdd(ctx, encoder, acts.xMid, acts.mlpOut, this.residual[layer + 1]!);
  }

  /**
   * RoPE's frequencies and cos/sin factor for a pass whose sequences reach `cache.offset + T` (or T):
   * LongRoPE switches to its long factors once that passes original_max_position_embeddings, as
   * transformers does from the largest position + 1 of each forward.
   */
  private ropeTable(batch: BatchTensors, layer: number, cache?: CacheWrite): { frequencies: GpuTensor; scale: number } {
    const { model } = this;
    // Gemma 3's sliding-window layers rotate with their own base frequency and no scaling.
    if (model.config.gemma?.slidingLayers[layer] && model.ropeFrequenciesLocal) return { frequencies: model.ropeFrequenciesLocal, scale: 1 };
    const scaling = model.config.ropeScaling;
    const length = Math.max(batch.positionLimit ?? 0, (cache?.offset ?? 0) + this.shape.T);
    const long = scaling?.ropeType === 'longrope' && length > scaling.originalMaxPositionEmbeddings && model.ropeFrequenciesLong;
    return { frequencies: long || model.ropeFrequencies, scale: model.ropeScale };
  }

  /**
   * Gemma 3's query_pre_attn_scalar^−½ (the kernel's default 1/√head_dim otherwise), and the layer's
   * sliding window, if it has one (over positions in the batch row or the cache: a packed example's
   * positions and its row's indices differ by a constant, so the window is the same).
   */
  private attentionOptions(layer: number): { scale?: number; window?: number } {
    const { config } = this.model;
    const window = attentionWindowOf(config, layer);
    return { ...(config.gemma ? { scale: config.gemma.attentionScale } : {}), ...(window !== null ? { window } : {}) };
  }

  /** Copies consecutive column blocks of `fused` [N, Σ widths] into `parts` (each seen as [N, width]). */
  private encodeSplit(encoder: GPUCommandEncoder, fused: GpuTensor, parts: readonly GpuTensor[]): void {
    const rows = this.shape.B * this.shape.T;
    let col = 0;
    for (const part of parts) {
      const width = elementCount(part.shape) / rows;
      encodeColumnsCopy(this.ctx, encoder, fused, view(part, [rows, width]), { srcCol: col, dstCol: 0, width });
      col += width;
    }
  }

  /** The reverse of encodeSplit: each part's gradient into its columns of the fused gradient. */
  private encodeJoin(encoder: GPUCommandEncoder, parts: readonly GpuTensor[], fused: GpuTensor): void {
    const rows = this.shape.B * this.shape.T;
    let col = 0;
    for (const part of parts) {
      const width = elementCount(part.shape) / rows;
      encodeColumnsCopy(this.ctx, encoder, view(part, [rows, width]), fused, { srcCol: 0, dstCol: col, width });
      col += width;
    }
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
    const { weight, bias } = this.projectionWeights(weights, target);
    const pair = lora?.pair(layer, target);
    if (pair && !acts.u.has(target)) {
      throw new CocktailError('GRAPH_LORA_TARGET', `this graph keeps LoRA activations for ${[...acts.u.keys()].join(', ') || 'no projection'}, but the adapter also targets ${target}; build the graph with the adapter's targets`, { target });
    }
    // Attention's q/k/v/o are [B, T, heads, D]; a projection sees the same bytes as [N, heads·D].
    const rows = this.shape.B * this.shape.T;
    const asMatrix = (tensor: GpuTensor): GpuTensor => view(tensor, [rows, elementCount(tensor.shape) / rows]);
    encodeLoraLinear(
      this.ctx,
      encoder,
      { x: asMatrix(input), w: weight, ...(bias ? { bias } : {}), ...(pair ? { lora: this.loraPair(pair, lora!, layer, target) } : {}) },
      asMatrix(output),
      pair ? acts.u.get(target) : undefined,
    );
  }


  /** The kernel's view of a LoRA pair, with this step's dropout when training. */
  private loraPair(pair: { a: GpuTensor; b: GpuTensor }, lora: GpuLora, layer: number, target: LoraTarget) {
    const dropout: KernelDropout | undefined =
      this.dropout && this.dropout.p > 0 ? { p: this.dropout.p, stepUniform: this.dropout.stepUniform, offset: layer * DROPOUT_SLOTS_PER_LAYER + DROPOUT_SLOT[target] } : undefined;
    return { a: pair.a, b: pair.b, scale: lora.scale, ...(dropout ? { dropout } : {}) };
  }

  /**
   * Encodes the backward pass after encodeForward and the loss (which filled dFinal): gradients flow
   * from the final norm down through every layer; LoRA gradients ACCUMULATE into lora.training.grads
   * (the trainer clears them once per optimizer step, so micro-batches add up). Frozen weights get no
   * gradient, only the activations do.
   */
  encodeBackward(target: GPUCommandEncoder | CommandStream, batch: BatchTensors, lora?: GpuLora): void {
    const { ctx, model } = this;
    const { config } = model;
    const work = this.gradients;
    if (!work || !this.dFinal) throw new Error('encodeBackward needs a graph built with training: true');
    const stream = isCommandStream(target) ? target : unboundedStream(target);
    const L = config.numLayers;
    stream.encoder.clearBuffer(work.dx.buffer);
    encodeRmsnormBackward(ctx, stream.encoder, { dy: this.dFinal, x: this.residual[L]!, w: model.finalNorm, rstd: this.finalRstd }, work.dx);
    // The backward costs about two forwards (input gradients, then LoRA's), three when recomputing.
    const flops = this.layerForwardFlops() * (this.options.recompute ? 3 : 2);
    for (let layer = L - 1; layer >= 0; layer--) {
      if (this.options.recompute) this.encodeLayerForward(stream.encoder, layer, batch, lora);
      this.encodeLayerBackward(stream.encoder, layer, batch, lora, work);
      stream.add(flops);
    }
  }

  /** dx holds ∂loss/∂residual[layer + 1] on entry and ∂loss/∂residual[layer] on exit. */
  private encodeLayerBackward(encoder: GPUCommandEncoder, layer: number, batch: BatchTensors, lora: GpuLora | undefined, work: GradientWorkspace): void {
    const { ctx, model } = this;
    const { config } = model;
    const weights = model.layers[layer]!;
    const acts = this.activations(layer);
    const N = this.shape.B * this.shape.T;
    const back = (target: LoraTarget, input: GpuTensor, dy: GpuTensor, dx: GpuTensor) => this.encodeProjectionBackward(encoder, weights, layer, target, input, dy, dx, acts, lora, work);
    const clear = (...tensors: GpuTensor[]) => tensors.forEach((tensor) => encoder.clearBuffer(tensor.buffer));

    // MLP: x_next = x_mid + down(silu(gate(n2))·up(n2))
    clear(work.dh, work.dgate, work.dup, work.dn);
    const { sandwich } = acts;
    let dMlpOut = work.dx;
    if (sandwich) {
      // Gemma 3: back through the post-feed-forward norm first (the residual's own gradient stays in dx).
      clear(work.dPost!);
      encodeRmsnormBackward(ctx, encoder, { dy: work.dx, x: acts.mlpOut, w: weights.sandwich!.postFeedforward, rstd: sandwich.mlpRstd }, work.dPost!);
      dMlpOut = work.dPost!;
    }
    back('down_proj', acts.h, dMlpOut, work.dh);
    encodeSwigluBackward(ctx, encoder, { gate: acts.gate, up: acts.up, dh: work.dh, activation: config.mlpActivation }, work.dgate, work.dup);
    if (this.fused) {
      this.encodeJoin(encoder, [work.dgate, work.dup], this.fused.gateUp);
      back('gate_up_proj', acts.n2, this.fused.gateUp, work.dn);
    } else {
      back('gate_proj', acts.n2, work.dgate, work.dn);
      back('up_proj', acts.n2, work.dup, work.dn);
    }
    encodeRmsnormBackward(ctx, encoder, { dy: work.dn, x: acts.xMid, w: weights.postAttentionNorm, rstd: acts.rstd2 }, work.dx);

    // Attention: x_mid = x + o_proj(attention(rope(q(n1)), rope(k(n1)), v(n1)))
    clear(work.dAttention, work.dq, work.dk, work.dv, work.dqRotated, work.dkRotated, work.dn);
    let dAttentionOut = work.dx;
    if (sandwich) {
      clear(work.dPost!);
      encodeRmsnormBackward(ctx, encoder, { dy: work.dx, x: acts.attentionOut, w: weights.sandwich!.postAttention, rstd: sandwich.attentionRstd }, work.dPost!);
      dAttentionOut = work.dPost!;
    }
    back('o_proj', acts.o, dAttentionOut, work.dAttention);
    encodeAttentionBackward(
      ctx,
      encoder,
      { q: acts.q, k: acts.k, v: acts.v, ...segmentsOf(batch), ...this.attentionOptions(layer) },
      { o: acts.o, logsumexp: acts.logsumexp },
      work.dAttention,
      { dq: work.dq, dk: work.dk, dv: work.dv },
      { stats: work.attentionStats },
    );
    const { numHeads: H, numKvHeads: Hkv, headDim: D } = config;
    const rope = this.ropeTable(batch, layer);
    encodeRopeBackward(ctx, encoder, { dy: view(work.dq, [N, H, D]), positions: batch.positions, ...rope }, view(work.dqRotated, [N, H, D]));
    encodeRopeBackward(ctx, encoder, { dy: view(work.dk, [N, Hkv, D]), positions: batch.positions, ...rope }, view(work.dkRotated, [N, Hkv, D]));
    let dqProjected = work.dqRotated;
    let dkProjected = work.dkRotated;
    if (acts.headNorm) {
      // Through Qwen3's per-head norms; dq and dk are free again once RoPE's backward has read them.
      const { qRaw, kRaw, qRstd, kRstd } = acts.headNorm;
      clear(work.dq, work.dk);
      encodeRmsnormBackward(ctx, encoder, { dy: view(work.dqRotated, [N * H, D]), x: qRaw, w: weights.qNorm!, rstd: qRstd }, view(work.dq, [N * H, D]));
      encodeRmsnormBackward(ctx, encoder, { dy: view(work.dkRotated, [N * Hkv, D]), x: kRaw, w: weights.kNorm!, rstd: kRstd }, view(work.dk, [N * Hkv, D]));
      dqProjected = work.dq;
      dkProjected = work.dk;
    }
    if (this.fused) {
      this.encodeJoin(encoder, [work.dqRotated, work.dkRotated, work.dv], this.fused.qkv);
      back('qkv_proj', acts.n1, this.fused.qkv, work.dn);
    } else {
      back('q_proj', acts.n1, dqProjected, work.dn);
      back('k_proj', acts.n1, dkProjected, work.dn);
      back('v_proj', acts.n1, work.dv, work.dn);
    }
    encodeRmsnormBackward(ctx, encoder, { dy: work.dn, x: this.residual[layer]!, w: weights.inputNorm, rstd: acts.rstd1 }, work.dx);
  }

  private encodeProjectionBackward(
    encoder: GPUCommandEncoder,
    weights: GpuLayer,
    layer: number,
    target: LoraTarget,
    input: GpuTensor,
    dy: GpuTensor,
    dx: GpuTensor,
    acts: ActivationSet,
    lora: GpuLora | undefined,
    work: GradientWorkspace,
  ): void {
    const rows = this.shape.B * this.shape.T;
    const asMatrix = (tensor: GpuTensor): GpuTensor => view(tensor, [rows, elementCount(tensor.shape) / rows]);
    const { weight } = this.projectionWeights(weights, target);
    const pair = lora?.pair(layer, target);
    const grads = lora?.training?.grads.get(loraPairKey(layer, target));
    if (!pair || !grads) {
      // A frozen projection passes the gradient through its weight: dX += dY·W.
      encodeMatmul(this.ctx, encoder, 'nn', asMatrix(dy), weight, asMatrix(dx), { accumulate: true });
      return;
    }
    encodeLoraLinearBackward(
      this.ctx,
      encoder,
      { x: asMatrix(input), w: weight, lora: this.loraPair(pair, lora!, layer, target), dy: asMatrix(dy), u: acts.u.get(target)! },
      { dx: asMatrix(dx), da: grads.a, db: grads.b },
      work.g,
    );
  }

  private projectionWeights(weights: GpuLayer, target: LoraTarget): { weight: GpuTensor; bias?: GpuTensor } {
    const projection = weights.projections[target];
    if (!projection) throw new CocktailError('GRAPH_LORA_TARGET', `${this.model.config.architecture} has no ${target}; its projections are ${loraTargetsOf(this.model.config).join(', ')}`, { target });
    return projection;
  }

  /** Frees the buffers; a resized graph owns none (its host frees them). */
  destroy(): void {
    for (const tensor of this.owned.values()) tensor.buffer.destroy();
  }
}

/** Gradients in flight during the backward pass, shared by every layer. */
class GradientWorkspace {
  readonly dx: GpuTensor;
  readonly dn: GpuTensor;
  readonly dh: GpuTensor;
  readonly dgate: GpuTensor;
  readonly dup: GpuTensor;
  readonly dAttention: GpuTensor;
  readonly dq: GpuTensor;
  readonly dk: GpuTensor;
  readonly dv: GpuTensor;
  readonly dqRotated: GpuTensor;
  readonly dkRotated: GpuTensor;
  readonly attentionStats: GpuTensor;
  /** The LoRA backward's scratch dY·B [N, r]. */
  readonly g: GpuTensor;
  /** Gemma 3: the gradient behind a branch's output norm [N, C]. */
  readonly dPost?: GpuTensor;

  constructor(make: (name: string, dims: number[]) => GpuTensor, config: ModelConfig, { B, T }: BatchShape, rank: number) {
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
    const N = B * T;
    this.dx = make('d residual', [N, C]);
    this.dn = make('d norm out', [N, C]);
    this.dh = make('d h', [N, I]);
    this.dgate = make('d gate', [N, I]);
    this.dup = make('d up', [N, I]);
    this.dAttention = make('d attention out', [B, T, H, D]);
    this.dq = make('d q', [B, T, H, D]);
    this.dk = make('d k', [B, T, Hkv, D]);
    this.dv = make('d v', [B, T, Hkv, D]);
    this.dqRotated = make('d q before rope', [B, T, H, D]);
    this.dkRotated = make('d k before rope', [B, T, Hkv, D]);
    this.attentionStats = make('attention backward stats', attentionScratchShapes({ B, H, T }).stats);
    this.g = make('lora dY·B', [N, Math.max(rank, 1)]);
    if (config.gemma) this.dPost = make('d branch out before its norm', [N, C]);
  }
}
