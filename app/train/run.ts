/**
 * A whole run from a recipe: load the model, prepare every task, train with periodic evaluation and
 * checkpoints, then evaluate and export the adapters. The engine worker and `cocktail train` both run
 * recipes through here; they differ only in where files and storage come from.
 *
 * Aborting the signal with reason "pause" saves a checkpoint and returns, so the run continues later
 * from exactly that step; any other reason cancels (the last periodic checkpoint stays).
 */
import { tokenizerIdentity } from '../data/tokenize/tokenizer-identity.ts';
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GpuError } from '../gpu/errors.ts';
import { deviceLoss } from '../gpu/scope.ts';
import { parseModelConfig } from '../model/config.ts';
import { loadModel } from '../model/load.ts';
import { uploadLoraChecked, type GpuLora } from '../model/lora-gpu.ts';
import type { ModelFiles } from '../model/source.ts';
import type { Storage } from '../store/storage.ts';
import type { RefusedCheckpoint } from './checkpoint.ts';
import { Evaluator, type EvaluateOptions, type TaskEvaluation } from './evaluate.ts';
import { exportPeftAdapter, importPeftAdapter, peftBaseModel, zipPeftAdapter, type PeftFiles } from './peft.ts';
import { checkRecipeQuantization, planRecipe, recipeLoadOptions, refuseUnlessFits, storedDtypeOf, withCheckpointWeights } from './plan.ts';
import { prepareTasks, type PrepareProgress, type TaskPreparationReport } from './prepare.ts';
import { clampToContext } from './context-length.ts';
import type { Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';
import { RunControl, type BestEvent, type MixtureEvent } from './run-control.ts';
import { Trainer, type StepRecord } from './trainer.ts';

export interface RunEnvironment {
  ctx: GpuContext;
  storage: Storage;
  openModel(source: string, revision: string): Promise<ModelFiles>;
  /** Opens a task file path of the recipe (resolved against the recipe's folder). */
  openTaskFile(path: string): Promise<Blob>;
  /** Opens the PEFT adapter named by lora.init_from. */
  openAdapter?(path: string): Promise<PeftFiles>;
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  hubEndpoint?: string;
  /** A Hub access token, for gated or private data sets. */
  hubAccessToken?: string;
  /**
   * The model's config.json alone (no weights): with it a recipe that cannot fit this GPU is refused
   * before anything is downloaded or allocated.
   */
  openModelConfig?(source: string, revision: string): Promise<unknown>;
  /** GPU memory the user says this device can give (WebGPU does not tell); without it only per-buffer limits are checked. */
  memoryBudgetBytes?: number;
}

export interface StepEvent extends StepRecord {
  totalSteps: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

export interface EvalEvent {
  step: number;
  tasks: TaskEvaluation[];
}

/** An evaluation under way: which task, at which training step (0 outside a run), examples done of total. */
export interface EvalProgress {
  step: number;
  task: string;
  done: number;
  total: number;
}

export interface RunEvents {
  /** A stored checkpoint was refused on resume (its location and why); an older one is tried next. */
  onCheckpointRefused?(refused: RefusedCheckpoint): void;
  onStage?(stage: 'model' | 'data' | 'train' | 'evaluate' | 'export'): void;
  /** Something the run changed or decided that the user should know (max_length clamped to the model's context). */
  onNotice?(message: string): void;
  onEvalProgress?(progress: EvalProgress): void;
  onPrepare?(progress: PrepareProgress): void;
  onPrepared?(reports: TaskPreparationReport[]): void;
  onStep?(event: StepEvent): void;
  onEval?(event: EvalEvent): void;
  onCheckpoint?(step: number): void;
  /** Adaptive mixing: the probabilities at the start and after each evaluation, with the reasons for any change. */
  onMixture?(event: MixtureEvent): void;
  /** best_checkpoint: a new best evaluation, whose adapters are now kept. */
  onBest?(event: BestEvent): void;
  /** Early stopping ended the run at this step. */
  onEarlyStop?(event: { step: number; reason: string }): void;
}

export interface RunResult {
  status: 'completed' | 'paused';
  step: number;
  totalSteps: number;
  history: StepRecord[];
  evaluations: EvalEvent[];
  /** PEFT files per adapter ("shared", or one per task); also stored in the "adapters" store. */
  adapters: Map<string, PeftFiles>;
  /** With best_checkpoint: the adapters exported are those of this evaluation. */
  best?: { step: number; score: number };
  /** Early stopping ended the run before its last step. */
  stoppedEarly?: { step: number; reason: string };
}

/**
 * A run that failed but kept what it had: the checkpoint and adapters of its last good step are
 * stored (and in `adapters`), so the caller can still write them out.
 */
export class RunFailedError extends CocktailError {
  constructor(
    code: string,
    message: string,
    details: Record<string, unknown>,
    readonly adapters: Map<string, PeftFiles>,
  ) {
    super(code, message, details);
  }
}

/** Loads the recipe's model and prepares its tasks: the first two stages of every run. */
export async function loadAndPrepare(asked: Recipe, env: RunEnvironment, events: RunEvents, signal: AbortSignal | undefined) {
  events.onStage?.('model');
  const recipe = await plannedRecipe(asked, env);
  const files = await env.openModel(recipe.model.source, recipe.model.revision);
  const model = await loadModel(env.ctx, files, recipeLoadOptions(recipe));
  try {
    const clamped = clampToContext(recipe, model.config.maxPositionEmbeddings);
    if (clamped.notice) events.onNotice?.(clamped.notice);
    events.onStage?.('data');
    const prepared = await prepareTasks(clamped.recipe, {
      tokenizer: model.tokenizer,
      modelVocabSize: model.config.vocabSize,
      openFile: env.openTaskFile,
      storage: env.storage,
      tokenizerIdentity: await tokenizerIdentity(files),
      // Only the validation examples the run's evaluations score: the sample drawn among the examples
      // tokenization keeps, the same one the whole tokenized split would give (prepare/evaluated-rows.ts).
      evaluatedOnly: true,
      ...(env.fetch ? { fetch: env.fetch } : {}),
      ...(env.hubEndpoint ? { hubEndpoint: env.hubEndpoint } : {}),
      ...(env.hubAccessToken ? { hubAccessToken: env.hubAccessToken } : {}),
      ...(signal ? { signal } : {}),
      ...(events.onPrepare ? { onProgress: events.onPrepare } : {}),
    });
    events.onPrepared?.(prepared.reports);
    return { model, tasks: prepared.tasks, recipe: clamped.recipe };
  } catch (error) {
    model.gpu.destroy();
    throw error;
  }
}

/**
 * The recipe as it will run, planned on this GPU from the model's config alone: a pre-quantized
 * checkpoint's weight settings filled in (withCheckpointWeights); refused with the numbers when it cannot fit.
 */
async function plannedRecipe(asked: Recipe, env: RunEnvironment): Promise<Recipe> {
  if (!env.openModelConfig) return asked;
  const raw = await env.openModelConfig(asked.model.source, asked.model.revision);
  const recipe = withCheckpointWeights(asked, raw, `${asked.model.source}/config.json`);
  const config = parseModelConfig(raw, `${recipe.model.source}/config.json`);
  const budget = env.memoryBudgetBytes ?? Infinity;
  // Planned at the length the run will use: max_length clamped to the model's context.
  const planned = clampToContext(recipe, config.maxPositionEmbeddings).recipe;
  checkRecipeQuantization(recipe, config, storedDtypeOf(raw));
  refuseUnlessFits(planRecipe(planned, config, storedDtypeOf(raw), env.ctx.device.limits, budget), `${recipe.model.source} with this recipe`, budget);
  return recipe;
}

/** What every evaluation of a recipe's tasks is given: the sample, its seed, and how labels are scored. */
function evaluationOptions(recipe: Recipe, task: PreparedTask, step: number, events: RunEvents, signal?: AbortSignal): EvaluateOptions {
  return {
    examples: recipe.eval_whole_split ? 'all' : recipe.eval_examples,
    seed: recipe.seed,
    maxNewTokens: recipe.eval_max_new_tokens,
    labelScoring: recipe.eval_label_scoring,
    ...(signal ? { signal } : {}),
    ...(events.onEvalProgress ? { onProgress: ({ done, total }) => events.onEvalProgress!({ step, task: task.name, done, total }) } : {}),
  };
}

/** The batch shape evaluation uses: the recipe's batch size, and room for the longest example. */
export function evaluationShape(recipe: Recipe, tasks: readonly PreparedTask[]) {
  return { B: recipe.batch_size, T: Math.min(recipe.max_length, Math.max(...tasks.flatMap((t) => [...t.train, ...t.validation].map((e) => e.inputIds.length)))) };
}

/**
 * Evaluates the recipe's tasks with a given PEFT adapter (or the base model), without training: the
 * numbers a run reports at its end, for an adapter trained anywhere.
 */
export async function evaluateRecipe(asked: Recipe, env: RunEnvironment, adapter: PeftFiles | undefined, events: RunEvents = {}, signal?: AbortSignal): Promise<EvalEvent> {
  const { model, tasks, recipe } = await loadAndPrepare(asked, env, events, signal);
  let lora: GpuLora | undefined;
  let evaluator: Evaluator | undefined;
  try {
    lora = adapter ? await uploadLoraChecked(env.ctx, await importPeftAdapter(adapter, model.config), { training: false }) : undefined;
    evaluator = new Evaluator(env.ctx, model.gpu, model.tokenizer, evaluationShape(recipe, tasks), lora?.config.r ?? 0);
    events.onStage?.('evaluate');
    const results: TaskEvaluation[] = [];
    for (const task of tasks) results.push(await evaluator.evaluateTask(task, lora, evaluationOptions(recipe, task, 0, events, signal)));
    const event = { step: 0, tasks: results };
    events.onEval?.(event);
    return event;
  } finally {
    evaluator?.destroy();
    lora?.destroy();
    model.gpu.destroy();
  }
}

export async function runRecipe(asked: Recipe, runId: string, env: RunEnvironment, events: RunEvents = {}, options: { signal?: AbortSignal; resume?: boolean } = {}): Promise<RunResult> {
  const { ctx, storage, signal } = { ...env, signal: options.signal };
  const { model, tasks, recipe } = await loadAndPrepare(asked, env, events, signal);
  let trainer: Trainer | undefined;
  let evaluator: Evaluator | undefined;
  /** The step of the checkpoint a failed run resumes from (0: none yet). */
  let lastCheckpoint = 0;
  try {

    events.onStage?.('train');
    const initFrom = recipe.lora.init_from;
    if (initFrom && !env.openAdapter) throw new CocktailError('TRAIN_ADAPTER_MISSING', `lora.init_from names "${initFrom}" but adapters cannot be opened here`, { field: 'lora.init_from' });
    const initialAdapters = initFrom ? [await importPeftAdapter(await env.openAdapter!(initFrom), model.config)] : undefined;
    trainer = await Trainer.create(ctx, model.gpu, tasks, recipe, {
      runId,
      storage,
      resume: options.resume ?? false,
      ...(initialAdapters ? { initialAdapters } : {}),
      ...(events.onCheckpointRefused ? { onCheckpointRefused: events.onCheckpointRefused } : {}),
    });
    lastCheckpoint = trainer.step;
    evaluator = new Evaluator(ctx, model.gpu, model.tokenizer, evaluationShape(recipe, tasks), recipe.lora.r);
    const control = await RunControl.open(recipe, tasks, storage, runId, options.resume && trainer.step > 0 ? trainer.step : null);
    const baseModel = peftBaseModel(recipe.model.source, model.config);
    const exportNow = async (): Promise<Map<string, PeftFiles>> => new Map([...(await trainer!.adaptersNow())].map(([name, adapter]) => [name, exportPeftAdapter(adapter, model.config, baseModel.name, baseModel.note)]));
    const controlled = { mixProbabilities: () => trainer!.mixProbabilities(), setMixMultipliers: (m: readonly number[]) => trainer!.setMixMultipliers(m), exportAdapters: exportNow };
    const startMixture = control.mixtureNow(trainer.step, controlled);
    if (startMixture) events.onMixture?.(startMixture);
    const evaluations: EvalEvent[] = [];
    // Evaluates every task; returns why the run should stop early, or null.
    const evaluate = async (): Promise<string | null> => {
      const adapters = trainer!.gpuAdapters();
      const results: TaskEvaluation[] = [];
      for (const [index, task] of tasks.entries()) results.push(await evaluator!.evaluateTask(task, adapters.length > 1 ? adapters[index] : adapters[0], evaluationOptions(recipe, task, trainer!.step, events)));
      const event = { step: trainer!.step, tasks: results };
      evaluations.push(event);
      events.onEval?.(event);
      const outcome = await control.afterEvaluation(event.step, results, controlled);
      if (outcome.mixture) events.onMixture?.(outcome.mixture);
      if (outcome.best) events.onBest?.(outcome.best);
      return outcome.stop;
    };

    /** The adapters as they are now, exported and stored (a failed run keeps them under the same keys a finished one would). */
    const exportAdapters = async (): Promise<Map<string, PeftFiles>> => {
      const files = await exportNow();
      for (const [name, peft] of files) {
        const meta = { runId, name, baseModel: recipe.model.source, r: recipe.lora.r, steps: trainer!.step, ...(baseModel.note ? { baseModelNote: baseModel.note } : {}) };
        await storage.put('adapters', `${runId}/${name}`, meta, await zipPeftAdapter(peft));
      }
      return files;
    };
    /** Keeps the last good step (checkpoint and adapters) and fails the run with what happened. */
    const failKeeping = async (code: string, message: string, details: Record<string, unknown>): Promise<never> => {
      await trainer!.saveCheckpoint();
      events.onCheckpoint?.(trainer!.step);
      throw new RunFailedError(code, message, details, await exportAdapters());
    };

    const secondsPerStep: number[] = [];
    let stoppedEarly: { step: number; reason: string } | undefined;
    while (!trainer.done) {
      if (signal?.aborted) {
        if (signal.reason === 'pause') {
          await trainer.saveCheckpoint();
          events.onCheckpoint?.(trainer.step);
          return { status: 'paused', step: trainer.step, totalSteps: trainer.totalSteps, history: trainer.history, evaluations, adapters: new Map() };
        }
        throw new CocktailError('CANCELLED', `run "${runId}" was cancelled at step ${trainer.step}`, { step: trainer.step });
      }
      let record: StepRecord;
      try {
        record = await trainer.trainStep();
      } catch (error) {
        if (error instanceof CocktailError && error.code === 'TRAIN_NONFINITE') {
          return await failKeeping(error.code, `${error.message}. The checkpoint and adapter of step ${trainer.step} were saved.`, error.details);
        }
        throw error;
      }
      secondsPerStep.push(record.seconds);
      const recent = secondsPerStep.slice(-20);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      events.onStep?.({ ...record, totalSteps: trainer.totalSteps, tokensPerSecond: record.tokens / record.seconds, etaSeconds: mean * (trainer.totalSteps - trainer.step) });
      if (trainer.step % recipe.checkpoint_every === 0) {
        lastCheckpoint = trainer.step;
        events.onCheckpoint?.(trainer.step);
      }
      if (trainer.step % recipe.eval_every === 0 && !trainer.done) {
        const stop = await evaluate();
        if (stop) {
          stoppedEarly = { step: trainer.step, reason: stop };
          events.onEarlyStop?.({ step: trainer.step, reason: stop });
          break;
        }
      }
    }
    const skipped = trainer.history.filter((step) => step.skipped).length;
    if (trainer.history.length > 0 && skipped === trainer.history.length) {
      const losses = trainer.history.map((step) => step.loss);
      return await failKeeping(
        'TRAIN_ALL_SKIPPED',
        `every one of the run's ${skipped} steps was skipped: each had a non-finite loss or gradient (losses ${[...new Set(losses.map(String))].slice(0, 3).join(', ')}), so the adapter never changed from its start. ` +
          'Lower optimizer.lr, set clip, check the starting adapter (lora.init_from) and the model weights, or use a wider dtype.',
        { steps: skipped },
      );
    }
    // The trained adapters are saved before the final evaluation, so a failure there loses nothing.
    await trainer.saveCheckpoint();
    lastCheckpoint = trainer.step;
    events.onCheckpoint?.(trainer.step);
    events.onStage?.('export');
    const adapters = new Map<string, PeftFiles>();
    const storeAdapters = async (files: Map<string, PeftFiles>, steps: number, bestScore?: number): Promise<void> => {
      for (const [name, peft] of files) {
        adapters.set(name, peft);
        const meta = { runId, name, baseModel: recipe.model.source, r: recipe.lora.r, steps, ...(baseModel.note ? { baseModelNote: baseModel.note } : {}), ...(bestScore !== undefined ? { best: true, score: bestScore } : {}) };
        await storage.put('adapters', `${runId}/${name}`, meta, await zipPeftAdapter(peft));
      }
    };
    await storeAdapters(await exportNow(), trainer.step);
    // Stopped early, the run has just been evaluated at this step.
    if (!stoppedEarly) {
      events.onStage?.('evaluate');
      await evaluate();
    }
    // With best_checkpoint the adapters of the best evaluation are exported, bit for bit as they were kept.
    const best = await control.bestAdapters();
    if (best) {
      adapters.clear();
      await storeAdapters(best.adapters, best.step, best.score);
    }
    return {
      status: 'completed',
      step: trainer.step,
      totalSteps: trainer.totalSteps,
      history: trainer.history,
      evaluations,
      adapters,
      ...(best ? { best: { step: best.step, score: best.score } } : {}),
      ...(stoppedEarly ? { stoppedEarly } : {}),
    };
  } catch (error) {
    throw await explainGpuFailure(ctx, error, runId, lastCheckpoint);
  } finally {
    evaluator?.destroy();
    trainer?.destroy();
    model.gpu.destroy();
  }
}

/**
 * A run the GPU stopped (out of memory, a refused command, a lost device) says so with the GPU's message
 * and where it resumes from; its checkpoint is untouched. A lost device explains any later error.
 */
async function explainGpuFailure(ctx: GpuContext, error: unknown, runId: string, lastCheckpoint: number): Promise<unknown> {
  const failure = (await deviceLoss(ctx)) ?? error;
  if (!(failure instanceof GpuError)) return error;
  const resume = lastCheckpoint > 0 ? `Run "${runId}" stopped; its checkpoint at step ${lastCheckpoint} is intact and it resumes from there.` : `Run "${runId}" stopped before its first checkpoint; start it again.`;
  return new GpuError(failure.code, `${failure.message} ${resume}`, { ...failure.details, runId, resumeFrom: lastCheckpoint });
}
