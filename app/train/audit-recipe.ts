/**
 * The audit of a recipe (app/audit) on its prepared tasks, so it sees exactly what training sees.
 * Each task is prepared on its own: one that fails is reported with its error and the others are
 * still audited. With storage, each task's audit is cached next to its tokenized data, under a key
 * made of the tokenization cache keys of its two parts (which fix the rows) and the audit's settings.
 */
import { runAudit, type AuditProgress, type AuditReport, type AuditTaskInput, type TaskAuditCache, type TaskAuditCore, type TermCategory } from '../audit/index.ts';
import { canonicalJson, sha256Hex } from '../data/tokenize/hash.ts';
import { TOKENIZED_KEY_PREFIX } from '../data/tokenize/cache.ts';
import { CocktailError, toErrorReport } from '../errors.ts';
import type { MixPlan } from '../mix/types.ts';
import type { Json, Storage } from '../store/storage.ts';
import { mixPlan, optimizerStepsFor } from './mixture.ts';
import { prepareTasks, type PrepareOptions } from './prepare.ts';
import type { Recipe } from './recipe.ts';

/** Raise when the audit's results for the same rows change, so cached ones are made again. */
export const AUDIT_VERSION = 2;
const AUDIT_KEY_PREFIX = `${TOKENIZED_KEY_PREFIX}audit/`;

export interface AuditRecipeOptions {
  readonly terms: readonly TermCategory[];
  readonly onProgress?: (progress: AuditProgress) => void;
  /** The model's context (max_position_embeddings), so no finding suggests a max_length a run would clamp. */
  readonly contextLength?: number;
}

/** `prepare` is what a run prepares its tasks with (its onProgress is replaced by the audit's). */
export async function auditRecipe(recipe: Recipe, prepare: PrepareOptions, options: AuditRecipeOptions): Promise<AuditReport> {
  const inputs: AuditTaskInput[] = [];
  const cacheKeys = new Map<string, string>();
  const failed: AuditReport['failed'] = [];
  for (const task of recipe.tasks) {
    try {
      const prepared = await prepareTasks(
        { ...recipe, tasks: [task] },
        { ...prepare, keepExamples: true, onProgress: (progress) => options.onProgress?.({ task: task.name, stage: 'prepare', done: progress.done, total: progress.total }) },
      );
      const [tokenized] = prepared.tasks;
      const [examples] = prepared.examples!;
      const [report] = prepared.reports;
      inputs.push({ name: task.name, role: task.role, train: examples!.train, validation: examples!.validation, tokenizedTrain: tokenized!.train, tokenizedValidation: tokenized!.validation, droppedLengths: [...report!.tokenize.train.droppedLengths, ...report!.tokenize.validation.droppedLengths], maxLength: recipe.max_length });
      if (report!.cache) cacheKeys.set(task.name, `${report!.cache.train.key}|${report!.cache.validation.key}`);
    } catch (error) {
      if (error instanceof CocktailError && (error.code === 'CANCELLED' || error.code === 'DATA_CANCELLED')) throw error;
      const report = toErrorReport(error);
      failed.push({ task: task.name, code: report.code, message: report.message });
    }
  }
  const terms = options.terms;
  return runAudit(inputs, failed, {
    terms,
    plan: planOf(recipe, inputs),
    ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
    ...(prepare.storage ? { cache: storageCache(prepare.storage, cacheKeys, terms) } : {}),
    ...(prepare.signal ? { signal: prepare.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/** The run's mixture over the tasks that prepared; null when it cannot be formed (its problem is the recipe's to report). */
function planOf(recipe: Recipe, inputs: readonly AuditTaskInput[]): MixPlan | null {
  if (inputs.length === 0) return null;
  const tasks = inputs.map((input) => ({ name: input.name, examples: input.train.length, role: input.role }));
  const prepared = recipe.tasks.filter((task) => inputs.some((input) => input.name === task.name));
  const weights = recipe.mixture.weights ? Object.fromEntries(Object.entries(recipe.mixture.weights).filter(([name]) => inputs.some((input) => input.name === name))) : undefined;
  const partial: Recipe = { ...recipe, tasks: prepared, mixture: { ...recipe.mixture, ...(weights ? { weights } : {}) } };
  try {
    return mixPlan(partial, tasks, optimizerStepsFor(partial, tasks.reduce((sum, task) => sum + task.examples, 0)));
  } catch {
    return null;
  }
}

function storageCache(storage: Storage, cacheKeys: ReadonlyMap<string, string>, terms: readonly TermCategory[]): TaskAuditCache {
  const keyOf = async (task: AuditTaskInput): Promise<string | undefined> => {
    const rows = cacheKeys.get(task.name);
    if (rows === undefined) return undefined;
    const settings = { version: AUDIT_VERSION, rows, role: task.role, maxLength: task.maxLength, terms: terms.map((term) => ({ category: term.category, terms: term.terms })) };
    return AUDIT_KEY_PREFIX + (await sha256Hex(canonicalJson(settings as unknown as Json)));
  };
  return {
    async get(task) {
      const key = await keyOf(task);
      const info = key ? await storage.getInfo<Json>('datasets', key) : undefined;
      if (!info) return undefined;
      const audit = info.meta as unknown as TaskAuditCore;
      // The task's name is not part of the key (renaming a task keeps its rows); the report uses the current one.
      return { ...audit, task: task.name };
    },
    async put(task, audit) {
      const key = await keyOf(task);
      if (key) await storage.put('datasets', key, audit as unknown as Json);
    },
  };
}
