/**
 * A router over task adapters: what it reads (the input text, the layer and pooling of the frozen base
 * model's hidden states), its head, and its policy (top-k, threshold, fallback). trainRouter builds
 * one from each expert's task's training examples; routePrompts routes typed prompts.
 */
import type { Example } from '../data/example.ts';
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { ownTasks, type ExpertTaskAssignment } from './assignment.ts';
import { routerSplit, type RouterBalance, type RouterSplit } from './balance.ts';
import { decide, type RoutingDecision, type RoutingPolicy } from './decide.ts';
import { featureWidth, routerFeatures, type FeatureSpec } from './features.ts';
import { headProbabilities, trainRouterHead, type HeadEvaluation, type HeadTrainingOptions, type RouterHead } from './head.ts';
import { routerInputText, routerPromptIds, truncationNotice, type RouterInput, type RouterPrompt } from './prompt.ts';

export interface Router {
  /** The routed experts, in the order of the head's outputs ("base": the model with no adapter). */
  experts: string[];
  /** Per expert, the tasks whose prompts taught it (absent: each expert's own name's task, as bundles before assignments mean). */
  tasks?: ExpertTaskAssignment;
  feature: FeatureSpec;
  input: RouterInput;
  head: RouterHead;
  policy: RoutingPolicy;
  /** The base model the experts and the features belong to. */
  baseModel: { name: string; revision: string | null };
  /** How it was trained: the balance, the counts per expert, the kept step and its held-out accuracy. */
  training?: RouterTrainingSummary;
}

export interface RouterTrainingSummary {
  balance: RouterBalance;
  oversample: boolean;
  trainCounts: number[];
  heldOutCounts: number[];
  bestStep: number;
  heldOutAccuracy: number;
  stoppedEarly: boolean;
}

/**
 * An expert and the training examples (the training split only) that teach it: those of the task of
 * its own name, or of each task assigned to it ("base" is the model with no adapter).
 */
export type ExpertTask = { name: string; train: readonly Example[] } | { name: string; tasks: readonly { name: string; train: readonly Example[] }[] };

const taughtBy = (expert: ExpertTask) => ('tasks' in expert ? expert.tasks : [{ name: expert.name, train: expert.train }]);

/** The tasks each expert of a router learned from. */
export const routerTasks = (router: Pick<Router, 'experts' | 'tasks'>): ExpertTaskAssignment => router.tasks ?? ownTasks(router.experts);

export interface RouterTrainingOptions extends Omit<HeadTrainingOptions, 'experts'> {
  feature: FeatureSpec;
  input: RouterInput;
  balance: RouterBalance;
  perExpert?: number;
  oversample?: boolean;
  policy: RoutingPolicy;
  baseModel: Router['baseModel'];
  onStage?: (stage: 'features' | 'head', detail: string) => void;
  /** Features already computed for these settings, by prompt; new ones are added (retraining with other head settings reuses them). */
  cache?: FeatureCache;
}

/** Pooled features by token ids, for one layer and pooling (make a new cache when those change). */
export type FeatureCache = Map<string, Float32Array>;

/** The cache key of a prompt's token ids. */
export const featureCacheKey = (ids: readonly number[] | Int32Array): string => ids.join(',');

/** routerFeatures through a cache: only prompts not in it are computed. */
async function cachedFeatures(ctx: GpuContext, model: GpuModel, router: Pick<Router, 'feature'>, prompts: readonly (readonly number[])[], cache: FeatureCache | undefined, signal?: AbortSignal): Promise<Float32Array> {
  if (!cache) return routerFeatures(ctx, model, prompts, router.feature, signal);
  const C = featureWidth(router.feature.pooling, model.config.hiddenSize);
  const keys = prompts.map(featureCacheKey);
  const missing = [...new Set(keys.filter((key) => !cache.has(key)))];
  if (missing.length > 0) {
    const computed = await routerFeatures(ctx, model, missing.map((key) => key.split(',').map(Number)), router.feature, signal);
    missing.forEach((key, index) => cache.set(key, computed.slice(index * C, (index + 1) * C)));
  }
  const out = new Float32Array(prompts.length * C);
  keys.forEach((key, index) => out.set(cache.get(key)!, index * C));
  return out;
}

export interface TrainedRouter {
  router: Router;
  history: HeadEvaluation[];
  /** Prompts longer than the model's context, cut to it. */
  truncated: number;
}

export interface RouterTrainingSet {
  split: RouterSplit<string>;
  /** The training rows then the held-out rows, tokenized as the router reads them. */
  prompts: RouterPrompt[];
}

/** The balanced train/held-out split trainRouter draws for these tasks and options, tokenized. */
export function routerTrainingSet(tokenizer: TextTokenizer, config: GpuModel['config'], tasks: readonly ExpertTask[], options: Pick<RouterTrainingOptions, 'input' | 'balance' | 'perExpert' | 'oversample' | 'seed'>): RouterTrainingSet {
  const promptsOf = (examples: readonly Example[]) => examples.map((example) => routerInputText(example, options.input)).filter((text): text is string => text !== undefined && text.trim() !== '');
  const pools = tasks.map((expert) => ({ name: expert.name, tasks: taughtBy(expert).map((task) => ({ name: task.name, items: promptsOf(task.train) })) }));
  const split = routerSplit(pools, { balance: options.balance, ...(options.perExpert !== undefined ? { perExpert: options.perExpert } : {}), oversample: options.oversample === true, seed: options.seed ?? 0 });
  return { split, prompts: [...split.train, ...split.heldOut].map(({ item }) => routerPromptIds(tokenizer, item, config)) };
}

export async function trainRouter(ctx: GpuContext, model: GpuModel, tokenizer: TextTokenizer, tasks: readonly ExpertTask[], options: RouterTrainingOptions): Promise<TrainedRouter> {
  const { split, prompts } = routerTrainingSet(tokenizer, model.config, tasks, options);
  const all = [...split.train, ...split.heldOut];
  options.onStage?.('features', `${all.length} prompts (${split.trainCounts.join('/')} to train on, ${split.heldOutCounts[0]} per expert held out)`);
  const features = await cachedFeatures(ctx, model, { feature: options.feature }, prompts.map((prompt) => prompt.ids), options.cache, options.signal);
  const C = featureWidth(options.feature.pooling, model.config.hiddenSize);
  const trainRows = split.train.length;
  const labelled = (from: number, to: number) => ({ features: features.slice(from * C, to * C), labels: Int32Array.from(all.slice(from, to), ({ label }) => label) });
  options.onStage?.('head', `${options.hidden ? `a ${options.hidden}-unit hidden layer` : 'a linear head'} over ${C} features to ${tasks.length} experts`);
  const result = await trainRouterHead(ctx, labelled(0, trainRows), labelled(trainRows, all.length), { ...options, experts: tasks.length });
  const best = result.history.find((evaluation) => evaluation.step === result.bestStep);
  return {
    router: {
      experts: tasks.map((expert) => expert.name),
      tasks: tasks.map((expert) => taughtBy(expert).map((task) => task.name)),
      feature: options.feature,
      input: options.input,
      head: result.head,
      policy: options.policy,
      baseModel: options.baseModel,
      training: {
        balance: options.balance,
        oversample: options.oversample === true,
        trainCounts: split.trainCounts,
        heldOutCounts: split.heldOutCounts,
        bestStep: result.bestStep,
        heldOutAccuracy: best?.heldOutAccuracy ?? NaN,
        stoppedEarly: result.stoppedEarly,
      },
    },
    history: result.history,
    truncated: prompts.filter((prompt) => prompt.truncatedFrom !== undefined).length,
  };
}

export interface RoutedPrompt extends RoutingDecision {
  /** Set when the prompt was cut to the model's context. */
  notice?: string;
}

/** Routes texts as typed (the router's input is the prompt itself; no template). */
export async function routePrompts(ctx: GpuContext, model: GpuModel, tokenizer: TextTokenizer, router: Router, texts: readonly string[], options: { signal?: AbortSignal; cache?: FeatureCache } = {}): Promise<RoutedPrompt[]> {
  const width = featureWidth(router.feature.pooling, model.config.hiddenSize);
  if (router.head.featureMean.length !== width) {
    throw new CocktailError('ROUTER_MODEL_MISMATCH', `the router reads ${router.head.featureMean.length} features, but ${router.feature.pooling} pooling of this model's hidden size ${model.config.hiddenSize} gives ${width}: it was trained on another base model (${router.baseModel.name})`, {});
  }
  const prompts = texts.map((text) => routerPromptIds(tokenizer, text, model.config));
  const features = await cachedFeatures(ctx, model, router, prompts.map((prompt) => prompt.ids), options.cache, options.signal);
  const probabilities = await headProbabilities(ctx, router.head, features);
  const K = router.experts.length;
  return prompts.map((prompt, n) => {
    const notice = truncationNotice(prompt, model.config);
    return { ...decide(probabilities.subarray(n * K, (n + 1) * K), router.experts, router.policy), ...(notice ? { notice } : {}) };
  });
}

