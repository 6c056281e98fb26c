/**
 * Evaluation of a task on a seeded sample of its validation split (eval-sample.ts): the loss (the same
 * cross-entropy as training, no backward) and the task's metric — accuracy by scoring every label word
 * after the prompt and taking the likeliest (no generation needed; by summed log-probability, or per
 * token so label words of different lengths compete fairly), with per-class scores and the confusion
 * matrix, or exact match, numeric match or ROUGE-L on greedy generations.
 */
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { CocktailError } from '../errors.ts';
import { throughputFor, TimedWork, type SubmitBudget, type ThroughputEstimate } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { crossEntropyChunkRows, crossEntropyStatsOf, encodeCrossEntropy } from '../gpu/ops/cross_entropy.ts';
import { readTensors } from '../gpu/readback.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { createIndexTensor, createTensor, type GpuTensor } from '../gpu/tensor.ts';
import { attentionWindowOf, type ModelConfig } from '../model/config.ts';
import { Generator } from '../model/generate.ts';
import { DecoderGraph } from '../model/graph.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { GpuLora } from '../model/lora-gpu.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { IGNORE_INDEX, type HostBatch } from './batch.ts';
import { exactMatch, numericMatch, rougeL } from './metrics.ts';
import { classificationReport, type ClassificationReport } from './classification-report.ts';
import { packSequences } from './eval-packing.ts';
import { candidateTree, packTrees, treeFits } from './eval-tree-packing.ts';
import { evaluationSample } from './eval-sample.ts';
import type { PreparedTask, ValidationPrompt } from './task-data.ts';

export type LabelScoring = 'sum' | 'per_token';
/** How label candidates are laid into rows: as trees sharing their prompt, or as separate sequences. */
export type CandidateLayout = 'tree' | 'sequences';

export interface TaskEvaluation {
  task: string;
  metric: PreparedTask['metric'];
  /** Mean cross-entropy over the evaluated examples' labelled positions. */
  loss: number;
  /** The metric's mean over the examples scored (equal to loss for the loss metric). */
  score: number;
  examples: number;
  /** A few answers, across labels for classification, for the studio to show next to the number. */
  samples: { input?: string; expected: string; got: string }[];
  /** Which examples were evaluated: the split's size, the label counts of the sample and of the split. */
  sample?: { splitSize: number; whole: boolean; labels?: Record<string, number>; splitLabels?: Record<string, number> };
  /** Classification: per-class scores, macro-F1, the confusion matrix and the majority-class bar. */
  classification?: ClassificationReport;
  /** Classification: how label words were scored (summed log-probability, or per token). */
  labelScoring?: LabelScoring;
  /** What a reader must know about these numbers (a sample size larger than the split, a missing label). */
  notices?: string[];
  /**
   * With `perExample`: each evaluated example's own loss (mean over its labelled positions) and its
   * own metric score, in sample order; what experiment statistics resample (app/experiment).
   */
  perExample?: { losses: number[]; scores: number[] };
}

export interface EvaluateOptions {
  /** Validation examples to evaluate, or the whole split (default 50). */
  examples?: number | 'all';
  /** Seeds the evaluation sample (the recipe's seed: the same examples in every run of the recipe). */
  seed?: number;
  maxNewTokens?: number;
  labelScoring?: LabelScoring;
  signal?: AbortSignal;
  /** Also return each example's loss and score. */
  perExample?: boolean;
  /**
   * Score the metric only: where the metric is not the loss, skip the pass that computes the loss (a
   * quarter to a half of the work); loss and each example's loss are then NaN. For callers that read
   * only the metric (router eval).
   */
  metricOnly?: boolean;
  /** Examples answered so far, of how many. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

/** A label word's score after one prompt: the summed cross-entropy of its tokens, and their count. */
export interface CandidateScore {
  lossSum: number;
  tokens: number;
}

/** Answers shown per task: enough to see every label of a small label set a few times. */
const SAMPLES_KEPT = 12;
/** Input text kept per shown answer. */
const INPUT_CHARS = 400;

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
  /** Forward passes run so far (what batching saves is counted here). */
  forwards = 0;
  /** Tokens (not padding) run through those forwards: what candidate trees save is counted here. */
  tokens = 0;
  /** The model's smallest sliding window over its layers, or null when every layer sees the whole prefix. */
  private readonly smallestWindow: number | null;

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
    this.smallestWindow = smallestWindowOf(model.config);
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
   * Evaluates a seeded sample of the task's validation split (eval-sample.ts). `signal` stops the
   * evaluation between batches and prompts with a CANCELLED error (a standalone evaluation is
   * cancellable; a training run's evaluations finish, so a pause checkpoints after them).
   */
  async evaluateTask(task: PreparedTask, lora: GpuLora | undefined, options: EvaluateOptions = {}): Promise<TaskEvaluation> {
    const { signal, onProgress } = options;
    const sample = evaluationSample(task, options.examples ?? 50, options.seed ?? 0);
    const chosen = sample.indices;
    const described = {
      sample: { splitSize: sample.splitSize, whole: chosen.length === sample.splitSize, ...(sample.labels ? { labels: { ...sample.labels }, splitLabels: { ...sample.splitLabels } } : {}) },
      ...(sample.notices.length > 0 ? { notices: [...sample.notices] } : {}),
    };
    const prompts = task.validationPrompts.length > 0 ? chosen.map((index) => task.validationPrompts[index]!) : [];
    // Accuracy needs label words to score; without them (not a classification task) the loss stands in.
    const answersPhase = task.metric !== 'loss' && (task.metric !== 'accuracy' || task.labelWords !== undefined) && prompts.length > 0;
    const total = answersPhase ? prompts.length : chosen.length;
    onProgress?.({ done: 0, total });
    const { loss, perExample: losses } =
      options.metricOnly && answersPhase ? { loss: NaN, perExample: chosen.map(() => NaN) } : await this.exampleLosses(chosen.map((index) => task.validation[index]!), lora, signal);
    const withScores = (scores: number[]) => (options.perExample ? { perExample: { losses, scores } } : {});
    if (!answersPhase || task.metric === 'loss') {
      onProgress?.({ done: total, total });
      return { task: task.name, metric: task.metric, loss, score: loss, examples: chosen.length, samples: [], ...described, ...withScores(losses) };
    }
    const report = (done: number) => onProgress?.({ done, total });
    if (task.metric === 'accuracy') {
      const labelScoring = options.labelScoring ?? 'sum';
      const answers = await this.labelAnswers(prompts, task.labelWords!, lora, labelScoring, signal, report);
      const classification = classificationReport(answers, task.labelWords!);
      const scores = answers.map(({ expected, got }) => exactMatch(got, expected));
      return { task: task.name, metric: task.metric, loss, score: classification.accuracy, examples: prompts.length, samples: acrossLabels(answers), classification, labelScoring, ...described, ...withScores(scores) };
    }
    const generated = await this.generationScore(prompts, task.metric, lora, options.maxNewTokens ?? 64, signal, report);
    return { task: task.name, metric: task.metric, loss, score: generated.score, examples: prompts.length, samples: generated.samples.slice(0, 5), ...described, ...withScores(generated.scores) };
  }

  /** Mean cross-entropy over every labelled position of `examples`, several examples to a row. */
  async loss(examples: readonly TokenizedExample[], lora: GpuLora | undefined, signal?: AbortSignal): Promise<number> {
    return (await this.exampleLosses(examples, lora, signal)).loss;
  }

  /** The mean over every labelled position, and each example's own mean (NaN for one without labels). */
  private async exampleLosses(examples: readonly TokenizedExample[], lora: GpuLora | undefined, signal?: AbortSignal): Promise<{ loss: number; perExample: number[] }> {
    let sum = 0;
    let count = 0;
    const perExample = new Array<number>(examples.length).fill(Number.NaN);
    for (const { batch, places } of packSequences(examples.map((example) => this.fit(example)), this.shape.B, this.shape.T)) {
      stopIfCancelled(signal);
      const { stats, rowLoss } = await this.run(batch, lora);
      for (const { sequence, start, length } of places) {
        let lossSum = 0;
        let labels = 0;
        for (let t = start; t < start + length; t++) {
          if (batch.targets[t] === IGNORE_INDEX) continue;
          lossSum += rowLoss[t]!;
          labels++;
        }
        if (labels > 0) perExample[sequence] = lossSum / labels;
      }
      sum += stats.lossSum;
      count += stats.labelCount;
    }
    return { loss: count > 0 ? sum / count : NaN, perExample };
  }

  /**
   * Scores every label word after every prompt: each candidate's summed cross-entropy over its own
   * tokens. The candidates of many prompts share each forward. With the 'tree' layout (the default) a
   * prompt's candidates share one computation of the prompt (eval-tree-packing.ts), falling back to
   * separate sequences (eval-packing.ts, the 'sequences' layout) for a prompt whose tree does not fit a
   * row, 32 branches or the model's smallest sliding window. `onPrompts` hears how many prompts have all
   * their candidates scored.
   */
  async labelScores(prompts: readonly ValidationPrompt[], words: readonly string[], lora: GpuLora | undefined, signal?: AbortSignal, onPrompts?: (done: number) => void, layout: CandidateLayout = 'tree'): Promise<CandidateScore[][]> {
    const { B, T } = this.shape;
    const perPrompt = words.length;
    const trees = prompts.map(({ promptIds, candidates }) => candidateTree((candidates ? candidates.map(({ ids, scoreFrom }) => scoredSequence(ids, scoreFrom)) : words.map((word) => this.continuation(promptIds, word))).map((sequence) => this.fit(sequence))));
    const asTree = trees.map((tree) => layout === 'tree' && treeFits(tree, T, this.smallestWindow));
    const treePrompts = prompts.flatMap((_, i) => (asTree[i] ? [i] : []));
    const sequencePrompts = prompts.flatMap((_, i) => (asTree[i] ? [] : [i]));
    // A packed batch names a candidate by its index among its list's candidates laid end to end, perPrompt to a prompt.
    const work = [
      ...packTrees(treePrompts.map((i) => trees[i]!), B, T).map((packed) => ({ packed, owners: treePrompts })),
      ...packSequences(sequencePrompts.flatMap((i) => trees[i]!.candidates), B, T).map((packed) => ({ packed, owners: sequencePrompts })),
    ];
    const scores: CandidateScore[][] = prompts.map(() => []);
    const unscored = prompts.map(() => perPrompt);
    let done = 0;
    for (const { packed, owners } of work) {
      stopIfCancelled(signal);
      const { batch, places, segmentBits } = packed;
      const { rowLoss } = await this.run(batch, lora, segmentBits);
      for (const { sequence, start, length } of places) {
        let lossSum = 0;
        let tokens = 0;
        for (let t = start; t < start + length; t++) {
          if (batch.targets[t] === IGNORE_INDEX) continue;
          lossSum += rowLoss[t]!;
          tokens++;
        }
        const prompt = owners[Math.floor(sequence / perPrompt)]!;
        scores[prompt]![sequence % perPrompt] = { lossSum, tokens };
        if (--unscored[prompt]! === 0) done++;
      }
      onPrompts?.(done);
    }
    return scores;
  }

  /** Each prompt's likeliest label word, by summed or per-token log-probability. */
  private async labelAnswers(prompts: readonly ValidationPrompt[], words: readonly string[], lora: GpuLora | undefined, scoring: LabelScoring, signal: AbortSignal | undefined, onProgress: (done: number) => void) {
    const scores = await this.labelScores(prompts, words, lora, signal, onProgress);
    return prompts.map(({ expected, input }, i) => {
      const costs = scores[i]!.map(({ lossSum, tokens }) => (scoring === 'per_token' ? lossSum / Math.max(1, tokens) : lossSum));
      const got = words[costs.indexOf(Math.min(...costs))]!;
      return { ...(input === undefined ? {} : { input: input.slice(0, INPUT_CHARS) }), expected, got };
    });
  }

  private async generationScore(prompts: readonly ValidationPrompt[], metric: 'exact_match' | 'numeric_match' | 'rouge_l', lora: GpuLora | undefined, maxNewTokens: number, signal: AbortSignal | undefined, onProgress: (done: number) => void) {
    const measure = { exact_match: exactMatch, numeric_match: numericMatch, rouge_l: rougeL }[metric];
    const generator = new Generator(this.ctx, this.model, { capacity: this.shape.T + maxNewTokens, ...(lora ? { lora } : {}), ...(this.submitBudget ? { submitBudget: this.submitBudget } : {}) });
    const scores: number[] = [];
    const samples: TaskEvaluation['samples'] = [];
    try {
      for (const [index, { promptIds, expected, input }] of prompts.entries()) {
        stopIfCancelled(signal);
        const prompt = Array.from(promptIds.slice(-this.shape.T));
        const { text = '' } = await generator.generate(prompt, { maxNewTokens, eosIds: this.tokenizer.eosIds, decode: (ids) => this.tokenizer.decode(ids, { skipSpecialTokens: true }) });
        scores.push(measure(text, expected));
        samples.push({ ...(input === undefined ? {} : { input: input.slice(0, INPUT_CHARS) }), expected, got: text });
        onProgress(index + 1);
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

  private async run(batch: HostBatch, lora: GpuLora | undefined, segmentBits = false) {
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
          const batchTensors = { ids: tensors.ids, positions: tensors.positions, segments: tensors.segments, segmentBits };
          this.graph.encodeForward(stream, batchTensors, lora);
          encodeCrossEntropy(ctx, stream.encoder, { x: this.graph.final, w: this.model.lmHead, labels: tensors.targets, softcap: this.model.config.finalLogitSoftcapping }, { stats: tensors.stats, rowLoss: tensors.rowLoss }, tensors.scratch);
          stream.add(2 * this.shape.B * this.shape.T * this.model.config.hiddenSize * this.model.config.vocabSize);
          work.submitLast(stream);
        }),
      );
      this.forwards++;
      this.tokens += batch.segments.reduce((count, segment) => count + (segment !== 0 ? 1 : 0), 0);
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

/** The smallest sliding window of any layer (Mistral, Phi-3, Gemma 3's local layers), or null without one. */
function smallestWindowOf(config: ModelConfig): number | null {
  const windows = Array.from({ length: config.numLayers }, (_, layer) => attentionWindowOf(config, layer)).filter((window) => window !== null);
  return windows.length > 0 ? Math.min(...windows) : null;
}

/** A sequence whose loss covers positions scoreFrom and after: a candidate answer after its prompt. */
function scoredSequence(ids: Int32Array, scoreFrom: number): TokenizedExample {
  return { source: { row: 0 }, inputIds: ids, labels: Int32Array.from(ids, (id, t) => (t >= scoreFrom ? id : IGNORE_INDEX)), turnIndex: new Int32Array(ids.length), roles: [], truncatedTokens: 0 };
}

/** Up to SAMPLES_KEPT answers taken in turn from each expected label, so every label is seen. */
function acrossLabels<Answer extends { expected: string }>(answers: readonly Answer[]): Answer[] {
  const byLabel = new Map<string, Answer[]>();
  for (const answer of answers) byLabel.set(answer.expected, [...(byLabel.get(answer.expected) ?? []), answer]);
  const queues = [...byLabel.values()];
  const chosen: Answer[] = [];
  for (let round = 0; chosen.length < Math.min(SAMPLES_KEPT, answers.length); round++) {
    for (const queue of queues) if (round < queue.length && chosen.length < SAMPLES_KEPT) chosen.push(queue[round]!);
  }
  return chosen;
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
