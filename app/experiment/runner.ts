/**
 * Runs an experiment: its arms one after another, each arm once per seed, as ordinary training runs
 * with checkpoints. The model is loaded once and every task prepared (tokenized) once for the whole
 * experiment; each arm trains a fresh shared adapter on its tasks, then every task of the recipe is
 * evaluated with per-example scores (app/train/evaluate.ts) for the statistics (results.ts).
 *
 * Storage ("runs" store) keeps the experiment's manifest and one record per finished arm and seed; the
 * trainer keeps each unfinished arm's checkpoint ("checkpoints" store). Resuming skips finished arms
 * and continues an interrupted arm from its checkpoint, so a reload, a crash or a lost device costs at
 * most the steps since the last checkpoint, and the results equal an uninterrupted experiment's.
 *
 * Aborting the signal with reason "pause" checkpoints the arm in progress and returns; any other
 * reason cancels (finished arms and the last periodic checkpoint stay).
 */
import { CocktailError } from '../errors.ts';
import { GpuError } from '../gpu/errors.ts';
import { deviceLoss } from '../gpu/scope.ts';
import type { GpuLora } from '../model/lora-gpu.ts';
import { EXPERIMENT_KEY_PREFIX, type Json, type Storage } from '../store/storage.ts';
import { evaluationSample } from '../train/eval-sample.ts';
import { Evaluator, type TaskEvaluation } from '../train/evaluate.ts';
import { exportPeftAdapter, zipPeftAdapter, type PeftFiles } from '../train/peft.ts';
import { canonicalJson, recipeHash } from '../train/recipe.ts';
import { evaluationShape, loadAndPrepare, type RunEnvironment, type RunEvents } from '../train/run.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { Trainer, type StepRecord } from '../train/trainer.ts';
import { armRecipe, armSteps, checkBudget, singleArmsRecipe } from './budget.ts';
import { longExperimentWarning } from './estimate.ts';
import { armId, armRunId, ExperimentError, singleArmsTogether, experimentSeeds, planArms, taskRoles, validateExperiment, type Arm, type ExperimentSpec } from './design.ts';
import { computeResults, greedyCandidates, greedyStage, type ArmSeedRecord, type ExperimentResults, type GreedyStage } from './results.ts';

export interface ExperimentPlan {
  arms: (Arm & { steps: number })[];
  seeds: number[];
  /** Single-task arms trained together, one run per seed with an adapter each (see singleArmsTogether). */
  together: string[];
  /** Training runs fixed in advance (greedy adds up to one per remaining task, stage and seed). */
  runs: number;
  steps: number;
  /** Expected training tokens of those runs, from each task's mean tokens per example. */
  tokens: number;
}

export interface ArmProgress {
  arm: string;
  seed: number;
  /** 1-based index of this run among the planned runs (greedy runs extend the count). */
  run: number;
  runs: number;
  step: number;
  totalSteps: number;
  loss: number;
  tokensPerSecond: number;
  /** Seconds left in this arm and in the experiment, from the measured tokens per second. */
  armEtaSeconds: number;
  etaSeconds: number;
}

export interface ExperimentEvents {
  run?: RunEvents;
  onPlan?(plan: ExperimentPlan): void;
  onArmStart?(arm: string, seed: number, run: number, runs: number): void;
  onStep?(progress: ArmProgress): void;
  /** `evaluations`: each task's evaluation as an ordinary run reports it (for run records and the Evaluate page). */
  onArmDone?(record: ArmSeedRecord, history: readonly StepRecord[], adapter: PeftFiles | undefined, evaluations: TaskEvaluation[]): void | Promise<void>;
  onGreedyStage?(stage: GreedyStage): void;
  onWarning?(message: string): void;
}

export interface ExperimentTiming {
  total_s: number;
  train_s: number;
  evaluate_s: number;
  prepare_s: number;
}

export interface ExperimentOutcome {
  status: 'completed' | 'paused';
  results: ExperimentResults;
  records: ArmSeedRecord[];
  timing: ExperimentTiming;
}

export interface ExperimentManifest {
  [key: string]: Json;
  specHash: string;
  targets: string[];
  designs: string[];
  seeds: number;
  budget: string;
  order: string[] | null;
  custom: string[][] | null;
  recipe: Json;
  status: 'running' | 'paused' | 'completed';
}

const manifestKey = (id: string) => `${EXPERIMENT_KEY_PREFIX}${id}`;
const recordKey = (id: string, arm: string, seed: number) => `experiments/${id}/arms/${arm}/seed-${seed}`;

/** A hash of everything that decides an experiment's numbers, so a paused one cannot be resumed with another recipe. */
export async function specHash(spec: ExperimentSpec): Promise<string> {
  const { recipe, ...rest } = spec;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson({ ...rest, recipe: await recipeHash(recipe) })));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What is stored of an experiment: its manifest and finished records, viewable whatever its state. */
export async function loadExperiment(storage: Storage, id: string): Promise<{ manifest: ExperimentManifest; records: ArmSeedRecord[] } | undefined> {
  const info = await storage.getInfo<ExperimentManifest>('runs', manifestKey(id));
  if (!info) return undefined;
  const records = (await storage.list<ArmSeedRecord>('runs', `${manifestKey(id)}/arms/`)).map((item) => item.meta);
  return { manifest: info.meta, records };
}

/** The plan: arms, their steps under the budget rule, runs and expected tokens. `together: false` trains every arm in its own run. */
export function planExperiment(spec: ExperimentSpec, prepared: readonly PreparedTask[], options: { together?: boolean } = {}): ExperimentPlan {
  const seeds = experimentSeeds(spec);
  const { regularizers } = taskRoles(spec.recipe);
  const arms = planArms(spec).map((arm) => ({ ...arm, steps: armSteps(spec.recipe, prepared, arm.tasks, spec.targets, spec.budget) }));
  const together = options.together === false ? [] : singleArmsTogether(spec, arms);
  const tokensPerStep = (arm: Arm) => {
    const names = [...arm.tasks, ...regularizers];
    const tasks = prepared.filter((task) => names.includes(task.name));
    return (spec.recipe.batch_size * spec.recipe.grad_accum * tasks.reduce((sum, task) => sum + task.meanTokens, 0)) / tasks.length;
  };
  return {
    arms,
    seeds,
    together,
    runs: (arms.length - together.length + (together.length > 0 ? 1 : 0)) * seeds.length,
    steps: arms.reduce((sum, arm) => sum + arm.steps, 0) * seeds.length,
    tokens: arms.reduce((sum, arm) => sum + arm.steps * tokensPerStep(arm), 0) * seeds.length,
  };
}

/**
 * `options.together` (default true): single-task arms of one seed train in one run with an adapter each
 * where singleArmsTogether allows; false trains each arm in a run of its own (the same results, slower).
 */
export async function runExperiment(spec: ExperimentSpec, id: string, env: RunEnvironment, events: ExperimentEvents = {}, options: { signal?: AbortSignal; resume?: boolean; together?: boolean } = {}): Promise<ExperimentOutcome> {
  validateExperiment(spec);
  const { storage, ctx } = env;
  const { signal } = options;
  const hash = await specHash(spec);
  const stored = await loadExperiment(storage, id);
  if (stored && !options.resume) throw new ExperimentError('EXPERIMENT_EXISTS', `experiment "${id}" already exists; resume it, or choose another name`, { experiment: id });
  if (stored && stored.manifest.specHash !== hash) {
    throw new ExperimentError(
      'EXPERIMENT_CHANGED',
      `experiment "${id}" was started with a different recipe or design; resuming would mix arms of two experiments. Its ${stored.records.length} finished arm runs stay viewable; start a new experiment for the changed recipe.`,
      { experiment: id, finished: stored.records.length },
    );
  }
  const records: ArmSeedRecord[] = stored ? [...stored.records] : [];
  const saveManifest = (status: ExperimentManifest['status']) =>
    storage.put('runs', manifestKey(id), {
      specHash: hash,
      targets: spec.targets,
      designs: spec.designs,
      seeds: spec.seeds,
      budget: spec.budget,
      order: spec.order ?? null,
      custom: spec.custom ?? null,
      recipe: spec.recipe as unknown as Json,
      status,
    } satisfies ExperimentManifest);

  const started = performance.now();
  const { model, tasks: prepared } = await loadAndPrepare(spec.recipe, env, events.run ?? {}, signal);
  const prepareSeconds = (performance.now() - started) / 1000;
  let evaluator: Evaluator | undefined;
  try {
    checkBudget(spec.recipe, prepared, spec.targets, spec.budget);
    checkValidationSizes(spec, prepared);
    const plan = planExperiment(spec, prepared, { together: options.together ?? true });
    events.onPlan?.(plan);
    await saveManifest('running');
    evaluator = new Evaluator(ctx, model.gpu, model.tokenizer, evaluationShape(spec.recipe, prepared), spec.recipe.lora.r);
    const evaluatorNow = evaluator;

    let runIndex = 0;
    let runs = plan.runs;
    let warned = false;
    const stepSeconds: number[] = [];
    const remainingSteps = () => plan.steps - records.filter((r) => plan.arms.some((arm) => arm.id === r.arm)).reduce((sum, r) => sum + r.steps, 0);

    /**
     * Trains arms under one seed in one run, skipping those finished before; false when paused. One arm
     * trains its tasks with a shared adapter; several single-task arms train together with an adapter
     * each (the trainer's separateTasks), which gives each the adapter its own run would have.
     */
    const runArms = async (arms: readonly (readonly string[])[], seed: number): Promise<boolean> => {
      runIndex++;
      const pending = arms.filter((tasks) => !records.some((record) => record.arm === armId(tasks) && record.seed === seed));
      if (pending.length === 0) return true;
      const together = pending.length > 1;
      const label = pending.map(armId).join(' | ');
      events.onArmStart?.(label, seed, runIndex, runs);
      const steps = armSteps(spec.recipe, prepared, pending[0]!, spec.targets, spec.budget);
      const recipe = together ? singleArmsRecipe(spec.recipe, pending.map(([task]) => task!), seed, steps) : armRecipe(spec.recipe, pending[0]!, seed, steps);
      const runTasks = recipe.tasks.map((task) => prepared.find((p) => p.name === task.name)!);
      const runId = armRunId(id, pending.map(armId).join(','), seed);
      const trainer = await Trainer.create(ctx, model.gpu, runTasks, recipe, { runId, storage, resume: true, separateTasks: together });
      try {
        while (!trainer.done) {
          if (signal?.aborted) {
            if (signal.reason === 'pause') {
              await trainer.saveCheckpoint();
              return false;
            }
            throw new CocktailError('CANCELLED', `experiment "${id}" was cancelled in arm ${label}, seed ${seed}, at step ${trainer.step}`, { arm: label, seed, step: trainer.step });
          }
          const record = await trainer.trainStep();
          stepSeconds.push(record.seconds);
          const recent = stepSeconds.slice(-20);
          const perStep = recent.reduce((a, b) => a + b, 0) / recent.length;
          const armEtaSeconds = perStep * (trainer.totalSteps - trainer.step);
          const etaSeconds = perStep * Math.max(0, remainingSteps() - trainer.step);
          const warning = warned ? undefined : longExperimentWarning(etaSeconds, true);
          if (warning) {
            warned = true;
            events.onWarning?.(warning);
          }
          events.onStep?.({ arm: label, seed, run: runIndex, runs, step: trainer.step, totalSteps: trainer.totalSteps, loss: record.loss, tokensPerSecond: record.tokens / record.seconds, armEtaSeconds, etaSeconds });
        }
        await trainer.saveCheckpoint();
        const gpuAdapters = trainer.gpuAdapters();
        const cpuAdapters = [...(await trainer.adaptersNow()).values()];
        for (const tasks of pending) {
          const arm = armId(tasks);
          // Together, the arm's task is adapter `index` and trained at every `runTasks.length`-th step, from step `index`.
          const index = together ? runTasks.findIndex((task) => task.name === tasks[0]) : 0;
          // The history survives a resume in the checkpoint, so an interrupted arm's time is counted whole.
          const history = together ? trainer.history.filter((_, k) => k % runTasks.length === index).map((step, k) => ({ ...step, step: k + 1, taskLosses: [step.taskLosses[index]!] })) : trainer.history;
          const evaluateStart = performance.now();
          const { evaluations, reports } = await evaluateAll(evaluatorNow, prepared, gpuAdapters[index]!, spec);
          const evaluateSeconds = (performance.now() - evaluateStart) / 1000;
          const armRun = armRunId(id, arm, seed);
          const result: ArmSeedRecord = {
            arm,
            tasks: [...tasks],
            seed,
            steps,
            runId: armRun,
            evaluations,
            trainSeconds: history.reduce((sum, r) => sum + r.seconds, 0),
            evaluateSeconds,
            tokens: history.reduce((sum, r) => sum + r.tokens, 0),
          };
          const cpu = cpuAdapters[index];
          const peft = cpu ? exportPeftAdapter(cpu, model.config, spec.recipe.model.source) : undefined;
          if (peft) await storage.put('adapters', `${armRun}/shared`, { runId: armRun, name: 'shared', baseModel: spec.recipe.model.source, r: cpu!.config.r, steps, experiment: id, arm }, await zipPeftAdapter(peft));
          await storage.put('runs', recordKey(id, arm, seed), result);
          records.push(result);
          await events.onArmDone?.(result, history, peft, reports);
        }
        return true;
      } finally {
        trainer.destroy();
      }
    };

    const pause = async (): Promise<ExperimentOutcome> => {
      await saveManifest('paused');
      return { status: 'paused', results: computeResults(spec, records, []), records, timing: timingOf(records, prepareSeconds, started) };
    };

    const together = plan.arms.filter((arm) => plan.together.includes(arm.id)).map((arm) => arm.tasks);
    if (together.length > 0) for (const seed of plan.seeds) if (!(await runArms(together, seed))) return await pause();
    for (const arm of plan.arms) if (!plan.together.includes(arm.id)) for (const seed of plan.seeds) if (!(await runArms([arm.tasks], seed))) return await pause();

    const greedy: GreedyStage[] = [];
    if (spec.designs.includes('greedy')) {
      let current = [...spec.targets];
      for (;;) {
        const candidates = greedyCandidates(spec, current);
        if (candidates.length === 0) break;
        runs += candidates.filter((tasks) => !plan.arms.some((arm) => arm.id === armId(tasks))).length * plan.seeds.length;
        for (const tasks of candidates) for (const seed of plan.seeds) if (!(await runArms([tasks], seed))) return await pause();
        const stage = greedyStage(spec, records, current);
        greedy.push(stage);
        events.onGreedyStage?.(stage);
        if (stage.added === null) break;
        current = [...current, stage.added];
      }
    }
    await saveManifest('completed');
    return { status: 'completed', results: computeResults(spec, records, greedy), records, timing: timingOf(records, prepareSeconds, started) };
  } catch (error) {
    // A lost device explains whatever failed after it (a readback aborted, a buffer gone): say that,
    // and that resuming keeps every finished arm.
    const failure = (await deviceLoss(ctx)) ?? error;
    if (!(failure instanceof GpuError)) throw error;
    throw new GpuError(failure.code, `${failure.message} Experiment "${id}" stopped with ${records.length} arm runs finished; they are kept, and resuming continues from the interrupted arm's last checkpoint.`, { ...failure.details, experiment: id, finishedRuns: records.length });
  } finally {
    evaluator?.destroy();
    model.gpu.destroy();
  }
}

/**
 * The validation examples every arm and seed of the experiment scores for a task: one seeded sample
 * (stratified by label for classification, app/train/eval-sample.ts) from the base recipe's seed, not
 * the arm's, so arms are compared on the same examples and the honest split divides the same list.
 */
function experimentSample(spec: ExperimentSpec, task: PreparedTask): { requested: number | 'all'; indices: readonly number[] } {
  const requested = spec.recipe.eval_whole_split ? 'all' : spec.recipe.eval_examples;
  return { requested, indices: evaluationSample(task, requested, spec.recipe.seed).indices };
}

/** Every task of the recipe, with per-example scores on the experiment's sample. */
async function evaluateAll(evaluator: Evaluator, prepared: readonly PreparedTask[], adapter: GpuLora, spec: ExperimentSpec): Promise<{ evaluations: ArmSeedRecord['evaluations']; reports: TaskEvaluation[] }> {
  const evaluations: ArmSeedRecord['evaluations'] = {};
  const reports: TaskEvaluation[] = [];
  for (const task of prepared) {
    const sample = experimentSample(spec, task);
    const { perExample, ...report } = await evaluator.evaluateTask(task, adapter, { examples: sample.requested, seed: spec.recipe.seed, maxNewTokens: spec.recipe.eval_max_new_tokens, labelScoring: spec.recipe.eval_label_scoring, perExample: true });
    evaluations[task.name] = { metric: report.metric, examples: [...sample.indices], losses: perExample!.losses, scores: perExample!.scores };
    reports.push(report);
  }
  return { evaluations, reports };
}

/** Each task needs two scored validation examples: one for the selection part, one for the report part. */
function checkValidationSizes(spec: ExperimentSpec, prepared: readonly PreparedTask[]): void {
  for (const task of prepared) {
    const scored = experimentSample(spec, task).indices.length;
    if (scored < 2) {
      throw new ExperimentError('EXPERIMENT_TOO_FEW_EXAMPLES', `task "${task.name}" has ${scored} validation example(s) to score; an experiment needs at least 2 (one to select on, one to report): raise eval_examples or the task's validation_fraction`, { task: task.name, scored });
    }
  }
}

function timingOf(records: readonly ArmSeedRecord[], prepareSeconds: number, started: number): ExperimentTiming {
  return {
    total_s: (performance.now() - started) / 1000,
    train_s: records.reduce((sum, r) => sum + r.trainSeconds, 0),
    evaluate_s: records.reduce((sum, r) => sum + r.evaluateSeconds, 0),
    prepare_s: prepareSeconds,
  };
}
