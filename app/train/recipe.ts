/**
 * The recipe: one JSON document that fully describes a run (recipe.schema.json). The studio saves
 * and loads it, the CLI runs it, a checkpoint records its hash. Validation reports every problem at
 * once, each with the JSON path of the field at fault.
 */
import type { ErrorObject } from 'ajv';
import type { FileFormat, TextSplitting } from '../data/index.ts';
import { CocktailError } from '../errors.ts';
import type { LoraTarget } from '../model/config.ts';
import schema from './recipe.schema.json';
// Compiled ahead of time (recipe-validator-code.ts), so no validator is built with new Function at run time.
import validateSchema from './recipe-validator.js';
import { RECIPE_LIMITS, recipeSizeProblems } from './recipe-size.ts';

export type TaskFormat = 'tokens' | 'instruction' | 'messages' | 'prompt_completion' | 'text' | 'classification' | 'qa';
export type MixtureStrategyName = 'proportional' | 'uniform' | 'temperature' | 'annealed' | 'reverse_annealed' | 'round_robin' | 'manual' | 'sequential' | 'adaptive';

/** The strategies adaptive mixing can start from: those that draw tasks by probability. */
export type AdaptiveBaseName = 'proportional' | 'uniform' | 'temperature' | 'annealed' | 'reverse_annealed' | 'manual';

export interface RecipeAdaptive {
  base: AdaptiveBaseName;
  rise_threshold: number;
  factor: number;
  rule: 'none' | 'distance' | 'remaining';
  rule_temperature: number;
  min_share: number;
  max_share: number;
}

export interface RecipeBestCheckpoint {
  by: 'loss' | 'score';
  tasks?: string[];
  patience?: number;
}

export interface RecipeTask {
  name: string;
  source:
    | {
        file: string;
        validation_file?: string;
        delimiter?: string;
        header?: boolean;
        /** How the file(s) are read; unset: detected from name and content, as the importer does. */
        file_format?: FileFormat;
        /** Only with file_format "text". */
        splitting?: TextSplitting;
      }
    | { hub: string; config: string; split: string; validation_split?: string };
  format: TaskFormat;
  columns?: Record<string, string | number>;
  template?: string;
  labels?: Record<string, string>;
  metric?: 'loss' | 'accuracy' | 'exact_match' | 'numeric_match' | 'rouge_l';
  role: 'task' | 'regularizer';
  validation_fraction: number;
  max_examples?: number;
  drop_duplicates?: boolean;
}

export interface Recipe {
  name?: string;
  /** dtype int8/int4 quantizes the frozen projections on upload; group_size and symmetric are int4's (app/model/quantization.ts). */
  model: { source: string; revision: string; dtype?: 'f32' | 'bf16' | 'f16' | 'int8' | 'int4'; group_size?: 32 | 64 | 128; symmetric?: boolean };
  tasks: RecipeTask[];
  mixture: { strategy: MixtureStrategyName; temperature?: number; cap?: number; weights?: Record<string, number>; per: 'example' | 'batch'; regularizer_share?: number; adaptive?: RecipeAdaptive };
  lora: { r: number; alpha: number; dropout: number; targets: LoraTarget[]; rslora: boolean; layout: 'shared' | 'per_task'; init_from?: string };
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  schedule: { kind: 'constant' | 'linear' | 'cosine'; warmup_steps: number };
  batch_size: number;
  grad_accum: number;
  max_length: number;
  /** An example longer than max_length: cut from the end of its answer, or dropped. */
  overlong: 'truncate' | 'drop';
  packing: boolean;
  train_on_prompts: boolean;
  steps?: number;
  epochs?: number;
  clip: number;
  nonfinite: 'skip' | 'stop';
  recompute: boolean;
  eval_every: number;
  eval_examples: number;
  eval_whole_split: boolean;
  eval_label_scoring: 'sum' | 'per_token';
  eval_max_new_tokens: number;
  checkpoint_every: number;
  keep_checkpoints: number;
  seed: number;
  best_checkpoint?: RecipeBestCheckpoint;
}

export interface RecipeProblem {
  /** JSON path of the field, e.g. "tasks[1].format". */
  path: string;
  message: string;
}

export class RecipeError extends CocktailError {
  constructor(
    fileName: string,
    readonly problems: RecipeProblem[],
  ) {
    super('RECIPE_INVALID', `${fileName} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.path || '(recipe)'}: ${p.message}`).join('\n')}`, {
      file: fileName,
      problems,
    });
  }
}

export { schema as RECIPE_SCHEMA };

/** Parses and validates a recipe (text or already-parsed JSON); returns it with every default filled in. */
export function parseRecipe(input: string | unknown, fileName = 'recipe.json'): Recipe {
  let raw: unknown = input;
  if (typeof input === 'string') {
    // Refused before it is parsed: a recipe file of megabytes is not one.
    if (input.length > RECIPE_LIMITS.bytes) throw new RecipeError(fileName, recipeSizeProblems(undefined, input.length));
    try {
      raw = JSON.parse(input);
    } catch (error) {
      throw new RecipeError(fileName, [{ path: '', message: `not valid JSON (${(error as Error).message})` }]);
    }
  }
  const tooLarge = recipeSizeProblems(raw, typeof input === 'string' ? input.length : undefined);
  if (tooLarge.length > 0) throw new RecipeError(fileName, tooLarge);
  // Ajv fills defaults in place: work on a copy so the caller's object is not changed.
  const recipe = structuredClone(raw) as Record<string, unknown>;
  if (recipe && typeof recipe === 'object' && !Array.isArray(recipe)) {
    for (const section of ['mixture', 'lora', 'optimizer', 'schedule'] as const) recipe[section] ??= {};
    // Ajv fills defaults only in objects that exist: an adaptive mixture gets its options filled too.
    const mixture = recipe.mixture as Record<string, unknown>;
    if (mixture && typeof mixture === 'object' && mixture.strategy === 'adaptive') mixture.adaptive ??= {};
  }
  const problems: RecipeProblem[] = validateSchema(recipe) ? [] : simplify(validateSchema.errors ?? []);
  if (problems.length === 0) problems.push(...semanticProblems(recipe as unknown as Recipe));
  else problems.push(...lengthProblems(recipe));
  if (problems.length > 0) throw new RecipeError(fileName, problems);
  fillHubDefaults(recipe as unknown as Recipe);
  return recipe as unknown as Recipe;
}

/** Ajv fills no defaults inside a oneOf, so a Hub source gets the schema's config and split here. */
function fillHubDefaults(recipe: Recipe): void {
  for (const task of recipe.tasks) {
    if ('hub' in task.source) {
      task.source.config ??= 'default';
      task.source.split ??= 'train';
    }
  }
}

/** Rules JSON Schema cannot say: unique names, weights that name tasks, steps or epochs. */
function semanticProblems(recipe: Recipe): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const names = recipe.tasks.map((task) => task.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.push({ path: `tasks[${i}].name`, message: `"${name}" is used by another task; task names must be unique` });
  });
  problems.push(...lengthProblems(recipe as unknown as Record<string, unknown>));
  for (const key of ['group_size', 'symmetric'] as const) {
    if (recipe.model[key] !== undefined && recipe.model.dtype !== 'int4') {
      problems.push({ path: `model.${key}`, message: `applies to int4 weights only: set model.dtype to "int4", or remove it` });
    }
  }
  const { mixture } = recipe;
  if (mixture.strategy === 'temperature' && mixture.temperature === undefined) problems.push({ path: 'mixture.temperature', message: 'the temperature strategy needs a temperature (e.g. 2)' });
  if (mixture.strategy === 'adaptive') {
    if (mixture.adaptive?.base === 'temperature' && mixture.temperature === undefined) problems.push({ path: 'mixture.temperature', message: 'the adaptive strategy\'s temperature base needs a temperature (e.g. 2)' });
    recipe.tasks.forEach((task, i) => {
      const hasValidation = task.validation_fraction > 0 || ('file' in task.source ? task.source.validation_file !== undefined : task.source.validation_split !== undefined);
      if (!hasValidation) problems.push({ path: `tasks[${i}].validation_fraction`, message: `adaptive mixing re-weights tasks from their validation loss, and task "${task.name}" has no validation split: give it a validation_fraction above 0 or a validation file` });
    });
  } else if (mixture.adaptive !== undefined) problems.push({ path: 'mixture.adaptive', message: 'applies to the "adaptive" strategy only: set mixture.strategy to "adaptive", or remove it' });
  for (const [i, name] of (recipe.best_checkpoint?.tasks ?? []).entries()) {
    if (!names.includes(name)) problems.push({ path: `best_checkpoint.tasks[${i}]`, message: `names no task; tasks are ${names.map((n) => `"${n}"`).join(', ')}` });
  }
  if (mixture.strategy === 'manual' || (mixture.strategy === 'adaptive' && mixture.adaptive?.base === 'manual')) {
    if (!mixture.weights) problems.push({ path: 'mixture.weights', message: 'the manual strategy needs a weight for every task' });
    else for (const name of names) if (!(name in mixture.weights)) problems.push({ path: 'mixture.weights', message: `has no weight for task "${name}"` });
  }
  for (const name of Object.keys(mixture.weights ?? {})) {
    if (!names.includes(name)) problems.push({ path: `mixture.weights.${name}`, message: `names no task; tasks are ${names.map((n) => `"${n}"`).join(', ')}` });
  }
  recipe.tasks.forEach((task, i) => {
    if ('file' in task.source && task.source.splitting !== undefined && task.source.file_format !== 'text') {
      problems.push({ path: `tasks[${i}].source.splitting`, message: 'applies to plain text only: give "file_format": "text" with it, or remove it' });
    }
    if (task.format === 'classification' && task.metric && !['accuracy', 'loss'].includes(task.metric)) {
      problems.push({ path: `tasks[${i}].metric`, message: `${task.metric} does not suit classification; use accuracy or loss` });
    }
  });
  if (recipe.schedule.warmup_steps > 0 && recipe.steps !== undefined && recipe.schedule.warmup_steps >= recipe.steps) {
    problems.push({ path: 'schedule.warmup_steps', message: `${recipe.schedule.warmup_steps} warmup steps leave nothing of ${recipe.steps} steps` });
  }
  return problems;
}

/** The run's length, checkable on any object, so it is reported alongside schema problems too. */
function lengthProblems(recipe: Record<string, unknown>): RecipeProblem[] {
  if (typeof recipe !== 'object' || recipe === null) return [];
  if (recipe.steps === undefined && recipe.epochs === undefined) return [{ path: 'steps', message: 'give "steps" or "epochs"' }];
  if (recipe.steps !== undefined && recipe.epochs !== undefined) return [{ path: 'epochs', message: 'give "steps" or "epochs", not both' }];
  return [];
}

/** Ajv reports a oneOf failure as every branch's errors; keep the ones a person can act on. */
function simplify(errors: ErrorObject[]): RecipeProblem[] {
  const seen = new Set<string>();
  const problems: RecipeProblem[] = [];
  for (const error of errors) {
    if (error.keyword === 'oneOf') continue;
    const path = toPath(error.instancePath);
    let message = error.message ?? 'is invalid';
    if (error.keyword === 'additionalProperties') message = `unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"`;
    if (error.keyword === 'enum') message = `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    if (error.keyword === 'required') message = `needs "${(error.params as { missingProperty: string }).missingProperty}"`;
    if (error.keyword === 'minItems') {
      const limit = (error.params as { limit: number }).limit;
      message = path === 'tasks' ? 'add at least one task' : `needs at least ${limit} item${limit === 1 ? '' : 's'}`;
    }
    if (error.keyword === 'minimum' || error.keyword === 'maximum' || error.keyword === 'exclusiveMinimum' || error.keyword === 'exclusiveMaximum') {
      const { comparison, limit } = error.params as { comparison: string; limit: number };
      message = `must be ${{ '>=': 'at least', '<=': 'at most', '>': 'more than', '<': 'less than' }[comparison] ?? comparison} ${limit}`;
    }
    const key = `${path}|${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push({ path, message });
    }
  }
  return problems;
}

function toPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

/** A stable hash of the recipe's content (key order ignored), for checkpoints to refuse a different recipe. */
export async function recipeHash(recipe: Recipe): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(recipe)));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
