/**
 * Evaluations made on the Evaluate page (the base model, a library adapter, a run evaluated again),
 * kept in localStorage so they are still there to compare after a reload, as runs' own evaluations
 * are. They are small (per-task scores and a few samples); the newest MAX_SAVED_EVALUATIONS are kept.
 * What is read back is checked item by item: a damaged entry is dropped, never the rest.
 */
import type { EvalEvent } from '../train/run.ts';

export const EVALUATIONS_STORAGE_KEY = 'cocktail.evaluations.v1';
export const MAX_SAVED_EVALUATIONS = 50;

export interface SavedEvaluation {
  id: string;
  /** "Base model", "Adapter run-…/shared", "run-… (evaluated again)". */
  label: string;
  /** What was evaluated: the model, and the adapter when there was one. */
  model: string;
  adapterKey?: string;
  evaluation: EvalEvent;
  finishedAt: number;
}

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

export function loadSavedEvaluations(store: KeyValueStore | undefined = globalThis.localStorage): SavedEvaluation[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(store?.getItem(EVALUATIONS_STORAGE_KEY) ?? '[]');
  } catch {
    return [];
  }
  return Array.isArray(parsed) ? parsed.filter(isSavedEvaluation).map(reviveNonFinite) : [];
}

/** Keeps the newest MAX_SAVED_EVALUATIONS; false when the browser would not store them (full or disabled). */
export function saveEvaluations(evaluations: readonly SavedEvaluation[], store: KeyValueStore | undefined = globalThis.localStorage): boolean {
  try {
    store?.setItem(EVALUATIONS_STORAGE_KEY, JSON.stringify(evaluations.slice(-MAX_SAVED_EVALUATIONS)));
    return store !== undefined;
  } catch {
    return false;
  }
}

function isSavedEvaluation(value: unknown): value is SavedEvaluation {
  if (typeof value !== 'object' || value === null) return false;
  const item = value as Record<string, unknown>;
  const evaluation = item.evaluation as Record<string, unknown> | null | undefined;
  return (
    typeof item.id === 'string' &&
    typeof item.label === 'string' &&
    typeof item.model === 'string' &&
    (item.adapterKey === undefined || typeof item.adapterKey === 'string') &&
    typeof item.finishedAt === 'number' &&
    typeof evaluation === 'object' &&
    evaluation !== null &&
    typeof evaluation.step === 'number' &&
    Array.isArray(evaluation.tasks) &&
    evaluation.tasks.every(isTaskEvaluation)
  );
}

/** JSON writes NaN and ±Infinity as null; a score that was not a number reads back as NaN. */
const numberOrNull = (value: unknown) => typeof value === 'number' || value === null;

function reviveNonFinite(saved: SavedEvaluation): SavedEvaluation {
  const tasks = saved.evaluation.tasks.map((task) => ({ ...task, loss: task.loss ?? Number.NaN, score: task.score ?? Number.NaN }));
  return { ...saved, evaluation: { ...saved.evaluation, tasks } };
}

function isTaskEvaluation(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const task = value as Record<string, unknown>;
  return (
    typeof task.task === 'string' &&
    typeof task.metric === 'string' &&
    numberOrNull(task.loss) &&
    numberOrNull(task.score) &&
    typeof task.examples === 'number' &&
    Array.isArray(task.samples)
  );
}
