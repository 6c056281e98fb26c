/**
 * From the per-example scores of every finished arm and seed to the experiment's report: each arm's
 * numbers per task, effects against the targets' single arms, the synergy matrix, leave-one-out
 * contributions, the incremental curve, greedy's stages and the recommended cocktail. Pure: the same
 * records give the same report (every bootstrap has its own seeded stream), so a resumed experiment
 * reports exactly what an uninterrupted one does.
 */
import { armId, ExperimentError, experimentSeeds, incrementalStages, planArms, taskRoles, type Arm, type BudgetRule, type ExperimentSpec } from './design.ts';
import { honestSplit, partOf, type HonestSplit } from './honest-split.ts';
import { hashLabel, orientationOf, pairedEffect, summarize, type Effect, type Orientation, type Summary } from './statistics.ts';
import type { Json } from '../store/storage.ts';

export interface TaskScores {
  [key: string]: Json;
  metric: string;
  /** The validation examples scored (indices into the task's validation split): the same in every arm and seed. */
  examples: number[];
  /** Each evaluated validation example's loss, in validation order. */
  losses: number[];
  /** Each evaluated validation example's metric score (its loss for the loss metric). */
  scores: number[];
}

/** One trained arm under one seed: what the runner stores when it finishes, and all the report reads. */
export interface ArmSeedRecord {
  [key: string]: Json;
  arm: string;
  tasks: string[];
  seed: number;
  steps: number;
  runId: string;
  /** Every task of the recipe, trained in this arm or not. */
  evaluations: Record<string, TaskScores>;
  trainSeconds: number;
  evaluateSeconds: number;
  tokens: number;
}

export type Part = 'selection' | 'report';

export interface ArmResult {
  id: string;
  design: string;
  tasks: string[];
  seeds: number[];
  steps: number;
  /** On the report part; `loss` is the validation loss beside the metric. */
  metrics: Record<string, Summary & { metric: string; loss: Summary }>;
}

export interface GreedyStage {
  /** The arm kept after this stage. */
  arm: string;
  /** Candidates tried at this stage and their effect over the previous stage (selection part). */
  tried: { arm: string; added: string; effect: Effect }[];
  /** The task added, or null when no addition improved the targets beyond its interval. */
  added: string | null;
}

export interface ExperimentResults {
  budget: BudgetRule;
  targets: string[];
  arms: ArmResult[];
  baselines: Record<string, string>;
  effects: ({ arm: string; target: string } & Effect)[];
  synergy: { target: string; task: string; arm: string; delta: number; ci: [number, number]; significant: boolean }[];
  leave_one_out: { target: string; removed: string; arm: string; delta: number; ci: [number, number]; significant: boolean }[];
  incremental: { arm: string; tasks: string[]; scores: Record<string, Summary> }[];
  greedy: GreedyStage[];
  recommended: { arm: string; tasks: string[]; selection_scores: Record<string, number>; report_scores: Record<string, number> } | null;
  /** Examples of each task in the selection and the report part. */
  split: Record<string, { selection: number; report: number }>;
}

/** Groups records by arm, seeds in order; only arms finished under every seed count. */
export function completeArms(spec: ExperimentSpec, records: readonly ArmSeedRecord[]): Map<string, ArmSeedRecord[]> {
  const seeds = experimentSeeds(spec);
  const byArm = new Map<string, ArmSeedRecord[]>();
  for (const record of records) byArm.set(record.arm, [...(byArm.get(record.arm) ?? []), record]);
  // Planned arms in plan order, then greedy's by name: the same order however the records were stored.
  const planned = planArms(spec).map((arm) => arm.id);
  const rank = (arm: string) => (planned.includes(arm) ? planned.indexOf(arm) : planned.length);
  const complete = new Map<string, ArmSeedRecord[]>();
  for (const [arm, list] of [...byArm].sort(([a], [b]) => rank(a) - rank(b) || (rank(a) === planned.length ? a.localeCompare(b) : 0))) {
    const ordered = seeds.map((seed) => list.find((record) => record.seed === seed));
    if (ordered.every(Boolean)) complete.set(arm, ordered as ArmSeedRecord[]);
  }
  return complete;
}

/**
 * Arms are compared example by example (paired effects, one honest split per task), so every arm and
 * seed must have scored the same validation examples of each task; refuses records that did not.
 */
function checkSameExamples(arms: Map<string, ArmSeedRecord[]>): void {
  const first = new Map<string, { record: ArmSeedRecord; examples: string }>();
  for (const list of arms.values()) {
    for (const record of list) {
      for (const [task, scores] of Object.entries(record.evaluations)) {
        const examples = JSON.stringify(scores.examples);
        const seen = first.get(task);
        if (!seen) first.set(task, { record, examples });
        else if (seen.examples !== examples) {
          throw new ExperimentError(
            'EXPERIMENT_SAMPLE_MISMATCH',
            `arm ${record.arm} (seed ${record.seed}) scored other validation examples of task "${task}" than arm ${seen.record.arm} (seed ${seen.record.seed}); arms can only be compared on the same examples`,
            { task, arm: record.arm, seed: record.seed },
          );
        }
      }
    }
  }
}

/** Splits each task's evaluated examples into selection and report parts (same examples in every arm). */
class Scorer {
  private readonly splits = new Map<string, HonestSplit>();
  constructor(
    private readonly spec: ExperimentSpec,
    private readonly arms: Map<string, ArmSeedRecord[]>,
  ) {
    checkSameExamples(arms);
  }

  split(task: string, count: number): HonestSplit {
    const key = `${task}:${count}`;
    if (!this.splits.has(key)) this.splits.set(key, honestSplit(task, count, this.spec.recipe.seed));
    return this.splits.get(key)!;
  }

  /** seeds × examples table of an arm's scores (or losses) of a task, on one part. */
  table(arm: string, task: string, part: Part, field: 'scores' | 'losses' = 'scores'): number[][] {
    const full = this.arms.get(arm)!.map((record) => record.evaluations[task]![field]);
    return partOf(full, this.split(task, full[0]!.length)[part]);
  }

  orientation(task: string): Orientation {
    return orientationOf(this.metric(task));
  }

  metric(task: string): string {
    return [...this.arms.values()][0]![0]!.evaluations[task]!.metric;
  }

  has(arm: string): boolean {
    return this.arms.has(arm);
  }

  /** The mean over targets of each target's oriented mean on a part: what choices maximize. */
  targetScore(arm: string, part: Part): number {
    return this.spec.targets.reduce((sum, target) => sum + this.orientation(target) * mean(this.table(arm, target, part)), 0) / this.spec.targets.length;
  }

  /** Oriented effect of `arm` over `baseline` on the targets' part, averaged over targets. */
  effect(arm: string, baseline: string, targets: readonly string[], part: Part): Effect {
    const pairs = targets.map((target) => ({ arm: this.table(arm, target, part), baseline: this.table(baseline, target, part), orientation: this.orientation(target) }));
    return pairedEffect(pairs, hashLabel(`effect:${part}:${arm}:${baseline}:${targets.join(',')}`));
  }
}

function mean(table: readonly (readonly number[])[]): number {
  return table.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0) / row.length, 0) / table.length;
}

/**
 * Greedy forward selection, one stage: from `current`, the candidate arms (current + one task) that
 * have finished; picks the best on the selection part and keeps it only when its improvement's
 * interval lies above zero.
 */
export function greedyStage(spec: ExperimentSpec, records: readonly ArmSeedRecord[], current: string[]): GreedyStage {
  const scorer = new Scorer(spec, completeArms(spec, records));
  const { candidates } = taskRoles(spec.recipe);
  const currentId = armId(candidates.filter((name) => current.includes(name)));
  const tried = candidates
    .filter((name) => !current.includes(name))
    .map((added) => ({ added, arm: armId(candidates.filter((name) => current.includes(name) || name === added)) }))
    .filter(({ arm }) => scorer.has(arm))
    .map(({ added, arm }) => ({ arm, added, effect: scorer.effect(arm, currentId, spec.targets, 'selection') }));
  const best = tried.reduce<(typeof tried)[number] | undefined>((top, entry) => (!top || entry.effect.delta > top.effect.delta ? entry : top), undefined);
  const improves = best !== undefined && best.effect.ci[0] > 0;
  return { arm: improves ? best.arm : currentId, tried, added: improves ? best.added : null };
}

/** The greedy arms to train next from `current`: current + each task not yet in it. */
export function greedyCandidates(spec: ExperimentSpec, current: readonly string[]): string[][] {
  const { candidates } = taskRoles(spec.recipe);
  return candidates.filter((name) => !current.includes(name)).map((added) => candidates.filter((name) => current.includes(name) || name === added));
}

export function computeResults(spec: ExperimentSpec, records: readonly ArmSeedRecord[], greedy: readonly GreedyStage[] = []): ExperimentResults {
  const arms = completeArms(spec, records);
  const scorer = new Scorer(spec, arms);
  const planned = new Map<string, Arm>(planArms(spec).map((arm) => [arm.id, arm]));
  const taskNames = spec.recipe.tasks.map((task) => task.name);
  const { candidates } = taskRoles(spec.recipe);
  const finished = [...arms.keys()];
  const results: ExperimentResults = {
    budget: spec.budget,
    targets: [...spec.targets],
    arms: [],
    baselines: Object.fromEntries(spec.targets.map((target) => [target, target])),
    effects: [],
    synergy: [],
    leave_one_out: [],
    incremental: [],
    greedy: [...greedy],
    recommended: null,
    split: {},
  };
  if (finished.length === 0) return results;

  for (const task of taskNames) {
    const count = arms.get(finished[0]!)![0]!.evaluations[task]!.scores.length;
    const split = scorer.split(task, count);
    results.split[task] = { selection: split.selection.length, report: split.report.length };
  }

  for (const [id, list] of arms) {
    const metrics: ArmResult['metrics'] = {};
    for (const task of taskNames) {
      const label = `${id}:${task}`;
      metrics[task] = {
        metric: scorer.metric(task),
        ...summarize(scorer.table(id, task, 'report'), hashLabel(`summary:${label}`)),
        loss: summarize(scorer.table(id, task, 'report', 'losses'), hashLabel(`loss:${label}`)),
      };
    }
    results.arms.push({ id, design: (planned.get(id)?.designs ?? ['greedy']).join(','), tasks: list[0]!.tasks, seeds: list.map((r) => r.seed), steps: list[0]!.steps, metrics });
  }

  for (const target of spec.targets) {
    if (!arms.has(target)) continue;
    for (const id of finished) {
      if (id === target) continue;
      results.effects.push({ arm: id, target, ...scorer.effect(id, target, [target], 'report') });
    }
    for (const other of candidates) {
      const pair = armId(candidates.filter((name) => name === target || name === other));
      if (other !== target && arms.has(pair)) results.synergy.push({ target, task: other, arm: pair, ...scorer.effect(pair, target, [target], 'report') });
    }
  }

  const all = armId(candidates);
  if (arms.has(all)) {
    for (const target of spec.targets) {
      for (const removed of candidates) {
        const without = armId(candidates.filter((name) => name !== removed));
        // What task `removed` contributes to the target: all tasks against all but it.
        if (without && arms.has(without)) results.leave_one_out.push({ target, removed, arm: without, ...scorer.effect(all, without, [target], 'report') });
      }
    }
  }

  if (spec.designs.includes('incremental')) {
    for (const stage of incrementalStages(spec)) {
      const id = armId(candidates.filter((name) => stage.includes(name)));
      if (!arms.has(id)) continue;
      results.incremental.push({ arm: id, tasks: stage, scores: Object.fromEntries(spec.targets.map((target) => [target, summarize(scorer.table(id, target, 'report'), hashLabel(`incremental:${id}:${target}`))])) });
    }
  }

  // The recommendation is chosen on the selection part only; its reported scores come from the report part.
  const eligible = finished.filter((id) => spec.targets.every((target) => arms.get(id)![0]!.tasks.includes(target)));
  if (eligible.length > 0) {
    const best = eligible.reduce((top, id) => (scorer.targetScore(id, 'selection') > scorer.targetScore(top, 'selection') ? id : top));
    const scores = (part: Part) => Object.fromEntries(spec.targets.map((target) => [target, mean(scorer.table(best, target, part))]));
    results.recommended = { arm: best, tasks: arms.get(best)![0]!.tasks, selection_scores: scores('selection'), report_scores: scores('report') };
  }
  return results;
}
