/**
 * The Router page's logic without React: which library adapters can answer which of a run's tasks,
 * the request the page sends (or the reasons it cannot yet), the ETA of the head's training, and the
 * confusion matrix as heatmap cells. The engine checks everything again; these give the page its words
 * before anything runs.
 */
import type { LayerResult } from '../route/layers.ts';
import type { RouterLayersRequest, RouterRecord, RouterTrainRequest, RunRecord } from '../../workers/protocol.ts';
import type { AdapterItem } from './library-items.ts';

export interface RouterSettings {
  name: string;
  /** The run whose recipe teaches the router and whose adapters are offered first. */
  runId?: string;
  /**
   * Per task of the run's recipe, who answers it and so which expert its prompts teach: a library
   * adapter's key, BASE_CHOICE (the model with no adapter), SHARED_CHOICE (the shared adapter,
   * sharedKey), or '' / absent (not routed). Tasks given the same answer teach one expert.
   */
  experts: Record<string, string>;
  fallback: RouterTrainRequest['fallback'];
  /** The shared cocktail adapter: an expert where a task chose SHARED_CHOICE, and the "shared" fallback. */
  sharedKey?: string;
  balance: RouterTrainRequest['balance'];
  /** hidden_states index; undefined: the middle layer. */
  layer?: number;
  pooling: RouterTrainRequest['pooling'];
  /** Units of a relu hidden layer; 0: a linear head. */
  hidden: number;
  temperature: number;
  threshold: number;
  /** How many of the most probable experts answer together (1: the top one alone). */
  topK: number;
  maxSteps: number;
}

/** A task answered by the base model with no adapter (the expert "base"). */
export const BASE_CHOICE = ':base';
/** A task answered by the shared cocktail adapter (the expert "shared"). */
export const SHARED_CHOICE = ':shared';

export const DEFAULT_ROUTER_SETTINGS: RouterSettings = {
  name: '',
  experts: {},
  fallback: null,
  balance: 'balanced',
  pooling: 'mean',
  hidden: 0,
  temperature: 1,
  threshold: 0,
  topK: 1,
  maxSteps: 400,
};

/** The task names of a run's recipe, in order. */
export function runTasks(run: Pick<RunRecord, 'recipe'>): string[] {
  const tasks = (run.recipe as { tasks?: { name?: unknown }[] } | undefined)?.tasks ?? [];
  return tasks.map((task) => String(task.name));
}

/** The run's model source, as its adapters name their base. */
export function runModel(run: Pick<RunRecord, 'recipe'>): string | undefined {
  const source = (run.recipe as { model?: { source?: unknown } } | undefined)?.model?.source;
  return typeof source === 'string' ? source : undefined;
}

/** Runs that trained one adapter per task (lora.layout "per_task") and finished with their adapters. */
export function perTaskRuns(runs: readonly RunRecord[]): RunRecord[] {
  return runs.filter((run) => (run.recipe as { lora?: { layout?: unknown } } | undefined)?.lora?.layout === 'per_task' && run.adapterKeys.length >= 2);
}

/** Library adapters an expert of this run may be: trained on the same base model (or of unknown base, checked by the engine). */
export function candidateAdapters(run: Pick<RunRecord, 'recipe'>, adapters: readonly AdapterItem[]): AdapterItem[] {
  const model = runModel(run);
  return adapters.filter((adapter) => adapter.baseModel === undefined || adapter.baseModel === model);
}

/** Each task answered by the run's own adapter of that task, where the run has one. */
export function defaultExperts(run: Pick<RunRecord, 'runId' | 'recipe' | 'adapterKeys'>): Record<string, string> {
  return Object.fromEntries(runTasks(run).flatMap((task) => (run.adapterKeys.includes(`${run.runId}/${task}`) ? [[task, `${run.runId}/${task}`]] : [])));
}

/**
 * The router's experts from the per-task choices, in the order of the tasks: tasks with the same answer
 * form one expert, named "base" (no adapter), "shared" (the shared adapter) or after its first task.
 */
export function plannedExperts(settings: Pick<RouterSettings, 'experts' | 'sharedKey'>, tasks: readonly string[]): RouterTrainRequest['experts'] {
  const experts: (RouterTrainRequest['experts'][number] & { choice: string; tasks: string[] })[] = [];
  for (const task of tasks) {
    const choice = settings.experts[task];
    if (!choice) continue;
    const same = experts.find((expert) => expert.choice === choice);
    if (same) same.tasks.push(task);
    else if (choice === BASE_CHOICE) experts.push({ choice, name: 'base', adapterKey: null, tasks: [task] });
    else if (choice === SHARED_CHOICE) experts.push({ choice, name: 'shared', adapterKey: settings.sharedKey ?? '', tasks: [task] });
    else experts.push({ choice, name: task, adapterKey: choice, tasks: [task] });
  }
  return experts.map(({ name, adapterKey, tasks: taught }) => ({ name, adapterKey, tasks: taught }));
}

/** The request for the engine, or what stops it (in the words the page shows). */
export function routerRequest(settings: RouterSettings, run: RunRecord | undefined): { request?: RouterTrainRequest; problems: string[] } {
  const problems: string[] = [];
  if (!run) return { problems: ['choose a run whose tasks teach the router'] };
  if (settings.name.trim() === '') problems.push('give the router a name');
  const experts = plannedExperts(settings, runTasks(run));
  if (experts.length < 2) problems.push(`choose an adapter for at least two tasks: a router chooses between at least two experts (${experts.length} chosen)`);
  const clash = experts.find((expert, index) => experts.findIndex((other) => other.name === expert.name) !== index);
  if (clash) problems.push(`the task “${clash.name}” shares its name with the ${clash.name === 'base' ? 'base model' : 'shared adapter'} expert: answer it with the ${clash.name === 'base' ? 'base model' : 'shared adapter'} too, or rename the task`);
  if (experts.some((expert) => expert.name === 'shared' && expert.adapterKey === '')) problems.push('choose the shared adapter that answers the tasks given to it');
  if (settings.threshold > 0 && settings.fallback === null) problems.push('a confidence threshold needs a fallback (the base model or a shared adapter) to answer below it');
  if (!(settings.threshold >= 0 && settings.threshold <= 1)) problems.push('the threshold is a probability from 0 to 1');
  if (settings.fallback === 'shared' && !settings.sharedKey) problems.push('choose the shared adapter that answers below the threshold');
  if (!(settings.temperature > 0)) problems.push('the temperature must be above 0');
  if (!(Number.isSafeInteger(settings.topK) && settings.topK >= 1 && settings.topK <= Math.max(1, experts.length))) problems.push(`mix at most as many experts as are chosen (${experts.length})`);
  if (!(Number.isSafeInteger(settings.hidden) && settings.hidden >= 0)) problems.push('hidden units must be a whole number (0 for a linear head)');
  if (!(Number.isSafeInteger(settings.maxSteps) && settings.maxSteps >= 10)) problems.push('train the head for at least 10 steps');
  if (problems.length > 0) return { problems };
  const sharedUsed = settings.fallback === 'shared' || experts.some((expert) => expert.name === 'shared');
  return {
    problems,
    request: {
      name: settings.name.trim(),
      recipe: run.recipe,
      experts,
      fallback: settings.fallback,
      ...(sharedUsed ? { sharedKey: settings.sharedKey! } : {}),
      balance: settings.balance,
      ...(settings.layer !== undefined ? { layer: settings.layer } : {}),
      pooling: settings.pooling,
      ...(settings.hidden > 0 ? { hidden: settings.hidden } : {}),
      temperature: settings.temperature,
      threshold: settings.threshold,
      ...(settings.topK > 1 ? { topK: settings.topK } : {}),
      maxSteps: settings.maxSteps,
    },
  };
}

/** The poolings "Compare layers" tries: the form's own, or every one. */
export const ALL_POOLINGS: RouterLayersRequest['poolings'] = ['mean', 'last', 'mean_last'];

/**
 * The request "Compare layers" sends: the form's router at every layer, for its pooling or every
 * pooling; or what stops it. The router needs no name until it is trained.
 */
export function layerComparisonRequest(settings: RouterSettings, run: RunRecord | undefined, everyPooling: boolean): { request?: RouterLayersRequest; problems: string[] } {
  const { request, problems } = routerRequest({ ...settings, name: settings.name.trim() || 'layer comparison' }, run);
  if (!request) return { problems };
  const { name: _name, layer: _layer, pooling, ...rest } = request;
  return { problems, request: { ...rest, poolings: everyPooling ? [pooling, ...ALL_POOLINGS.filter((other) => other !== pooling)] : [pooling] } };
}

/** "Use this layer": the form's settings with the compared layer and pooling. */
export function settingsForLayer(result: Pick<LayerResult, 'layer' | 'pooling'>): Pick<RouterSettings, 'layer' | 'pooling'> {
  return { layer: result.layer, pooling: result.pooling };
}

/**
 * A router's experts as the studio lists them: each name, followed by the tasks that taught it where
 * those are not just the task of its name ("fpb, base ← alpaca + dolly"). Records from before
 * assignments have no expertTasks: each expert learned from its own name's task.
 */
export function expertsLabel(record: Pick<RouterRecord, 'experts' | 'expertTasks'>): string {
  return record.experts
    .map((name, index) => {
      const tasks = record.expertTasks?.[index] ?? [name];
      return tasks.length === 1 && tasks[0] === name ? name : `${name} ← ${tasks.join(' + ')}`;
    })
    .join(', ');
}

/**
 * Seconds left of the head's training from the steps done so far: the pace since the first evaluation,
 * over the steps still allowed (early stopping may end it sooner). Undefined before two evaluations.
 */
export function headEtaSeconds(evaluations: readonly { step: number; at: number }[], maxSteps: number): number | undefined {
  if (evaluations.length < 2) return undefined;
  const first = evaluations[0]!;
  const last = evaluations.at(-1)!;
  if (last.step <= first.step) return undefined;
  const perStep = (last.at - first.at) / 1000 / (last.step - first.step);
  return Math.max(0, maxSteps - last.step) * perStep;
}

export interface ConfusionGrid {
  rows: string[];
  columns: string[];
  /** counts[row][column] */
  counts: number[][];
  /** Each row's count over its total (0 for an empty row). */
  shares: number[][];
}

/** The confusion matrix (task → who answered → count) as a grid: rows are the tasks, columns the experts and then any fallback that answered. */
export function confusionGrid(confusion: Readonly<Record<string, Readonly<Record<string, number>>>>, experts: readonly string[]): ConfusionGrid {
  const rows = Object.keys(confusion);
  const others = [...new Set(rows.flatMap((row) => Object.keys(confusion[row]!)))].filter((column) => !experts.includes(column)).sort();
  const columns = [...experts, ...others];
  const counts = rows.map((row) => columns.map((column) => confusion[row]![column] ?? 0));
  const shares = counts.map((line) => {
    const total = line.reduce((sum, count) => sum + count, 0);
    return line.map((count) => (total > 0 ? count / total : 0));
  });
  return { rows, columns, counts, shares };
}
