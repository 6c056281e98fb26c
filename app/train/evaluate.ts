/**
 * Evaluation of a task on its validation split: the loss (the same cross-entropy as training, no
 * backward) and the task's metric — accuracy by scoring every label word after the prompt and taking
 * the likeliest (no generation needed), or exact match, numeric match or ROUGE-L on greedy generations.
 */
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { CocktailError } from '../errors.ts';
import { throughputFor, TimedWork, type SubmitBudget, type ThroughputEstimate } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { crossEntropyChunkRows, crossEntropyStatsOf, encodeCrossEntropy } from '../gpu/ops/cross_entropy.ts';
import { readTensors } from '../gpu/readback.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { createIndexTensor, createTensor, type GpuTensor } from '../gpu/tensor.ts';
import { Generator } from '../model/generate.ts';
import { DecoderGraph } from '../model/graph.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { GpuLora } from '../model/lora-gpu.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { buildBatch, IGNORE_INDEX, type HostBatch } from './batch.ts';
import { exactMatch, numericMatch, rougeL } from './metrics.ts';
import type { PreparedTask } from './task-data.ts';

export interface TaskEvaluation {
  task: string;
  metric: PreparedTask['metric'];
  /** Mean cross-entropy over the validation split's labelled positions. */
  loss: number;
  /** The metric's mean over the examples scored (equal to loss for the loss metric). */
  score: number;
  examples: number;
  /** A few generations or choices, for the studio to show next to the number. */
  samples: { expected: string; got: string }[];
  /**
   * With `perExample`: each validation example's own loss (mean over its labelled positions) and its
   * own metric score, in validation order; what experiment statistics resample (app/experiment).
   */
  perExample?: { losses: number[]; scores: number[] };
}

function stopIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CocktailError('CANCELLED', 'the evaluation was cancelled');
}

export class Evaluator {
  private readonly graph: DecoderGraph;
  private readonly tensors: { ids: GpuTensor; positions: GpuTensor; segments: GpuTensor; targets: GpuTensor; stats: GpuTensor; rowLoss: GpuTensor; scratch: GpuTensor };
  /** What sizes each batch's submits: the device's measured throughput (shared with training and generation). */
  readonly throughput: ThroughputEstimate;
  /** Command buffers the last batch was submitted in: its forward cut between layers into bounded submits. */
  submitsOfLastBatch = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: GpuModel,
    private readonly tokenizer: TextTokenizer,
    private readonly shape: { B: number; T: number },
    loraRank: number,
    /** How long one submit may be estimated to run (default DEFAULT_SUBMIT_SECONDS); generation metrics use it too. */
    private readonly submitBudget?: SubmitBudget,
  ) {
    this.throughput = throughputFor(ctx, submitBudget);
    const { B, T } = shape;
    const N = B * T;
    const V = model.config.vocabSize;
    this.graph = new DecoderGraph(ctx, model, shape, { training: false, loraRank });
    this.tensors = {
      ids: createIndexTensor(ctx.device, 'eval ids', [N], 'u32'),
      positions: createIndexTensor(ctx.device, 'eval positions', [N], 'u32'),
      segments: createIndexTensor(ctx.device, 'eval segments', [B, T], 'u32'),
      targets: createIndexTensor(ctx.device, 'eval targets', [N], 'i32'),
      stats: createTensor(ctx.device, 'eval stats', [3], 'f32'),
      rowLoss: createTensor(ctx.device, 'eval row loss', [N], 'f32'),
      scratch: createTensor(ctx.device, 'eval logits chunk', [crossEntropyChunkRows(ctx.device, N, V), V], 'f32'),
    };
  }

  /** GPU memory the evaluator holds besides the model: its graph, batch and loss buffers, logits chunk. */
  get gpuBytes(): number {
    return this.graph.bytes + Object.values(this.tensors).reduce((sum, tensor) => sum + tensor.buffer.size, 0);
  }

  /**
   * `signal` stops the evaluation between batches and prompts with a CANCELLED error (a standalone
   * evaluation is cancellable; a training run's evaluations finish, so a pause checkpoints after them).
   */
  async evaluateTask(task: PreparedTask, lora: GpuLora | undefined, options: { maxExamples?: number; maxNewTokens?: number; signal?: AbortSignal; perExample?: boolean } = {}): Promise<TaskEvaluation> {
    const limit = options.maxExamples ?? 50;
    const { signal } = options;
    const { loss, perExample: losses } = await this.exampleLosses(task.validation.slice(0, limit), lora, signal);
    const prompts = task.validationPrompts.slice(0, limit);
    let scored: { score: number; samples: TaskEvaluation['samples']; scores: number[] } = { score: loss, samples: [], scores: losses };
    if (task.metric === 'accuracy' && task.labelWords && prompts.length > 0) scored = await this.labelAccuracy(prompts, task.labelWords, lora, signal);
    else if (task.metric !== 'loss' && task.metric !== 'accuracy' && prompts.length > 0) scored = await this.generationScore(prompts, task.metric, lora, options.maxNewTokens ?? 64, signal);
    const evaluation: TaskEvaluation = { task: task.name, metric: task.metric, loss, score: scored.score, examples: task.metric === 'loss' ? Math.min(limit, task.validation.length) : prompts.length, samples: scored.samples.slice(0, 5) };
    if (options.perExample) evaluation.perExample = { losses, scores: scored.scores };
    return evaluation;
  }

  /** Mean cross-entropy over every labelled position of `examples`. */
  async loss(examples: readonly TokenizedExample[], lora: GpuLora | undefined, signal?: AbortSignal): Promise<number> {
    return (await this.exampleLosses(examples, lora, signal)).loss;
  }

  /** The mean over every labelled position, and each example's own mean (NaN for one without labels). */
  private async exampleLosses(examples: readonly TokenizedExample[], lora: GpuLora | undefined, signal?: AbortSignal): Promise<{ loss: number; perExample: number[] }> {
    let sum = 0;
    let count = 0;
    const perExample: number[] = [];
    for (let start = 0; start < examples.length; start += this.shape.B) {
      stopIfCancelled(signal);
      const batch = buildBatch(examples.slice(start, start + this.shape.B).map((example) => ({ task: 0, example: this.fit(example) })), this.shape.T);
      const { stats, rowLoss } = await this.run(batch, lora);
      for (let row = 0; row < batch.B; row++) {
        const rowSum = rowLoss.subarray(row * this.shape.T, (row + 1) * this.shape.T).reduce((a, b) => a + b, 0);
        perExample.push(batch.rowLabels[row]! > 0 ? rowSum / batch.rowLabels[row]! : NaN);
      }
      sum += stats.lossSum;
      count += stats.labelCount;
    }
    return { loss: count > 0 ? sum / count : NaN, perExample };
  }

  /** Scores each label word after the prompt by its log-probability; the likeliest is the model's answer. */
  private async labelAccuracy(prompts: PreparedTask['validationPrompts'], words: readonly string[], lora: GpuLora | undefined, signal: AbortSignal | undefined) {
    const scores: number[] = [];
    const samples: TaskEvaluation['samples'] = [];
    for (const { promptIds, expected, candidates: prepared } of prompts) {
      stopIfCancelled(signal);
      const candidates = prepared ? prepared.map(({ ids, scoreFrom }) => scoredSequence(ids, scoreFrom)) : words.map((word) => this.continuation(promptIds, word));
      const losses: number[] = [];
      for (let start = 0; start < candidates.length; start += this.shape.B) {
        const slice = candidates.slice(start, start + this.shape.B);
        const batch = buildBatch(slice.map((example) => ({ task: 0, example: this.fit(example) })), this.shape.T);
        const { rowLoss } = await this.run(batch, lora);
        slice.forEach((_, row) => losses.push(rowLoss.subarray(row * this.shape.T, (row + 1) * this.shape.T).reduce((a, b) => a + b, 0)));
      }
      const best = words[losses.indexOf(Math.min(...losses))]!;
      scores.push(exactMatch(best, expected));
      samples.push({ expected, got: best });
    }
    return { score: scores.reduce((a, b) => a + b, 0) / prompts.length, samples, scores };
  }

  private async generationScore(prompts: PreparedTask['validationPrompts'], metric: 'exact_match' | 'numeric_match' | 'rouge_l', lora: GpuLora | undefined, maxNewTokens: number, signal: AbortSignal | undefined) {
    const measure = { exact_match: exactMatch, numeric_match: numericMatch, rouge_l: rougeL }[metric];
    const generator = new Generator(this.ctx, this.model, { capacity: this.shape.T + maxNewTokens, ...(lora ? { lora } : {}), ...(this.submitBudget ? { submitBudget: this.submitBudget } : {}) });
    const scores: number[] = [];
    const samples: TaskEvaluation['samples'] = [];
    try {
      for (const { promptIds, expected } of prompts) {
        stopIfCancelled(signal);
        const prompt = Array.from(promptIds.slice(-this.shape.T));
        const { text = '' } = await generator.generate(prompt, { maxNewTokens, eosIds: this.tokenizer.eosIds, decode: (ids) => this.tokenizer.decode(ids, { skipSpecialTokens: true }) });
        scores.push(measure(text, expected));
        samples.push({ expected, got: text });
      }
    } finally {
      generator.destroy();
    }
    return { score: scores.reduce((a, b) => a + b, 0) / prompts.length, samples, scores };
  }

  /** prompt + word as an example whose loss covers only the word's tokens (when preparation gave no candidates). */
  private continuation(promptIds: Int32Array, word: string): TokenizedExample {
    const prompt = Array.from(promptIds);
    // Tokenize the word in context (a leading space merges differently on its own), falling back to alone.
    const joint = this.tokenizer.encode(this.tokenizer.decode(prompt) + word, { addSpecialTokens: false });
    const bare = this.tokenizer.encode(this.tokenizer.decode(prompt), { addSpecialTokens: false });
    const inContext = joint.slice(0, bare.length).every((id, i) => id === bare[i]) ? joint.slice(bare.length) : [];
    const wordIds = inContext.length > 0 ? inContext : this.tokenizer.encode(word, { addSpecialTokens: false });
    const ids = [...prompt, ...wordIds];
    const labels = ids.map((id, t) => (t >= prompt.length ? id : IGNORE_INDEX));
    return { source: { row: 0 }, inputIds: Int32Array.from(ids), labels: Int32Array.from(labels), turnIndex: new Int32Array(ids.length), roles: [], truncatedTokens: 0 };
  }

  /** Keeps the last T tokens of an example longer than the evaluation batch (its answer is at the end). */
  private fit(example: TokenizedExample): TokenizedExample {
    const excess = example.inputIds.length - this.shape.T;
    if (excess <= 0) return example;
    return { ...example, inputIds: example.inputIds.slice(excess), labels: Int32Array.from(example.labels.slice(excess), (label, t) => (t === 0 ? IGNORE_INDEX : label)) };
  }

  private async run(batch: HostBatch, lora: GpuLora | undefined) {
    const { ctx, tensors } = this;
    const { device } = ctx;
    // A short last batch leaves rows of zeros: segment 0 and no labels, so they add nothing.
    const full = batch.B === this.shape.B ? batch : padBatch(batch, this.shape.B);
    device.queue.writeBuffer(tensors.ids.buffer, 0, full.ids);
    device.queue.writeBuffer(tensors.positions.buffer, 0, full.positions);
    device.queue.writeBuffer(tensors.segments.buffer, 0, full.segments);
    device.queue.writeBuffer(tensors.targets.buffer, 0, full.targets);
    // Nothing is read from a batch whose submits the GPU refused: the buffers would hold the previous batch's numbers.
    let work: TimedWork | undefined;
    try {
      await throwGpuErrors(
        withinErrorScopes(ctx, 'an evaluation batch', () => {
          work = new TimedWork(ctx, 'evaluate', this.throughput, this.submitBudget);
          // Cut between layers like a training step's forward: a long evaluation batch must not outlast the GPU watchdog either.
          const stream = work.stream();
          stream.encoder.clearBuffer(tensors.stats.buffer);
          const batchTensors = { ids: tensors.ids, positions: tensors.positions, segments: tensors.segments };
          this.graph.encodeForward(stream, batchTensors, lora);
          encodeCrossEntropy(ctx, stream.encoder, { x: this.graph.final, w: this.model.lmHead, labels: tensors.targets }, { stats: tensors.stats, rowLoss: tensors.rowLoss }, tensors.scratch);
          stream.add(2 * this.shape.B * this.shape.T * this.model.config.hiddenSize * this.model.config.vocabSize);
          work.submitLast(stream);
        }),
      );
      const [stats, rowLoss] = await readTensors(device, [tensors.stats, tensors.rowLoss]);
      await work!.measure();
      this.submitsOfLastBatch = work!.submits;
      return { stats: crossEntropyStatsOf(stats!), rowLoss: rowLoss! };
    } finally {
      work?.destroy();
    }
  }

  destroy(): void {
    this.graph.destroy();
    for (const tensor of Object.values(this.tensors)) tensor.buffer.destroy();
  }
}

/** A sequence whose loss covers positions scoreFrom and after: a candidate answer after its prompt. */
function scoredSequence(ids: Int32Array, scoreFrom: number): TokenizedExample {
  return { source: { row: 0 }, inputIds: ids, labels: Int32Array.from(ids, (id, t) => (t >= scoreFrom ? id : IGNORE_INDEX)), turnIndex: new Int32Array(ids.length), roles: [], truncatedTokens: 0 };
}

function padBatch(batch: HostBatch, B: number): HostBatch {
  const N = B * batch.T;
  const grow = (array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
    const out = new Uint32Array(N);
    out.set(array);
    return out;
  };
  const targets = new Int32Array(N).fill(IGNORE_INDEX);
  targets.set(batch.targets);
  return { ...batch, B, ids: grow(batch.ids), positions: grow(batch.positions), segments: grow(batch.segments), targets };
}
