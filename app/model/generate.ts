/**
 * Text generation with a KV cache: the prompt runs through the graph once (prefill), then one token
 * at a time, each step attending over the cached keys and values. Greedy (temperature 0) picks the
 * argmax on the GPU; otherwise temperature + top-p sampling on the GPU, driven by a seeded uniform per
 * step so a seed reproduces a generation exactly. Stops at EOS, a stop string, or the token budget.
 */
import { CocktailError } from '../errors.ts';
import { throughputFor, TimedWork, type CommandStream, type SubmitBudget, type ThroughputEstimate } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuError } from '../gpu/errors.ts';
import { encodeSelectedLogits } from '../gpu/ops/cross_entropy.ts';
import { drawUniforms, encodeArgmax, encodeSampleTopP } from '../gpu/ops/sampling.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { createIndexTensor, createTensor, readIndexTensor, type GpuTensor } from '../gpu/tensor.ts';
import { Random } from '../util/random.ts';
import { createKvCache, DecoderGraph, type KvCache } from './graph.ts';
import type { GpuModel } from './gpu-model.ts';
import type { GpuLora } from './lora-gpu.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (the default) is greedy decoding. */
  temperature?: number;
  /** Nucleus mass for sampling; 1 samples from the whole distribution. */
  topP?: number;
  seed?: number;
  /** Token ids that end generation (the tokenizer's EOS ids); the EOS itself is not returned. */
  eosIds?: readonly number[];
  /** Text that ends generation; needs `decode`. The stop string is cut from the text. */
  stopStrings?: readonly string[];
  decode?: (ids: readonly number[]) => string;
  /** Called with each new token and, with `decode`, the text it adds. */
  onToken?: (id: number, textDelta: string) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Generated ids, prompt excluded. */
  ids: number[];
  /** Decoded text of `ids` (stop string removed), when `decode` was given. */
  text?: string;
  stopReason: 'eos' | 'stop-string' | 'max-new-tokens' | 'context-full';
}

export class Generator {
  private readonly cache: KvCache;
  private readonly step: DecoderGraph;
  private readonly logits: GpuTensor;
  private readonly token: GpuTensor;
  private readonly uniform: GpuTensor;
  private readonly lastRow: GpuTensor;
  /** The one token and position of a decode step, rewritten each step rather than reallocated. */
  private readonly stepIds: GpuTensor;
  private readonly stepPositions: GpuTensor;
  /** The allocations' error scopes: a KV cache past the GPU's memory fails the first generate(), not the first read. */
  private readonly allocated: Promise<GpuError | undefined>;
  /** What sizes the prefill's and each decode step's submits: the device's measured throughput. */
  readonly throughput: ThroughputEstimate;
  /** Command buffers the prefill and each decode step of the last generate() were submitted in. */
  readonly submitsOfLastGeneration: number[] = [];

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: GpuModel,
    /** `submitBudget`: how long one submit may be estimated to run (default DEFAULT_SUBMIT_SECONDS). */
    private readonly options: { capacity?: number; lora?: GpuLora; submitBudget?: SubmitBudget } = {},
  ) {
    this.throughput = throughputFor(ctx, options.submitBudget);
    const { config } = model;
    // Without a capacity, the model's whole context. A sliding-window layer masks cache positions
    // before its window, so the cache holds every position: Gemma 3's full layers read them all.
    const capacity = options.capacity ?? config.maxPositionEmbeddings;
    const scoped = withinErrorScopes(ctx, `allocating a ${capacity}-token KV cache`, () => ({
      cache: createKvCache(ctx, config, capacity),
      step: new DecoderGraph(ctx, model, { B: 1, T: 1 }, { training: false, loraRank: options.lora?.config.r ?? 0 }),
      logits: createTensor(ctx.device, 'next-token logits', [1, config.vocabSize], 'f32'),
      token: createIndexTensor(ctx.device, 'next token', [1], 'i32'),
      uniform: createTensor(ctx.device, 'sampling uniform', [1], 'f32'),
      lastRow: createIndexTensor(ctx.device, 'last row', [1], 'i32', [0]),
      stepIds: createIndexTensor(ctx.device, 'step id', [1], 'u32'),
      stepPositions: createIndexTensor(ctx.device, 'step position', [1], 'u32'),
    }));
    ({ cache: this.cache, step: this.step, logits: this.logits, token: this.token, uniform: this.uniform, lastRow: this.lastRow, stepIds: this.stepIds, stepPositions: this.stepPositions } = scoped.value);
    this.allocated = scoped.errors;
  }

  /** GPU memory the generator holds between calls: the KV cache, the decode graph and its small buffers. */
  get gpuBytes(): number {
    const small = [this.logits, this.token, this.uniform, this.lastRow, this.stepIds, this.stepPositions].reduce((sum, tensor) => sum + tensor.buffer.size, 0);
    return this.cache.k.concat(this.cache.v).reduce((sum, tensor) => sum + tensor.buffer.size, 0) + this.step.bytes + small;
  }

  async generate(prompt: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    if (prompt.length === 0) throw new CocktailError('GENERATE_EMPTY_PROMPT', 'Generation needs at least one prompt token (e.g. BOS)');
    const allocationError = await this.allocated;
    if (allocationError) throw allocationError;
    const { capacity } = this.cache;
    if (prompt.length >= capacity) {
      throw new CocktailError('GENERATE_PROMPT_TOO_LONG', `The prompt has ${prompt.length} tokens; this model's context holds ${capacity}`, { tokens: prompt.length, capacity });
    }
    const vocab = this.model.config.vocabSize;
    const badId = prompt.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));
    if (badId !== undefined) throw new CocktailError('GENERATE_BAD_ID', `Prompt token id ${badId} is outside the vocabulary [0, ${vocab})`, { id: badId });

    const random = Random.fromSeed(options.seed ?? 0);
    const temperature = options.temperature ?? 0;
    const eos = new Set(options.eosIds ?? []);
    const ids: number[] = [];
    this.submitsOfLastGeneration.length = 0;
    let text = '';
    let next = await this.runPrefill(prompt, temperature, options, random);
    let position = prompt.length;
    for (;;) {
      if (options.signal?.aborted) throw new CocktailError('CANCELLED', 'Generation was cancelled');
      if (eos.has(next)) return this.finish(ids, text, 'eos');
      ids.push(next);
      if (options.decode) {
        const full = options.decode(ids);
        const delta = full.slice(text.length);
        text = full;
        options.onToken?.(next, delta);
        const stop = options.stopStrings?.map((s) => ({ s, at: text.indexOf(s) })).find(({ at }) => at >= 0);
        if (stop) return this.finish(ids, text.slice(0, stop.at), 'stop-string');
      } else options.onToken?.(next, '');
      if (ids.length >= options.maxNewTokens) return this.finish(ids, text, 'max-new-tokens');
      if (position >= capacity) return this.finish(ids, text, 'context-full');
      next = await this.runStep(next, position, temperature, options, random);
      position++;
    }
  }

  private finish(ids: number[], text: string, stopReason: GenerateResult['stopReason']): GenerateResult {
    return { ids, ...(text || ids.length === 0 ? { text } : {}), stopReason };
  }

  private async runPrefill(prompt: readonly number[], temperature: number, options: GenerateOptions, random: Random): Promise<number> {
    const T = prompt.length;
    const allocated = withinErrorScopes(this.ctx, `allocating a ${T}-token prompt`, () => ({
      graph: new DecoderGraph(this.ctx, this.model, { B: 1, T }, { training: false, loraRank: this.options.lora?.config.r ?? 0 }),
      batch: {
        ids: createIndexTensor(this.ctx.device, 'prompt ids', [T], 'u32', prompt),
        positions: createIndexTensor(this.ctx.device, 'prompt positions', [T], 'u32', prompt.map((_, t) => t)),
      },
      lastRow: createIndexTensor(this.ctx.device, 'last prompt row', [1], 'i32', [T - 1]),
    }));
    const { graph, batch, lastRow } = allocated.value;
    try {
      await throwGpuErrors(allocated);
      return await this.pick('prefill', true, (stream) => graph.encodeForward(stream, batch, this.options.lora, { cache: this.cache, offset: 0 }), graph.final, lastRow, temperature, options, random);
    } finally {
      graph.destroy();
      for (const tensor of [batch.ids, batch.positions, lastRow]) tensor.buffer.destroy();
    }
  }

  private async runStep(token: number, position: number, temperature: number, options: GenerateOptions, random: Random): Promise<number> {
    const { queue } = this.ctx.device;
    queue.writeBuffer(this.stepIds.buffer, 0, Uint32Array.of(token));
    queue.writeBuffer(this.stepPositions.buffer, 0, Uint32Array.of(position));
    return this.pick(`decode ${position}`, false, (stream) => this.step.encodeForward(stream, { ids: this.stepIds, positions: this.stepPositions }, this.options.lora, { cache: this.cache, offset: position }), this.step.final, this.lastRow, temperature, options, random);
  }

  /**
   * Encodes the forward (cut between layers into bounded submits, like training), projects the chosen
   * row to logits, picks a token on the GPU, submits, and reads the one id back. `measured`: the
   * prompt's prefill tells the device's throughput; a decode step's one token says little about it.
   */
  private async pick(label: string, measured: boolean, forward: (stream: CommandStream) => void, hidden: GpuTensor, row: GpuTensor, temperature: number, options: GenerateOptions, random: Random): Promise<number> {
    if (temperature > 0) this.ctx.device.queue.writeBuffer(this.uniform.buffer, 0, drawUniforms(random, 1) as Float32Array<ArrayBuffer>);
    let work: TimedWork | undefined;
    try {
      // The sampled id is read only when the GPU accepted every submit: otherwise the buffer holds the previous token.
      await throwGpuErrors(
        withinErrorScopes(this.ctx, 'a generation step', () => {
          work = new TimedWork(this.ctx, label, this.throughput, this.options.submitBudget, measured);
          const stream = work.stream();
          forward(stream);
          encodeSelectedLogits(this.ctx, stream.encoder, { x: hidden, w: this.model.lmHead, rows: row, softcap: this.model.config.finalLogitSoftcapping }, this.logits);
          if (temperature > 0) encodeSampleTopP(this.ctx, stream.encoder, this.logits, this.uniform, this.token, { temperature, topP: options.topP ?? 1 });
          else encodeArgmax(this.ctx, stream.encoder, this.logits, this.token);
          stream.add(2 * this.model.config.hiddenSize * this.model.config.vocabSize);
          work.submitLast(stream);
        }),
      );
      const [token] = await readIndexTensor(this.ctx.device, this.token);
      await work!.measure();
      this.submitsOfLastGeneration.push(work!.submits);
      return token!;
    } finally {
      work?.destroy();
    }
  }

  destroy(): void {
    this.cache.destroy();
    this.step.destroy();
    for (const tensor of [this.logits, this.token, this.uniform, this.lastRow, this.stepIds, this.stepPositions]) tensor.buffer.destroy();
  }
}
