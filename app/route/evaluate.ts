/**
 * A router measured on each expert's task's validation prompts: routing accuracy and the confusion
 * matrix (task → expert that answered), and the task's metric four ways: routed (each prompt answered
 * by whom the router chose), oracle (the expert the task is assigned to: its own adapter, the shared
 * one or base), shared (the cocktail adapter, when given) and base (no adapter). Routing regret =
 * oracle − routed for metrics where higher is better, routed − oracle for the loss, so a positive
 * regret always means the router cost something; whether it is more than noise is a paired test over
 * the same prompts (regret.ts).
 *
 * Each prompt is answered at most once by each expert: the oracle's answers are the routed answers of
 * every prompt routed to the task's own expert (so those prompts tie exactly), and an oracle that is the
 * shared adapter or base is not scored twice. Only the metric is computed (no loss pass).
 */
import type { Example } from '../data/example.ts';
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { uploadLoraChecked, type GpuLora } from '../model/lora-gpu.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { Evaluator, type LabelScoring } from '../train/evaluate.ts';
import { evaluationSample } from '../train/eval-sample.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { expertOfTask } from './assignment.ts';
import { combineAdapters } from './combine.ts';
import { BASE_EXPERT, type RoutingDecision } from './decide.ts';
import { routerInputText } from './prompt.ts';
import { regretTest, type RegretTest } from './regret.ts';
import { routePrompts, routerTasks, type Router } from './router.ts';

export interface RouterEvalTask {
  task: PreparedTask;
  /** The task's validation examples before tokenization (their rows match task.validation's). */
  validation: readonly Example[];
}

export interface TaskRouting extends RegretTest {
  metric: PreparedTask['metric'];
  examples: number;
  routing_accuracy: number;
  routed: number;
  oracle: number;
  shared: number | null;
  base: number;
  regret: number;
  /** Classification tasks: how the label words were scored (the recipe's eval_label_scoring), as the evaluator reports it. */
  label_scoring?: LabelScoring;
}

export interface RouterEvaluation {
  routing_accuracy: number;
  /** confusion[task][expert]: validation prompts of the task answered by the expert. */
  confusion: Record<string, Record<string, number>>;
  tasks: Record<string, TaskRouting>;
}

export interface RouterEvalOptions {
  /** How many validation examples of each task to route and score, or the whole split. */
  examples: number | 'all';
  /** The recipe's seed: the prompts are the same seeded, label-stratified sample a run evaluates. */
  seed: number;
  maxNewTokens: number;
  /** Classification tasks: label words scored by their summed or per-token log-probability (the recipe's eval_label_scoring; default sum). */
  labelScoring?: LabelScoring;
  /** The evaluator's batch shape (evaluationShape of the recipe). */
  shape: { B: number; T: number };
  signal?: AbortSignal;
  onTask?: (task: string, result: TaskRouting) => void;
  /** After each batch of answers: the task, who answered (an expert, "shared", "base" or "mixture") and how many prompts. */
  onScored?: (task: string, answeredBy: string, prompts: number) => void;
  /**
   * Scores already computed with these options, by adapter (undefined: base), task and prompt; new
   * ones are added. Evaluating another router over the same experts and prompts reuses them.
   */
  cache?: ScoreCache;
}

/** Per-prompt metric scores by who answered (the adapter object; undefined for base), then `task/index`. */
export type ScoreCache = Map<LoraAdapter | undefined, Map<string, number>>;

export async function evaluateRouter(
  ctx: GpuContext,
  model: GpuModel,
  tokenizer: TextTokenizer,
  router: Router,
  adapters: ReadonlyMap<string, LoraAdapter>,
  shared: LoraAdapter | undefined,
  tasks: readonly RouterEvalTask[],
  options: RouterEvalOptions,
): Promise<RouterEvaluation> {
  const assignment = routerTasks(router);
  // The oracle of a task is the expert it was assigned to (its own adapter, the shared one, or base).
  const oracleOf = (task: string) => expertOfTask(router.experts, assignment, task);
  const routed = tasks.filter(({ task }) => oracleOf(task.name) !== undefined);
  if (routed.length === 0) throw new CocktailError('ROUTER_NO_TASKS', `none of the recipe's tasks (${tasks.map(({ task }) => task.name).join(', ')}) teaches an expert of this router (${router.experts.map((name, index) => `${name}: ${assignment[index]!.join('+')}`).join(', ')})`, {});
  const evaluators = new Map<number, Evaluator>();
  const evaluatorFor = (rank: number) => {
    let evaluator = evaluators.get(rank);
    if (!evaluator) evaluators.set(rank, (evaluator = new Evaluator(ctx, model, tokenizer, options.shape, rank)));
    return evaluator;
  };
  const uploads: GpuLora[] = [];
  const onGpu = new Map<LoraAdapter, GpuLora>();
  const upload = async (adapter: LoraAdapter) => {
    let lora = onGpu.get(adapter);
    if (!lora) {
      lora = await uploadLoraChecked(ctx, adapter, { training: false });
      uploads.push(lora);
      onGpu.set(adapter, lora);
    }
    return lora;
  };
  const cache: ScoreCache = options.cache ?? new Map();
  /** Per task, how the evaluator scored its label words (classification tasks only). */
  const labelScoringOf = new Map<string, LabelScoring>();
  /**
   * Per-example scores of `indices` (ascending) of the task's validation prompts, answered with `adapter`
   * (none: base); only prompts this adapter has not answered yet are run.
   */
  const scores = async (task: PreparedTask, indices: readonly number[], adapter: LoraAdapter | undefined, answeredBy: string): Promise<number[]> => {
    let known = cache.get(adapter);
    if (!known) cache.set(adapter, (known = new Map()));
    const keyOf = (index: number) => `${task.name}/${index}`;
    const missing = indices.filter((index) => !known.has(keyOf(index)));
    if (missing.length > 0) {
      // The missing prompts as a task of their own, scored whole: the split they came from is not resampled.
      const { validationSample: _sample, validationSplit: _split, ...rest } = task;
      const subset: PreparedTask = { ...rest, validation: missing.map((i) => task.validation[i]!), validationPrompts: task.validationPrompts.length > 0 ? missing.map((i) => task.validationPrompts[i]!) : [] };
      const lora = adapter ? await upload(adapter) : undefined;
      const evaluation = await evaluatorFor(adapter?.config.r ?? 0).evaluateTask(subset, lora, { examples: 'all', maxNewTokens: options.maxNewTokens, perExample: true, metricOnly: true, ...(options.labelScoring ? { labelScoring: options.labelScoring } : {}), ...(options.signal ? { signal: options.signal } : {}) });
      if (evaluation.labelScoring) labelScoringOf.set(task.name, evaluation.labelScoring);
      evaluation.perExample!.scores.forEach((score, i) => known.set(keyOf(missing[i]!), score));
      options.onScored?.(task.name, answeredBy, missing.length);
    }
    return indices.map((index) => known.get(keyOf(index))!);
  };
  const adapterOf = (name: string): LoraAdapter | undefined => {
    if (name === BASE_EXPERT) return undefined;
    const adapter = name === router.policy.fallback && shared ? shared : adapters.get(name);
    if (!adapter) throw new CocktailError('ROUTER_BUNDLE_INCOMPLETE', `the router chose "${name}", which has no adapter here`, { expert: name });
    return adapter;
  };

  try {
    const confusion: Record<string, Record<string, number>> = {};
    const results: Record<string, TaskRouting> = {};
    let right = 0;
    let total = 0;
    for (const { task, validation } of routed) {
      // A prefix of a label-sorted file would route one class only: score the run's own fair sample.
      const sampleIndices = evaluationSample(task, options.examples, options.seed).indices;
      const sampled = sampleIndices.map((i) => task.validation[i]!);
      const count = sampled.length;
      const byRow = new Map(validation.map((example) => [example.source.row, example]));
      const texts = sampled.map((item) => {
        const example = byRow.get(item.source.row);
        const text = example && routerInputText(example, router.input);
        if (text === undefined) throw new CocktailError('ROUTER_NO_PROMPT', `task "${task.name}", row ${item.source.row}: the validation example has no prompt to route`, { task: task.name, row: item.source.row });
        return text;
      });
      const decisions = await routePrompts(ctx, model, tokenizer, router, texts, options.signal ? { signal: options.signal } : {});
      const row: Record<string, number> = {};
      for (const decision of decisions) row[decision.chosen] = (row[decision.chosen] ?? 0) + 1;
      confusion[task.name] = row;
      const oracleExpert = oracleOf(task.name)!;
      const correct = decisions.filter((decision) => decision.chosen === oracleExpert).length;
      right += correct;
      total += decisions.length;

      const all = sampleIndices;
      // The oracle first: the prompts routed to the task's own expert then take its answers.
      const oracleScores = await scores(task, all, adapterOf(oracleExpert), oracleExpert);
      const routedScores = new Array<number>(count);
      for (const [key, group] of answerGroups(decisions)) {
        const adapter = group.mixture ? combineAdapters(group.mixture.map(({ expert, weight }) => ({ adapter: adapterOf(expert), weight })), model.config.numLayers) : adapterOf(key);
        (await scores(task, group.indices.map((i) => sampleIndices[i]!), adapter, group.mixture ? 'mixture' : key)).forEach((score, i) => (routedScores[group.indices[i]!] = score));
      }
      const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      const routedScore = mean(routedScores);
      const oracle = mean(oracleScores);
      const result: TaskRouting = {
        metric: task.metric,
        examples: count,
        routing_accuracy: correct / count,
        routed: routedScore,
        oracle,
        shared: shared ? mean(await scores(task, all, shared, 'shared')) : null,
        base: mean(await scores(task, all, undefined, BASE_EXPERT)),
        regret: task.metric === 'loss' ? routedScore - oracle : oracle - routedScore,
        ...regretTest(routedScores, oracleScores, task.metric, { task: task.name, seed: options.seed }),
        ...(labelScoringOf.has(task.name) ? { label_scoring: labelScoringOf.get(task.name)! } : {}),
      };
      results[task.name] = result;
      options.onTask?.(task.name, result);
    }
    return { routing_accuracy: right / total, confusion, tasks: results };
  } finally {
    for (const evaluator of evaluators.values()) evaluator.destroy();
    for (const lora of uploads) lora.destroy();
  }
}

/** Prompts answered the same way (one expert, or one mixture of experts and weights), with their indices. */
function answerGroups(decisions: readonly RoutingDecision[]): Map<string, { indices: number[]; mixture?: RoutingDecision['mixture'] }> {
  const groups = new Map<string, { indices: number[]; mixture?: RoutingDecision['mixture'] }>();
  decisions.forEach((decision, index) => {
    const key = decision.mixture ? JSON.stringify(decision.mixture) : decision.chosen;
    const group = groups.get(key) ?? { indices: [], ...(decision.mixture ? { mixture: decision.mixture } : {}) };
    group.indices.push(index);
    groups.set(key, group);
  });
  return groups;
}
