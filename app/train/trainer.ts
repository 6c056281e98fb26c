/**
 * The training loop: mixture → micro-batches → forward/backward on the GPU → clipped AdamW → LR
 * schedule, with per-task losses, non-finite protection, checkpoints and exact resume.
 *
 * The loss of a step is the mean cross-entropy over every labelled position of all its micro-batches
 * (ENGINEERING.md §6): each micro-batch's gradient is scaled by 1 / (labels of the whole step), which
 * the CPU knows before anything runs. Everything that decides the numbers — sampler state, dropout
 * seeds, AdamW's t — is part of the checkpoint, and no kernel uses float atomics, so k steps + resume
 * + N − k steps gives the same bits as N steps straight.
 */
import { CocktailError } from '../errors.ts';
import { throughputFor, TimedWork, type SubmitBudget, type ThroughputEstimate } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { adamwPartialCount, adamwStatusOf, encodeAdamw, type AdamwTensor } from '../gpu/ops/adamw.ts';
import { crossEntropyChunkRows, crossEntropyStatsOf, encodeCrossEntropy } from '../gpu/ops/cross_entropy.ts';
import { createDropoutStepUniform, writeDropoutStep } from '../gpu/ops/lora_linear.ts';
import { ReadbackBuffer, readTensors, tensorBytes, type ReadbackResult, type ReadbackSlot } from '../gpu/readback.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { byteOffset, createIndexTensor, createTensor, elementCount, leadingView, type GpuTensor } from '../gpu/tensor.ts';
import { MixSampler } from '../mix/sampler.ts';
import type { MixSamplerState } from '../mix/types.ts';
import type { Json, Storage } from '../store/storage.ts';
import { DecoderGraph } from '../model/graph.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import { initLoraAdapter, type LoraAdapter, type LoraConfig } from '../model/lora.ts';
import { downloadLora, uploadLora, type GpuLora } from '../model/lora-gpu.ts';
import { buildTrainingBatch, type HostBatch } from './batch.ts';
import { CHECKPOINT_FORMAT_VERSION, loadCheckpoint, saveCheckpoint, type Checkpoint, type RefusedCheckpoint } from './checkpoint.ts';
import { learningRate } from './lr-schedule.ts';
import { mixConfig, optimizerSteps } from './mixture.ts';
import { recipeHash, type Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';

export interface StepRecord {
  [key: string]: Json;
  step: number;
  loss: number;
  /** Mean loss of each task's labelled positions in this step; null for a task not drawn. */
  taskLosses: (number | null)[];
  lr: number;
  gradNorm: number;
  skipped: boolean;
  tokens: number;
  seconds: number;
  /** GPU memory the run holds: weights, adapters with their optimizer state, activations, workspace. */
  gpuBytes: number;
}

export interface TrainerOptions {
  runId: string;
  storage?: Storage;
  /** Resume from the run's checkpoint in `storage` when there is one (refused if the recipe differs). */
  resume?: boolean;
  /** Start from these adapters (imported PEFT adapters, by position) instead of PEFT's fresh initialisation. */
  initialAdapters?: readonly LoraAdapter[];
  /** How long one submit may be estimated to run (default DEFAULT_SUBMIT_SECONDS, from the device's measured throughput). */
  submitBudget?: SubmitBudget;
  /** Told of each stored checkpoint refused on resume (newest first) before an older one is used. */
  onCheckpointRefused?: (refused: RefusedCheckpoint) => void;
  /**
   * Per-task adapters (lora.layout "per_task") trained as separate runs of one task each, in one run:
   * steps take turns between the tasks, `recipe.steps` steps each, and every task draws its rows,
   * its learning rate, its dropout and its adapter's initialisation exactly as a run of that task
   * alone (layout "shared", the same seed) would, so each adapter ends as that run's adapter does.
   * One model, one graph and one checkpoint serve them all (an experiment's single-task arms).
   */
  separateTasks?: boolean;
}

/** What one optimizer step draws from and where it is in its schedule: the run's, or one task's in a separate-tasks run. */
interface Turn {
  sampler: number;
  /** The task every draw of this step belongs to (separate tasks), or undefined: the sampler's own choice. */
  task: number | undefined;
  /** This step's index in its schedule, and the schedule's length. */
  step: number;
  steps: number;
}

interface Adapter {
  name: string;
  cpu: LoraAdapter;
  gpu: GpuLora;
  /** AdamW's t: optimizer steps this adapter has taken. */
  adamSteps: number;
  /** Every A and B with its gradient and moments (views into `flat`), in the order checkpoints name them. */
  tensors: AdamwTensor[];
  /** The same tensors as a few flat chunks: what the optimizer and the gradients' clearing run over. */
  flat: AdamwTensor[];
  partials: GpuTensor;
  status: GpuTensor;
}

export class Trainer {
  readonly totalSteps: number;
  readonly history: StepRecord[] = [];
  private readonly graph: DecoderGraph;
  private readonly adapters: Adapter[];
  private readonly inputs: { ids: GpuTensor; positions: GpuTensor; segments: GpuTensor; targets: GpuTensor };
  private readonly stats: GpuTensor;
  private readonly rowLoss: GpuTensor;
  private readonly lossScratch: GpuTensor;
  /**
   * LoRA dropout's seed and step (with dropout > 0), written once per micro-batch beside the token batch:
   * every uniform and bind group of the step stays the same. 16 bytes, uncounted like ctx.uniforms' buffers.
   */
  private readonly dropoutStep?: GPUBuffer;
  /** Everything a step reads back (each micro-batch's row losses, the loss sums, each adapter's status), in one map. */
  private readonly stepReadback: ReadbackBuffer;
  /** The run's sampler, or one per task with `separateTasks`. */
  private samplers: MixSampler[];
  private completed = 0;
  /** Set when a step failed half way: the GPU state is no longer that of any step, so nothing may continue or be saved. */
  private failure: Error | undefined;
  /** FLOP/s measured over the steps so far (GPU timestamps where the adapter has them): what sizes each submit. */
  readonly throughput: ThroughputEstimate;
  /** Command buffers the last step was submitted in: its micro-batches, cut into bounded submits, and the update. */
  submitsOfLastStep = 0;
  private readonly seqLength: number;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly model: GpuModel,
    readonly tasks: readonly PreparedTask[],
    readonly recipe: Recipe,
    private readonly hash: string,
    private readonly options: TrainerOptions,
    /** Every GPU resource the trainer allocates, in order: create() frees them when the constructor throws half way. */
    private readonly owned: { destroy(): void }[],
  ) {
    const own = <T extends GpuTensor>(tensor: T): T => {
      owned.push({ destroy: () => tensor.buffer.destroy() });
      return tensor;
    };
    const separate = options.separateTasks === true;
    this.totalSteps = optimizerSteps(recipe, tasks) * (separate ? tasks.length : 1);
    this.samplers = separate ? tasks.map((task) => MixSampler.create(mixConfig(aloneRecipe(recipe, task.name), [task], recipe.steps!))) : [MixSampler.create(mixConfig(recipe, tasks, this.totalSteps))];
    const longest = Math.max(...tasks.flatMap((task) => task.train.map((example) => example.inputIds.length)));
    this.seqLength = Math.min(recipe.max_length, longest);
    const B = recipe.batch_size;
    const N = B * this.seqLength;
    const loraConfig: LoraConfig = { r: recipe.lora.r, alpha: recipe.lora.alpha, dropout: recipe.lora.dropout, targets: recipe.lora.targets, rslora: recipe.lora.rslora };
    const names = recipe.lora.layout === 'per_task' ? tasks.map((task) => task.name) : ['shared'];
    // A separate task's adapter starts as the only adapter of its own run would: from the run's seed.
    this.adapters = names.map((name, i) => this.createAdapter(name, options.initialAdapters ? startingAdapter(options.initialAdapters, i, loraConfig) : initLoraAdapter(model.config, loraConfig, recipe.seed + (separate ? 0 : i))));
    this.graph = new DecoderGraph(ctx, model, { B, T: this.seqLength }, { training: true, recompute: recipe.recompute, loraRank: loraConfig.r, loraTargets: loraConfig.targets });
    owned.push(this.graph);
    this.inputs = {
      ids: own(createIndexTensor(ctx.device, 'batch ids', [N], 'u32')),
      positions: own(createIndexTensor(ctx.device, 'batch positions', [N], 'u32')),
      segments: own(createIndexTensor(ctx.device, 'batch segments', [B, this.seqLength], 'u32')),
      targets: own(createIndexTensor(ctx.device, 'batch targets', [N], 'i32')),
    };
    this.stats = own(createTensor(ctx.device, 'loss stats', [3], 'f32'));
    this.rowLoss = own(createTensor(ctx.device, 'row loss', [N], 'f32'));
    this.lossScratch = own(createTensor(ctx.device, 'logits chunk', [crossEntropyChunkRows(ctx.device, N, model.config.vocabSize), model.config.vocabSize], 'f32'));
    if (recipe.lora.dropout > 0) {
      const dropoutStep = createDropoutStepUniform(ctx.device);
      owned.push({ destroy: () => dropoutStep.destroy() });
      this.dropoutStep = dropoutStep;
    }
    const statusBytes = this.adapters.reduce((sum, adapter) => sum + tensorBytes(adapter.status), 0);
    this.throughput = throughputFor(ctx, options.submitBudget);
    this.stepReadback = new ReadbackBuffer(ctx.device, 'training step', recipe.grad_accum * tensorBytes(this.rowLoss) + tensorBytes(this.stats) + statusBytes);
    owned.push(this.stepReadback);
  }

  /** A trainer for a recipe, resumed from its checkpoint when `options.resume` and one exists. */
  static async create(ctx: GpuContext, model: GpuModel, tasks: readonly PreparedTask[], recipe: Recipe, options: TrainerOptions): Promise<Trainer> {
    if (tasks.length === 0) throw new CocktailError('TRAIN_NO_TASKS', 'a run needs at least one task with training examples');
    if (options.separateTasks && (recipe.lora.layout !== 'per_task' || recipe.steps === undefined)) {
      throw new CocktailError('TRAIN_SEPARATE_TASKS', 'training tasks as separate runs needs per-task adapters (lora.layout "per_task") and a number of steps per task (recipe.steps)', { field: 'lora.layout' });
    }
    const empty = tasks.find((task) => task.train.length === 0);
    if (empty) throw new CocktailError('TRAIN_EMPTY_TASK', `task "${empty.name}" has no training examples left after validation and splitting`, { task: empty.name });
    const hash = await recipeHash(recipe);
    const owned: { destroy(): void }[] = [];
    // Allocations that fail (out of memory) only show in the error scope: the trainer must not train on invalid buffers.
    let allocated: ReturnType<typeof withinErrorScopes<Trainer>>;
    try {
      allocated = withinErrorScopes(ctx, `allocating the run's ${recipe.batch_size} × ${recipe.max_length} training batch`, () => new Trainer(ctx, model, tasks, recipe, hash, options, owned));
    } catch (error) {
      for (const resource of owned.reverse()) resource.destroy();
      throw error;
    }
    const trainer = allocated.value;
    try {
      await throwGpuErrors(allocated);
      if (options.resume && options.storage) {
        const { checkpoint, refused } = await loadCheckpoint(options.storage, options.runId, { recipeHash: hash, totalSteps: trainer.totalSteps, tensors: trainer.checkpointTensors() });
        for (const each of refused) options.onCheckpointRefused?.(each);
        if (checkpoint) trainer.restore(checkpoint);
        else if (refused.length > 0) {
          throw new CocktailError(
            'CHECKPOINT_CORRUPT',
            `no checkpoint of run "${options.runId}" can be used:\n${refused.map((r) => `  ${r.reason}`).join('\n')}\nStart the run again from step 0, or restore a checkpoint file from a backup.`,
            { runId: options.runId, paths: refused.map((r) => r.location) },
          );
        }
      }
    } catch (error) {
      trainer.destroy();
      throw error;
    }
    return trainer;
  }

  get step(): number {
    return this.completed;
  }

  get gpuBytes(): number {
    const own = [...Object.values(this.inputs), this.stats, this.rowLoss, this.lossScratch].reduce((sum, tensor) => sum + tensor.buffer.size, 0) + this.stepReadback.bytes;
    return this.model.bytes + this.graph.bytes + own + this.adapters.reduce((sum, adapter) => sum + adapter.gpu.bytes + adapter.partials.buffer.size + adapter.status.buffer.size, 0);
  }

  get done(): boolean {
    return this.completed >= this.totalSteps;
  }

  /** One optimizer step over grad_accum micro-batches. */
  async trainStep(): Promise<StepRecord> {
    this.refuseAfterFailure();
    const started = performance.now();
    const { recipe, ctx } = this;
    const turn = this.turn();
    const sampler = this.samplers[turn.sampler]!;
    const samplerBefore = sampler.state();
    const batches: HostBatch[] = [];
    for (let micro = 0; micro < recipe.grad_accum; micro++) {
      const draws = sampler.nextBatch();
      batches.push(
        buildTrainingBatch(
          draws.map(({ task, row }) => ({ task: turn.task ?? task, example: this.tasks[turn.task ?? task]!.train[row]! })),
          this.seqLength,
          recipe.packing,
        ),
      );
    }
    const labels = batches.reduce((sum, batch) => sum + batch.labelCount, 0);
    const usedAdapters = new Set(batches.map((batch) => this.adapterOf(batch)));
    this.stepReadback.reset();
    const lr = learningRate({ kind: recipe.schedule.kind, lr: recipe.optimizer.lr, warmupSteps: recipe.schedule.warmup_steps, totalSteps: turn.steps }, turn.step);
    // Every submit of the step runs inside one pair of error scopes; nothing is read until they come back empty.
    let submitted: ReturnType<Trainer['encodeStep']>;
    let read: ReadbackResult;
    let work: TimedWork | undefined;
    try {
      const scoped = withinErrorScopes(ctx, `training step ${this.completed + 1}`, () => {
        work = new TimedWork(ctx, `step ${this.completed + 1}`, this.throughput, this.options.submitBudget);
        return this.encodeStep(work, batches, usedAdapters, labels, lr, turn.step);
      });
      await throwGpuErrors(scoped);
      submitted = scoped.value;
      read = await this.stepReadback.read();
      await work!.measure();
      this.submitsOfLastStep = work!.submits + 1;
    } catch (error) {
      this.failure = error as Error;
      throw error;
    } finally {
      work?.destroy();
    }
    const { rowLossSlots, statusSlots, statsSlot, tokens } = submitted;

    const taskLoss = new Float64Array(this.tasks.length);
    const taskLabels = new Float64Array(this.tasks.length);
    for (const [micro, batch] of batches.entries()) {
      const rowLoss = read.f32(rowLossSlots[micro]!);
      for (const span of batch.spans) {
        const from = span.row * batch.T + span.start;
        for (let t = from; t < from + span.length; t++) taskLoss[span.task]! += rowLoss[t]!;
        taskLabels[span.task]! += span.labels;
      }
    }
    const { lossSum, labelCount } = crossEntropyStatsOf(read.f32(statsSlot));
    if (labelCount !== labels) {
      // The gradient was scaled by the CPU's count; a GPU that counted other labels computed another loss.
      throw new CocktailError('TRAIN_LABEL_COUNT', `step ${this.completed + 1}: the GPU counted ${labelCount} labels where the batch has ${labels}; a label outside the vocabulary [0, ${this.model.config.vocabSize}) reached training`, {
        step: this.completed + 1,
      });
    }
    let skipped = false;
    let gradNormSquared = 0;
    for (const [adapter, slot] of statusSlots) {
      const status = adamwStatusOf(read.f32(slot));
      if (status.skipped) skipped = true;
      else adapter.adamSteps++;
      gradNormSquared += status.gradNorm ** 2;
    }
    const loss = lossSum / labelCount;
    if (skipped && recipe.nonfinite === 'stop') {
      // AdamW left the skipped adapter's weights as they were; rewinding the sampler makes a checkpoint saved now that of the last good step.
      this.samplers[turn.sampler] = MixSampler.fromState(samplerBefore);
      throw new CocktailError('TRAIN_NONFINITE', `step ${this.completed + 1} produced a non-finite loss or gradient (loss ${loss}); training stopped and the weights are those of step ${this.completed}`, { step: this.completed + 1 });
    }
    this.completed++;
    const record: StepRecord = {
      step: this.completed,
      loss,
      taskLosses: Array.from(taskLoss, (sum, task) => (taskLabels[task]! > 0 ? sum / taskLabels[task]! : null)),
      lr,
      gradNorm: Math.sqrt(gradNormSquared),
      skipped,
      tokens,
      seconds: (performance.now() - started) / 1000,
      gpuBytes: this.gpuBytes,
    };
    this.history.push(record);
    if (this.options.storage && this.recipe.checkpoint_every > 0 && this.completed % this.recipe.checkpoint_every === 0) await this.saveCheckpoint();
    return record;
  }

  /** Encodes and submits the step's micro-batches and the optimizer update, with the copies its readback needs. */
  private encodeStep(work: TimedWork, batches: readonly HostBatch[], usedAdapters: ReadonlySet<Adapter>, labels: number, lr: number, scheduleStep: number) {
    const { recipe, ctx } = this;
    const rowLossSlots: ReadbackSlot[] = [];
    let tokens = 0;
    for (const [micro, batch] of batches.entries()) {
      const adapter = this.adapterOf(batch);
      const device = ctx.device;
      // Each batch runs at its own rows × length in the first elements of buffers sized for the longest.
      const graph = this.graph.resized({ B: batch.B, T: batch.T });
      const N = batch.B * batch.T;
      const inputs = {
        ids: leadingView(this.inputs.ids, [N]),
        positions: leadingView(this.inputs.positions, [N]),
        segments: leadingView(this.inputs.segments, [batch.B, batch.T]),
        targets: leadingView(this.inputs.targets, [N]),
      };
      const rowLoss = leadingView(this.rowLoss, [N]);
      const lossScratch = leadingView(this.lossScratch, [Math.min(N, this.lossScratch.shape[0]!), this.model.config.vocabSize]);
      device.queue.writeBuffer(inputs.ids.buffer, 0, batch.ids);
      device.queue.writeBuffer(inputs.positions.buffer, 0, batch.positions);
      device.queue.writeBuffer(inputs.segments.buffer, 0, batch.segments);
      device.queue.writeBuffer(inputs.targets.buffer, 0, batch.targets);
      if (this.dropoutStep) {
        writeDropoutStep(device.queue, this.dropoutStep, { seed: recipe.seed >>> 0, step: scheduleStep * recipe.grad_accum + micro });
        graph.dropout = { p: recipe.lora.dropout, stepUniform: this.dropoutStep };
      }
      const stream = work.stream(`step ${this.completed} micro ${micro}`);
      if (micro === 0) {
        // Gradients and loss sums start from zero once per optimizer step; micro-batches add up.
        stream.encoder.clearBuffer(this.stats.buffer);
        for (const used of usedAdapters) for (const chunk of used.flat) stream.encoder.clearBuffer(chunk.grad.buffer);
      }
      const batchTensors = { ids: inputs.ids, positions: inputs.positions, segments: inputs.segments };
      graph.encodeForward(stream, batchTensors, adapter.gpu);
      stream.encoder.clearBuffer(graph.dFinal!.buffer);
      encodeCrossEntropy(
        ctx,
        stream.encoder,
        { x: graph.final, w: this.model.lmHead, labels: inputs.targets, softcap: this.model.config.finalLogitSoftcapping },
        { stats: this.stats, rowLoss, backward: { dx: graph.dFinal!, gradScale: 1 / labels } },
        lossScratch,
      );
      // The LM head's logits and their gradient: two [N, C] × [C, V] products.
      const headFlops = 4 * N * this.model.config.hiddenSize * this.model.config.vocabSize;
      stream.add(headFlops);
      graph.encodeBackward(stream, batchTensors, adapter.gpu);
      // The next micro-batch overwrites the row losses: copy them now; they are read with the rest of the step.
      rowLossSlots.push(this.stepReadback.copy(stream.encoder, rowLoss));
      // Submitted before the next micro-batch's inputs are written: queue writes run in queue order.
      stream.flush();
      tokens += batch.segments.reduce((sum, s) => sum + (s > 0 ? 1 : 0), 0);
    }

    const update = ctx.device.createCommandEncoder({ label: `adamw ${this.completed}` });
    const statusSlots: [Adapter, ReadbackSlot][] = [];
    for (const adapter of usedAdapters) {
      encodeAdamw(
        ctx,
        update,
        adapter.flat,
        {
          step: adapter.adamSteps + 1,
          lr,
          beta1: recipe.optimizer.betas[0],
          beta2: recipe.optimizer.betas[1],
          eps: recipe.optimizer.eps,
          weightDecay: recipe.optimizer.weight_decay,
          maxGradNorm: recipe.clip,
        },
        { partials: adapter.partials, status: adapter.status },
      );
      statusSlots.push([adapter, this.stepReadback.copy(update, adapter.status)]);
    }
    const statsSlot = this.stepReadback.copy(update, this.stats);
    work.resolveInto(update);
    ctx.device.queue.submit([update.finish()]);
    return { rowLossSlots, statusSlots, statsSlot, tokens };
  }

  /** Writes the run's checkpoint (adapters, AdamW moments, sampler, step) to storage. */
  async saveCheckpoint(): Promise<void> {
    this.refuseAfterFailure();
    if (!this.options.storage) throw new CocktailError('CHECKPOINT_NO_STORAGE', 'this trainer was created without storage for checkpoints');
    const parts = this.checkpointParts();
    const values = await readTensors(this.ctx.device, parts.map((part) => part.tensor));
    const tensors = new Map(parts.map((part, index) => [part.name, values[index]!]));
    const checkpoint = {
      meta: {
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        recipeHash: this.hash,
        runId: this.options.runId,
        step: this.completed,
        totalSteps: this.totalSteps,
        adamSteps: this.adapters.map((adapter) => adapter.adamSteps),
        // Separate tasks: the first task's sampler; restore() replays every task's from the step.
        sampler: this.samplers[0]!.state(),
        tensors: [...tensors].map(([name, values]) => ({ name, length: values.length })),
        history: this.history,
        savedAt: Date.now(),
      },
      tensors,
    };
    await saveCheckpoint(this.options.storage, checkpoint, this.recipe.keep_checkpoints);
  }

  /** Every tensor a checkpoint holds, by the name it is stored under. */
  private checkpointParts(): { name: string; tensor: GpuTensor }[] {
    return this.adapters.flatMap((adapter) => adapter.tensors.flatMap((tensor, index) => (['param', 'm', 'v'] as const).map((part) => ({ name: `${adapter.name}/${index}/${part}`, tensor: tensor[part] }))));
  }

  private checkpointTensors(): { name: string; length: number }[] {
    return this.checkpointParts().map(({ name, tensor }) => ({ name, length: elementCount(tensor.shape) }));
  }

  /** Every task's probability at the next step, as the sampler will draw it. */
  mixProbabilities(): number[] {
    if (this.options.separateTasks) return this.tasks.map(() => 1 / this.tasks.length);
    return this.samplers[0]!.probabilities();
  }

  /** Adaptive mixing's new multipliers, from the next step on (they are part of the sampler's checkpointed state). */
  setMixMultipliers(multipliers: readonly number[]): void {
    if (this.options.separateTasks) throw new CocktailError('MIX_ADAPTIVE_INVALID', 'tasks trained as separate runs take turns; their mixture cannot adapt', { field: 'adaptive' });
    this.samplers[0]!.setMultipliers(multipliers);
  }

  /** The adapters on the GPU, in task order for per-task adapters (for evaluation and generation). */
  gpuAdapters(): GpuLora[] {
    return this.adapters.map((adapter) => adapter.gpu);
  }

  /** The adapters as trained so far, by name ("shared", or the task names with per-task adapters). */
  async adaptersNow(): Promise<Map<string, LoraAdapter>> {
    const out = new Map<string, LoraAdapter>();
    for (const adapter of this.adapters) out.set(adapter.name, await downloadLora(this.ctx, adapter.gpu, adapter.cpu));
    return out;
  }

  destroy(): void {
    for (const resource of this.owned.splice(0).reverse()) resource.destroy();
  }

  /** After a failed step the adapters hold a half-applied update: the run resumes from its last checkpoint instead. */
  private refuseAfterFailure(): void {
    if (this.failure) {
      throw new CocktailError('TRAIN_FAILED', `this run stopped at step ${this.completed} (${this.failure.message}); resume it from its last checkpoint`, { step: this.completed });
    }
  }

  /** Normal runs: the run's sampler and schedule. Separate tasks: steps take turns, task k mod N at its own step k div N. */
  private turn(): Turn {
    if (!this.options.separateTasks) return { sampler: 0, task: undefined, step: this.completed, steps: this.totalSteps };
    const count = this.tasks.length;
    const task = this.completed % count;
    return { sampler: task, task, step: Math.floor(this.completed / count), steps: this.totalSteps / count };
  }

  /**
   * Every task's sampler after `completed` turns, drawn again from its seed (a sampler is a pure function
   * of its config and draws, so this is its exact state); the stored first task's state must agree.
   */
  private replaySeparateSamplers(stored: MixSamplerState): void {
    const count = this.tasks.length;
    this.samplers.forEach((sampler, task) => {
      const turns = this.completed > task ? Math.floor((this.completed - task - 1) / count) + 1 : 0;
      for (let i = 0; i < turns * this.recipe.grad_accum; i++) sampler.nextBatch();
    });
    if (this.samplers[0]!.state().step !== stored.step) {
      throw new CocktailError('CHECKPOINT_CORRUPT', `the checkpoint of run "${this.options.runId}" is at step ${this.completed}, but its first task's sampler is at draw ${stored.step} where the run's turns give ${this.samplers[0]!.state().step}`, { runId: this.options.runId });
    }
  }

  private adapterOf(batch: HostBatch): Adapter {
    return this.adapters.length === 1 ? this.adapters[0]! : this.adapters[batch.spans[0]!.task]!;
  }

  private createAdapter(name: string, cpu: LoraAdapter): Adapter {
    const gpu = uploadLora(this.ctx, cpu, { training: true });
    this.owned.push(gpu);
    const { grads, m, v, flat } = gpu.training!;
    const tensors: AdamwTensor[] = [];
    for (const [key, pair] of gpu.pairs) {
      for (const part of ['a', 'b'] as const) tensors.push({ param: pair[part], grad: grads.get(key)![part], m: m.get(key)![part], v: v.get(key)![part] });
    }
    const partials = createTensor(this.ctx.device, `${name} adamw partials`, [adamwPartialCount(flat)], 'f32');
    const status = createTensor(this.ctx.device, `${name} adamw status`, [4], 'f32');
    for (const tensor of [partials, status]) this.owned.push({ destroy: () => tensor.buffer.destroy() });
    return { name, cpu, gpu, adamSteps: 0, tensors, flat, partials, status };
  }

  private restore(checkpoint: Checkpoint): void {
    const { meta, tensors } = checkpoint;
    for (const [a, adapter] of this.adapters.entries()) {
      adapter.adamSteps = meta.adamSteps[a] ?? 0;
      for (const [index, tensor] of adapter.tensors.entries()) {
        for (const part of ['param', 'm', 'v'] as const) {
          const values = tensors.get(`${adapter.name}/${index}/${part}`);
          if (!values) throw new CocktailError('CHECKPOINT_CORRUPT', `the checkpoint has no ${part} for ${adapter.name} tensor ${index}`, {});
          this.ctx.device.queue.writeBuffer(tensor[part].buffer, byteOffset(tensor[part]), values as Float32Array<ArrayBuffer>);
        }
      }
    }
    this.completed = meta.step;
    if (this.options.separateTasks) this.replaySeparateSamplers(meta.sampler);
    else this.samplers[0] = MixSampler.fromState(meta.sampler);
    this.history.push(...(meta.history as StepRecord[]));
  }
}

/** The recipe of one task trained alone: what a separate task's sampler draws as. */
function aloneRecipe(recipe: Recipe, name: string): Recipe {
  const weight = recipe.mixture.weights?.[name];
  const { weights: _weights, ...mixture } = recipe.mixture;
  return { ...recipe, tasks: recipe.tasks.filter((task) => task.name === name), lora: { ...recipe.lora, layout: 'shared' }, mixture: { ...mixture, ...(weight === undefined ? {} : { weights: { [name]: weight } }) } };
}

/** An imported adapter to continue from; it must have the recipe's rank and targets. */
function startingAdapter(adapters: readonly LoraAdapter[], index: number, config: LoraConfig): LoraAdapter {
  const adapter = adapters.length === 1 ? adapters[0]! : adapters[index];
  if (!adapter) throw new CocktailError('TRAIN_ADAPTER_MISSING', `the run needs ${index + 1} starting adapters (one per task) but was given ${adapters.length}`, {});
  const sameTargets = [...adapter.config.targets].sort().join(',') === [...config.targets].sort().join(',');
  if (adapter.config.r !== config.r || !sameTargets) {
    throw new CocktailError(
      'TRAIN_ADAPTER_MISMATCH',
      `the starting adapter has r=${adapter.config.r} on ${adapter.config.targets.join(', ')}; the recipe asks for r=${config.r} on ${config.targets.join(', ')}. Make lora.r and lora.targets match the adapter.`,
      {},
    );
  }
  return { config: { ...config }, pairs: adapter.pairs };
}
