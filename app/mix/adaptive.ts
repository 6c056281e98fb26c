/**
 * Adaptive mixing: the base strategy's probabilities, re-weighted at each evaluation from every task's
 * validation loss (docs/audit-and-adaptive-mixing.md states the formulas).
 *
 *   pᵢ = bound( renormalize_within_role( baseᵢ(step) · wᵢ ) )        wᵢ = penaltyᵢ · driveᵢ
 *
 * - penalty: when Lᵢ > (1 + θ) · bestᵢ (bestᵢ the lowest validation loss of task i before this
 *   evaluation), penaltyᵢ ← penaltyᵢ · f, with 0 < f < 1. A task whose validation loss rises is
 *   overfitting (or being hurt by the others): it is drawn less.
 * - drive (optional rule, with temperature τ > 0): sᵢ = Lᵢ / bestᵢ − 1 ("distance", how far a task is
 *   from its best) or sᵢ = Lᵢ / startᵢ ("remaining", how much of its first loss is left);
 *   driveᵢ = n · exp(sᵢ/τ) / Σⱼ exp(sⱼ/τ), which averages 1. Without the rule driveᵢ = 1.
 * - bound: every task with a positive base probability gets a share in [min, max]; clamped tasks are
 *   fixed and the rest of the mass is shared by the others in proportion (water-filling).
 *
 * Pure arithmetic on the evaluation results, no random numbers: the same losses give the same weights,
 * and the whole state is plain JSON that round-trips exactly (checkpoints carry it).
 */
import { CocktailError } from '../errors.ts';

export type AdaptiveRule = 'none' | 'distance' | 'remaining';

export interface AdaptiveOptions {
  /** θ ≥ 0: a validation loss above (1 + θ) · best counts as a rise. */
  riseThreshold: number;
  /** f in (0, 1): what a rising task's weight is multiplied by. */
  factor: number;
  rule: AdaptiveRule;
  /** τ > 0 of the loss-driven rule; larger is gentler. */
  temperature: number;
  /** Smallest share any task with a positive base probability keeps, in [0, 1). */
  minShare: number;
  /** Largest share any task may get, in (0, 1]. */
  maxShare: number;
}

export const DEFAULT_ADAPTIVE_OPTIONS: AdaptiveOptions = { riseThreshold: 0.02, factor: 0.5, rule: 'none', temperature: 1, minShare: 0.02, maxShare: 0.9 };

/** One re-weighting: at which step, the new multipliers, and why each task's weight changed. */
export interface AdaptiveChange {
  step: number;
  multipliers: number[];
  reasons: { task: string; reason: string }[];
}

export interface AdaptiveState {
  version: 1;
  /** Product of the factors each task has been penalized with. */
  penalties: number[];
  /** Lowest validation loss seen per task; null before the first evaluation. */
  best: (number | null)[];
  /** First validation loss per task. */
  start: (number | null)[];
  /** wᵢ now. */
  multipliers: number[];
  history: AdaptiveChange[];
}

/** The problems of adaptive options, each with its field; empty when valid. */
export function adaptiveOptionProblems(options: AdaptiveOptions, taskCount: number): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  if (!(finite(options.riseThreshold) && options.riseThreshold >= 0)) problems.push({ field: 'adaptive.riseThreshold', message: `the rise threshold θ must be a number >= 0, got ${String(options.riseThreshold)}` });
  if (!(finite(options.factor) && options.factor > 0 && options.factor < 1)) problems.push({ field: 'adaptive.factor', message: `the factor f must be in (0, 1), got ${String(options.factor)}` });
  if (!['none', 'distance', 'remaining'].includes(options.rule)) problems.push({ field: 'adaptive.rule', message: `the rule must be "none", "distance" or "remaining", got ${JSON.stringify(options.rule)}` });
  if (!(finite(options.temperature) && options.temperature > 0)) problems.push({ field: 'adaptive.temperature', message: `the temperature τ must be > 0, got ${String(options.temperature)}` });
  const { minShare, maxShare } = options;
  if (!(finite(minShare) && minShare >= 0 && minShare < 1)) problems.push({ field: 'adaptive.minShare', message: `the minimum share must be in [0, 1), got ${String(minShare)}` });
  else if (minShare * taskCount > 1) problems.push({ field: 'adaptive.minShare', message: `a minimum share of ${minShare} for ${taskCount} tasks adds up to more than 1` });
  if (!(finite(maxShare) && maxShare > 0 && maxShare <= 1)) problems.push({ field: 'adaptive.maxShare', message: `the maximum share must be in (0, 1], got ${String(maxShare)}` });
  else if (maxShare * taskCount < 1) problems.push({ field: 'adaptive.maxShare', message: `a maximum share of ${maxShare} for ${taskCount} tasks cannot add up to 1` });
  if (finite(minShare) && finite(maxShare) && minShare > maxShare) problems.push({ field: 'adaptive.minShare', message: `the minimum share ${minShare} is above the maximum ${maxShare}` });
  return problems;
}

/**
 * Shares within [min, max] that stay proportional to `weights` elsewhere. Tasks of weight 0 stay at 0.
 * Each round fixes the tasks that fall outside the bounds at the bound and shares what is left among
 * the others; it ends when no free task falls outside (at most n rounds).
 */
export function boundedShares(weights: readonly number[], minShare: number, maxShare: number): number[] {
  const shares = new Array<number>(weights.length).fill(0);
  const free = new Set(weights.flatMap((weight, task) => (weight > 0 ? [task] : [])));
  let mass = 1;
  for (let round = 0; round <= weights.length; round++) {
    const total = [...free].reduce((sum, task) => sum + weights[task]!, 0);
    for (const task of free) shares[task] = (mass * weights[task]!) / total;
    const low = [...free].filter((task) => shares[task]! < minShare);
    const high = [...free].filter((task) => shares[task]! > maxShare);
    // Fix the side that is further out of bounds first; fixing both at once could overshoot.
    const fix = low.length > 0 && (high.length === 0 || lowExcess(low, shares, minShare) >= highExcess(high, shares, maxShare)) ? { tasks: low, at: minShare } : { tasks: high, at: maxShare };
    if (fix.tasks.length === 0) return shares;
    for (const task of fix.tasks) {
      shares[task] = fix.at;
      mass -= fix.at;
      free.delete(task);
    }
    if (free.size === 0) return shares;
  }
  return shares;
}

function lowExcess(tasks: readonly number[], shares: readonly number[], bound: number): number {
  return tasks.reduce((sum, task) => sum + bound - shares[task]!, 0);
}

function highExcess(tasks: readonly number[], shares: readonly number[], bound: number): number {
  return tasks.reduce((sum, task) => sum + shares[task]! - bound, 0);
}

/**
 * Base probabilities (already split by role) times the multipliers, renormalized so each role keeps
 * its base share, then bounded. A role whose multiplied weights are all 0 keeps its base probabilities.
 */
export function adaptiveProbabilities(base: readonly number[], multipliers: readonly number[], roles: readonly ('task' | 'regularizer')[], options: Pick<AdaptiveOptions, 'minShare' | 'maxShare'>): number[] {
  const weighted = base.map((p, task) => p * multipliers[task]!);
  for (const role of ['task', 'regularizer'] as const) {
    const members = roles.flatMap((r, task) => (r === role ? [task] : []));
    const baseTotal = members.reduce((sum, task) => sum + base[task]!, 0);
    const total = members.reduce((sum, task) => sum + weighted[task]!, 0);
    for (const task of members) weighted[task] = total > 0 ? (weighted[task]! * baseTotal) / total : base[task]!;
  }
  return boundedShares(weighted, options.minShare, options.maxShare);
}

export class AdaptiveMixer {
  private constructor(
    readonly names: readonly string[],
    readonly options: AdaptiveOptions,
    private current: AdaptiveState,
  ) {}

  static create(names: readonly string[], options: AdaptiveOptions): AdaptiveMixer {
    const problems = adaptiveOptionProblems(options, names.length);
    if (problems.length > 0) throw new CocktailError('MIX_ADAPTIVE_INVALID', problems.map((problem) => problem.message).join('; '), { field: problems[0]!.field });
    const n = names.length;
    return new AdaptiveMixer(names, { ...options }, { version: 1, penalties: new Array<number>(n).fill(1), best: new Array<null>(n).fill(null), start: new Array<null>(n).fill(null), multipliers: new Array<number>(n).fill(1), history: [] });
  }

  static fromState(names: readonly string[], options: AdaptiveOptions, state: AdaptiveState): AdaptiveMixer {
    const mixer = AdaptiveMixer.create(names, options);
    const n = names.length;
    const fits = (list: unknown): boolean => Array.isArray(list) && list.length === n;
    if (state?.version !== 1 || !fits(state.penalties) || !fits(state.best) || !fits(state.start) || !fits(state.multipliers) || !Array.isArray(state.history)) {
      throw new CocktailError('MIX_STATE_INVALID', `adaptive mixing state: expected version 1 with one entry per task (${n}), got ${JSON.stringify(state).slice(0, 120)}`, { field: 'adaptive' });
    }
    mixer.current = structuredClone(state);
    return mixer;
  }

  get multipliers(): readonly number[] {
    return this.current.multipliers;
  }

  state(): AdaptiveState {
    return structuredClone(this.current);
  }

  /**
   * Takes one evaluation's validation losses (task order) and returns the change it caused, or null
   * when every multiplier stayed the same. A task without a loss (null) is left as it is.
   */
  update(step: number, losses: readonly (number | null)[]): AdaptiveChange | null {
    const { riseThreshold, factor, rule, temperature } = this.options;
    const state = this.current;
    const reasons: { task: string; reason: string }[] = [];
    losses.forEach((loss, task) => {
      if (loss === null || !Number.isFinite(loss)) return;
      const best = state.best[task];
      if (best !== null && best !== undefined && loss > (1 + riseThreshold) * best) {
        state.penalties[task]! *= factor;
        reasons.push({ task: this.names[task]!, reason: `validation loss ${loss.toFixed(4)} rose above (1 + ${riseThreshold}) × its best ${best.toFixed(4)}: weight × ${factor}` });
      }
      state.best[task] = best === null || best === undefined ? loss : Math.min(best, loss);
      state.start[task] ??= loss;
    });
    const drive = rule === 'none' ? losses.map(() => 1) : this.drive(losses);
    const multipliers = state.penalties.map((penalty, task) => penalty * drive[task]!);
    if (rule !== 'none') {
      multipliers.forEach((multiplier, task) => {
        if (Math.abs(multiplier - state.multipliers[task]!) > 1e-12 && !reasons.some((reason) => reason.task === this.names[task])) {
          reasons.push({ task: this.names[task]!, reason: `${rule === 'distance' ? 'distance from its best' : 'loss left of its start'} drives its weight to × ${drive[task]!.toFixed(3)} (τ = ${temperature})` });
        }
      });
    }
    const changed = multipliers.some((multiplier, task) => multiplier !== state.multipliers[task]);
    state.multipliers = multipliers;
    if (!changed) return null;
    const change = { step, multipliers: [...multipliers], reasons };
    state.history.push(change);
    return structuredClone(change);
  }

  /** driveᵢ = n · softmax(sᵢ / τ); tasks without a loss (or a start) get 1 and stay out of the softmax. */
  private drive(losses: readonly (number | null)[]): number[] {
    const { rule, temperature } = this.options;
    const signal = losses.map((loss, task) => {
      const reference = rule === 'distance' ? this.current.best[task] : this.current.start[task];
      if (loss === null || !Number.isFinite(loss) || reference === null || reference === undefined || reference <= 0) return null;
      return rule === 'distance' ? loss / reference - 1 : loss / reference;
    });
    const scored = signal.flatMap((s) => (s === null ? [] : [s / temperature]));
    if (scored.length === 0) return losses.map(() => 1);
    const top = Math.max(...scored);
    const total = scored.reduce((sum, s) => sum + Math.exp(s - top), 0);
    return signal.map((s) => (s === null ? 1 : (scored.length * Math.exp(s / temperature - top)) / total));
  }
}
