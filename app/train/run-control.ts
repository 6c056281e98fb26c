/**
 * What a run decides from its evaluations: adaptive mixing (app/mix/adaptive.ts) re-weights the tasks,
 * the best checkpoint keeps the adapters of the best validation score, and early stopping ends the run
 * after `patience` evaluations without improvement.
 *
 * Its state changes only at evaluations, so it is stored once per evaluation beside the checkpoints
 * (`<runId>#control`, one entry per evaluation step) and the best adapters as PEFT files
 * (`<runId>#best/<adapter>`). A resumed run takes the last entry at or before its checkpoint's step; the
 * sampler's multipliers are in the checkpoint itself, so a resumed run is bit-identical to a straight one.
 */
import { CocktailError } from '../errors.ts';
import { AdaptiveMixer, type AdaptiveState } from '../mix/adaptive.ts';
import type { Json, Storage } from '../store/storage.ts';
import type { TaskEvaluation } from './evaluate.ts';
import { mixAdaptive } from './mixture.ts';
import type { PeftFiles } from './peft.ts';
import type { Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';

/** One evaluation's effect on the mixture: the probabilities from then on, and why they changed. */
export interface MixtureEvent {
  step: number;
  taskNames: string[];
  probabilities: number[];
  multipliers: number[];
  reasons: { task: string; reason: string }[];
}

export interface BestEvent {
  step: number;
  score: number;
  by: 'loss' | 'score';
}

interface BestState {
  score: number | null;
  step: number | null;
  /** Evaluations since the best one. */
  since: number;
}

interface ControlEntry {
  step: number;
  adaptive: AdaptiveState | null;
  best: BestState;
}

export interface EvaluationOutcome {
  mixture: MixtureEvent | null;
  best: BestEvent | null;
  /** Set when early stopping ends the run here. */
  stop: string | null;
}

/** What run.ts gives the controller: the trainer's sampler and adapters. */
export interface ControlledTrainer {
  mixProbabilities(): number[];
  setMixMultipliers(multipliers: readonly number[]): void;
  exportAdapters(): Promise<Map<string, PeftFiles>>;
}

const controlKey = (runId: string): string => `${runId}#control`;
const bestKey = (runId: string, adapter: string): string => `${runId}#best/${adapter}`;

/** Deletes what a run's controller stored (its per-evaluation state and best adapters), with the run. */
export async function deleteRunControl(storage: Storage, runId: string): Promise<void> {
  for (const item of await storage.list('checkpoints', `${runId}#best/`)) await storage.delete('checkpoints', item.key);
  await storage.delete('checkpoints', controlKey(runId));
}

/** Refuses adaptive mixing when a task has no validation examples to take a loss from, naming it. */
export function checkAdaptiveTasks(recipe: Recipe, tasks: readonly PreparedTask[]): void {
  if (recipe.mixture.strategy !== 'adaptive') return;
  const without = tasks.find((task) => task.validation.length === 0);
  if (without) {
    throw new CocktailError('TRAIN_ADAPTIVE_NO_VALIDATION', `adaptive mixing re-weights each task from its validation loss, and task "${without.name}" has no validation examples: give it a validation_fraction above 0 or a validation file, or choose another strategy`, { task: without.name });
  }
}

export class RunControl {
  private entries: ControlEntry[];
  private adaptive: AdaptiveMixer | null;
  private best: BestState;

  private constructor(
    private readonly recipe: Recipe,
    private readonly taskNames: string[],
    private readonly storage: Storage,
    private readonly runId: string,
    entries: ControlEntry[],
  ) {
    this.entries = entries;
    const last = entries.at(-1);
    const options = mixAdaptive(recipe.mixture);
    this.adaptive = options ? (last?.adaptive ? AdaptiveMixer.fromState(taskNames, options, last.adaptive) : AdaptiveMixer.create(taskNames, options)) : null;
    this.best = last ? { ...last.best } : { score: null, step: null, since: 0 };
  }

  /**
   * The controller of a run: fresh (stored state of an earlier run of this id is cleared), or resumed at
   * the checkpoint's step, with the state of the last evaluation at or before it.
   */
  static async open(recipe: Recipe, tasks: readonly PreparedTask[], storage: Storage, runId: string, resumedAt: number | null): Promise<RunControl> {
    checkAdaptiveTasks(recipe, tasks);
    const stored = (await storage.getInfo<Json>('checkpoints', controlKey(runId)))?.meta as { entries?: ControlEntry[] } | undefined;
    const entries = resumedAt === null ? [] : (stored?.entries ?? []).filter((entry) => entry.step <= resumedAt);
    if (resumedAt === null) await deleteRunControl(storage, runId);
    return new RunControl(recipe, tasks.map((task) => task.name), storage, runId, entries);
  }

  get enabled(): boolean {
    return this.adaptive !== null || this.recipe.best_checkpoint !== undefined;
  }

  /** The step whose adapters are the best so far, or null (no best_checkpoint, or no evaluation yet). */
  get bestStep(): number | null {
    return this.recipe.best_checkpoint ? this.best.step : null;
  }

  /** The mixture as it stands, for the chart's first point. */
  mixtureNow(step: number, trainer: ControlledTrainer): MixtureEvent | null {
    if (!this.adaptive) return null;
    return { step, taskNames: [...this.taskNames], probabilities: trainer.mixProbabilities(), multipliers: [...this.adaptive.multipliers], reasons: [] };
  }

  async afterEvaluation(step: number, results: readonly TaskEvaluation[], trainer: ControlledTrainer): Promise<EvaluationOutcome> {
    let mixture: MixtureEvent | null = null;
    if (this.adaptive) {
      const change = this.adaptive.update(step, results.map((result) => result.loss));
      if (change) trainer.setMixMultipliers(change.multipliers);
      mixture = { step, taskNames: [...this.taskNames], probabilities: trainer.mixProbabilities(), multipliers: [...this.adaptive.multipliers], reasons: change?.reasons ?? [] };
    }
    let best: BestEvent | null = null;
    let stop: string | null = null;
    const settings = this.recipe.best_checkpoint;
    if (settings) {
      const score = this.scoreOf(results);
      const improved = this.best.score === null || (settings.by === 'loss' ? score < this.best.score : score > this.best.score);
      if (improved) {
        this.best = { score, step, since: 0 };
        await this.storeBest(step, score, await trainer.exportAdapters());
        best = { step, score, by: settings.by };
      } else this.best.since++;
      if (settings.patience !== undefined && this.best.since >= settings.patience) {
        stop = `no improvement of the validation ${settings.by} in ${this.best.since} evaluations since step ${this.best.step}`;
      }
    }
    if (this.enabled) {
      this.entries.push({ step, adaptive: this.adaptive?.state() ?? null, best: { ...this.best } });
      await this.storage.put('checkpoints', controlKey(this.runId), { runId: this.runId, entries: this.entries } as unknown as Json);
    }
    return { mixture, best, stop };
  }

  /** The best adapters as stored, by adapter name; undefined when there is no best (yet). */
  async bestAdapters(): Promise<{ step: number; score: number; adapters: Map<string, PeftFiles> } | undefined> {
    if (!this.recipe.best_checkpoint || this.best.step === null) return undefined;
    const adapters = new Map<string, PeftFiles>();
    for (const item of await this.storage.list<Json>('checkpoints', `${this.runId}#best/`)) {
      const meta = item.meta as { name: string; config: string; step: number };
      if (meta.step !== this.best.step) continue;
      const bytes = await this.storage.getBytes('checkpoints', item.key);
      if (!bytes) throw new CocktailError('CHECKPOINT_CORRUPT', `the best adapter "${meta.name}" of run "${this.runId}" has no weights`, { runId: this.runId });
      adapters.set(meta.name, { config: meta.config, weights: new Blob([bytes.slice()]) });
    }
    if (adapters.size === 0) throw new CocktailError('CHECKPOINT_CORRUPT', `the best adapters of run "${this.runId}" (step ${this.best.step}) are missing from storage`, { runId: this.runId });
    return { step: this.best.step, score: this.best.score!, adapters };
  }

  /**
   * Mean over the chosen tasks (all by default) of the validation loss (by "loss", lower is better) or
   * of the metric's score (by "score", higher is better; a task scored by loss counts as −loss).
   */
  private scoreOf(results: readonly TaskEvaluation[]): number {
    const settings = this.recipe.best_checkpoint!;
    const chosen = settings.tasks ? results.filter((result) => settings.tasks!.includes(result.task)) : results;
    const values = chosen.map((result) => (settings.by === 'loss' ? result.loss : result.metric === 'loss' ? -result.loss : result.score));
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  }

  private async storeBest(step: number, score: number, adapters: Map<string, PeftFiles>): Promise<void> {
    for (const [name, files] of adapters) {
      const meta = { runId: this.runId, name, step, score, config: files.config };
      await this.storage.put('checkpoints', bestKey(this.runId, name), meta, new Uint8Array(await files.weights.arrayBuffer()));
    }
  }
}
