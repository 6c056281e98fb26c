/**
 * `cocktail router train`, `cocktail router eval` and `cocktail route`: a router over a recipe's task
 * adapters, trained, measured and used from the command line (app/route does the work).
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CocktailError } from '../errors.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { loadModel, type LoadedModel } from '../model/load.ts';
import type { ModelFiles } from '../model/source.ts';
import { readRouterBundle, writeRouterBundle, type RouterBundle } from '../route/bundle.ts';
import { assignTasks, parseExpertTasks } from '../route/assignment.ts';
import { BASE_EXPERT, checkPolicy, type RoutingPolicy } from '../route/decide.ts';
import { evaluateRouter } from '../route/evaluate.ts';
import { adapterExperts, checkExpertList, checkExpertsModel, loadExperts, type Expert, type ExpertFiles } from '../route/experts.ts';
import { checkFeatureSpec, isPooling, POOLINGS, type Pooling } from '../route/features.ts';
import { compareRouterLayers, type LayerComparison, type LayerResult } from '../route/layers.ts';
import type { RouterInput } from '../route/prompt.ts';
import { routerTrainingRequest, type RouterTrainingRequest } from '../route/request.ts';
import { routePrompts, trainRouter, type RoutedPrompt } from '../route/router.ts';
import type { ExpertTaskAssignment } from '../route/assignment.ts';
import type { ModelConfig } from '../model/config.ts';
import type { PeftFiles } from '../train/peft.ts';
import type { Recipe } from '../train/recipe.ts';
import { evaluationShape } from '../train/run.ts';
import { parseOptions, type OptionKind, type ParsedOptions } from './args.ts';
import { modelFilesFor } from './model-source.ts';
import { readPeftAdapter } from './peft-files.ts';
import { readRecipe, recipeModelSource } from './recipe-env.ts';
import { openRecipeModel, prepareRecipeData, type RecipeData } from './recipe-tasks.ts';

export const ROUTER_USAGE =
  'cocktail router train --recipe R --experts DIR1,DIR2,...[,base] [--names a,b,...] [--expert-tasks NAME=TASK+TASK,...] [--layer L] [--pooling mean|last|mean_last] [--input typed|template] [--hidden H] [--temperature T] [--per-expert N] [--oversample] [--unbalanced] [--top-k K] [--threshold P --fallback base|<expert name>|<shared adapter dir>] [--max-steps N] [--seed N] --out DIR [--json]\n' +
  '             cocktail router layers --recipe R --experts DIR1,DIR2,...[,base] [the options of router train that choose the experts, their tasks, the balance and the head] [--pooling P1,P2,...] [--layers L1,L2,...] [--json]\n' +
  '             cocktail router eval --recipe R --router DIR [--shared <adapter dir>] [--json]';
export const ROUTE_USAGE = 'cocktail route --router DIR --prompt TEXT [--model <dir|hub id>] [--json]';

/** The name the shared cocktail adapter gets as a fallback expert. */
const SHARED_EXPERT = 'shared';

export async function routerCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'train') return routerTrain(rest);
  if (sub === 'layers') return routerLayers(rest);
  if (sub === 'eval') return routerEval(rest);
  throw new CocktailError('BAD_ARGUMENT', `cocktail router takes "train", "layers" or "eval", got ${sub === undefined ? 'nothing' : `"${sub}"`}; usage: ${ROUTER_USAGE}`);
}

const list = (text: string | undefined): string[] => (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');

/** An expert's default name: its folder's, without the "adapter-" that `cocktail train` puts before a per-task adapter. */
const expertName = (dir: string): string => basename(resolve(dir)).replace(/^adapter-/, '');

/** The options `router train` and `router layers` share: the experts, their tasks, the balance and the head. */
const TRAINING_OPTIONS = {
  recipe: 'string',
  experts: 'string',
  names: 'string',
  'expert-tasks': 'string',
  pooling: 'string',
  input: 'string',
  hidden: 'integer',
  temperature: 'number',
  'per-expert': 'integer',
  oversample: 'flag',
  unbalanced: 'flag',
  'max-steps': 'integer',
  seed: 'integer',
  json: 'flag',
} as const satisfies Record<string, OptionKind>;

type TrainingArgs = ParsedOptions<typeof TRAINING_OPTIONS>;

/** The --experts entries and their names (--names, or each folder's), checked against each other and "base". */
function expertEntries(options: TrainingArgs): { entries: string[]; names: string[] } {
  const entries = list(options.experts);
  const names = options.names !== undefined ? list(options.names) : entries.map((entry) => (entry === BASE_EXPERT ? BASE_EXPERT : expertName(entry)));
  if (names.length !== entries.length) throw new CocktailError('BAD_ARGUMENT', `--names gives ${names.length} names for ${entries.length} experts; give one per --experts entry, in order`);
  entries.forEach((entry, index) => {
    if ((entry === BASE_EXPERT) !== (names[index] === BASE_EXPERT)) {
      throw new CocktailError('BAD_ARGUMENT', entry === BASE_EXPERT ? `the --experts entry "base" (the model with no adapter) is named "base", not "${names[index]}"` : `"base" names the model with no adapter; the folder ${entry} needs another name (--names)`, { field: 'names' });
    }
  });
  checkExpertList(names);
  return { entries, names };
}

function checkedPooling(pooling: string): Pooling {
  if (!isPooling(pooling)) throw new CocktailError('BAD_ARGUMENT', `--pooling must be ${POOLINGS.join(', ')}, got "${pooling}"`, { field: 'pooling' });
  return pooling;
}

function checkedInput(options: TrainingArgs): RouterInput {
  const input = options.input ?? 'typed';
  if (input !== 'typed' && input !== 'template') throw new CocktailError('BAD_ARGUMENT', `--input must be "typed" or "template", got "${input}"`);
  return input;
}

interface OpenedTraining {
  recipe: Recipe;
  modelSource: string;
  assignment: ExpertTaskAssignment;
  expertFiles: ExpertFiles[];
  experts: Expert[];
  data: RecipeData;
}

/**
 * The recipe, its model's config, the experts (read and checked against that model) and their tasks,
 * checked against the recipe's task names before any task file is read; then the tasks prepared.
 */
async function openTraining<Extra = undefined>(
  options: TrainingArgs,
  entries: readonly string[],
  names: readonly string[],
  /** More to read and check against the model before the tasks are prepared (router train's fallback adapter). */
  extra?: (opened: Pick<OpenedTraining, 'modelSource' | 'expertFiles'> & { config: ModelConfig }) => Promise<Extra>,
): Promise<OpenedTraining & { extra: Extra | undefined }> {
  const { recipe, recipeDir } = await readRecipe(options.recipe!);
  const modelSource = recipeModelSource(recipeDir, recipe.model.source);
  const { config } = await openRecipeModel(recipe, recipeDir);
  const taskNames = recipe.tasks.map((task) => task.name);
  const assignment = assignTasks(names, taskNames, options['expert-tasks'] !== undefined ? parseExpertTasks(options['expert-tasks']) : undefined);
  const adapterEntries = entries.flatMap((dir, index) => (dir === BASE_EXPERT ? [] : [{ name: names[index]!, dir }]));
  const expertFiles = await Promise.all(adapterEntries.map(async ({ name, dir }) => ({ name, files: await readPeftAdapter(resolve(dir)) })));
  const experts = await loadExperts(expertFiles, config, modelSource, { minimum: 1 });
  const more = await extra?.({ modelSource, expertFiles, config });
  const data = await prepareRecipeData(recipe, recipeDir, { keepExamples: true });
  return { recipe, modelSource, assignment, expertFiles, experts, data, extra: more };
}

/** The router's training request from the shared options, for one layer (or the default) and pooling. */
function trainingRequest(options: TrainingArgs, names: readonly string[], opened: OpenedTraining, feature: { layer?: number; pooling: Pooling }, policy: RoutingPolicy): RouterTrainingRequest {
  const { recipe, modelSource, assignment, data } = opened;
  return routerTrainingRequest(
    names,
    assignment,
    recipe.tasks.map((task, index) => ({ name: task.name, train: data.examples![index]!.train })),
    {
      ...(feature.layer !== undefined ? { layer: feature.layer } : {}),
      pooling: feature.pooling,
      input: checkedInput(options),
      balance: options.unbalanced ? 'unbalanced' : options.oversample ? 'oversample' : 'balanced',
      ...(options['per-expert'] !== undefined ? { perExpert: options['per-expert'] } : {}),
      ...(options.hidden !== undefined ? { hidden: options.hidden } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options['max-steps'] !== undefined ? { maxSteps: options['max-steps'] } : {}),
      seed: options.seed ?? recipe.seed,
      policy,
      baseModel: { name: modelSource, revision: recipe.model.revision ?? null },
    },
    data.config,
  );
}

async function routerTrain(args: string[]): Promise<number> {
  const options = parseOptions('router train', args, { ...TRAINING_OPTIONS, layer: 'integer', 'top-k': 'integer', threshold: 'number', fallback: 'string', out: 'string' }, ['recipe', 'experts', 'out']);
  const json = options.json === true;
  const say = (event: Record<string, unknown>, line: string) => console.log(json ? JSON.stringify(event) : line);
  const { entries, names } = expertEntries(options);
  const pooling = checkedPooling(options.pooling ?? 'mean');
  checkedInput(options);
  const fallbackArg = options.fallback;
  // The fallback is "base", an expert of the router by name, or the folder of a shared adapter that is not an expert.
  const fallbackDir = fallbackArg !== undefined && fallbackArg !== BASE_EXPERT && !names.includes(fallbackArg) ? fallbackArg : undefined;
  if (fallbackDir !== undefined && names.includes(SHARED_EXPERT)) {
    throw new CocktailError('BAD_ARGUMENT', `an expert is already named "${SHARED_EXPERT}": give --fallback ${SHARED_EXPERT} to let it answer below the threshold, or name it otherwise (--names)`, { field: 'fallback' });
  }
  const policy: RoutingPolicy = { topK: options['top-k'] ?? 1, threshold: options.threshold ?? 0, fallback: fallbackArg === undefined ? null : fallbackDir !== undefined ? SHARED_EXPERT : fallbackArg };
  checkPolicy(policy, names);

  const opened = await openTraining(options, entries, names, async ({ expertFiles, config, modelSource }) => {
    if (fallbackDir === undefined) return undefined;
    const files = await readPeftAdapter(resolve(fallbackDir));
    await loadExperts([...expertFiles, { name: SHARED_EXPERT, files }], config, modelSource);
    return files;
  });
  const { experts, assignment, data, extra: fallback } = opened;
  const request = trainingRequest(options, names, opened, { ...(options.layer !== undefined ? { layer: options.layer } : {}), pooling }, policy);

  const ctx = await acquireNodeGpu({ label: 'cocktail router train' });
  const model = await loadModel(ctx, data.files);
  try {
    const trained = await trainRouter(ctx, model.gpu, model.tokenizer, request.experts, {
      ...request.options,
      onStage: (stage, detail) => say({ event: 'stage', stage, detail }, `· ${stage}: ${detail}`),
      onEvaluation: (evaluation) =>
        say({ event: 'router_eval', ...evaluation }, `  step ${evaluation.step}: loss ${evaluation.trainLoss.toFixed(4)} accuracy ${evaluation.trainAccuracy.toFixed(3)}, held out loss ${evaluation.heldOutLoss.toFixed(4)} accuracy ${evaluation.heldOutAccuracy.toFixed(3)}`),
    });
    if (trained.truncated > 0) say({ event: 'notice', truncated: trained.truncated }, `  ${trained.truncated} prompts were longer than the model's context of ${data.config.maxPositionEmbeddings} tokens; the router read their first ${data.config.maxPositionEmbeddings}`);
    const adapters = new Map<string, PeftFiles>(experts.map((expert) => [expert.name, expert.files]));
    if (fallback) adapters.set(SHARED_EXPERT, fallback);
    const out = resolve(options.out!);
    await writeBundleFolder(out, { router: trained.router, adapters }, data.config.maxPositionEmbeddings);
    const summary = trained.router.training!;
    say(
      { event: 'router', out, experts: trained.router.experts, expert_tasks: Object.fromEntries(names.map((name, index) => [name, assignment[index]])), train_counts: summary.trainCounts, held_out_counts: summary.heldOutCounts, best_step: summary.bestStep, held_out_accuracy: summary.heldOutAccuracy, stopped_early: summary.stoppedEarly },
      `wrote the router over ${trained.router.experts.map((name, index) => `${name} (${assignment[index]!.join('+')})`).join(', ')} to ${out} (step ${summary.bestStep}, held-out accuracy ${summary.heldOutAccuracy.toFixed(3)})`,
    );
    return 0;
  } finally {
    model.gpu.destroy();
    ctx.destroy();
  }
}

/**
 * `router layers`: one head per layer (and pooling asked) on router train's balanced split, held-out
 * accuracy side by side, the best marked. Progress goes to stderr; stdout has the table or the JSON.
 */
async function routerLayers(args: string[]): Promise<number> {
  const options = parseOptions('router layers', args, { ...TRAINING_OPTIONS, layers: 'string' }, ['recipe', 'experts']);
  const { entries, names } = expertEntries(options);
  const poolings = list(options.pooling ?? 'mean').map(checkedPooling);
  if (poolings.length === 0) throw new CocktailError('BAD_ARGUMENT', `--pooling needs at least one of ${POOLINGS.join(', ')}`, { field: 'pooling' });
  const layers = options.layers === undefined ? undefined : list(options.layers).map(layerNumber);
  checkedInput(options);
  // A layer the model lacks is refused once its config is read, before any task file is.
  const opened = await openTraining(options, entries, names, async ({ config }) => {
    for (const layer of layers ?? []) checkFeatureSpec({ layer, pooling: poolings[0]! }, config);
  });
  const { data } = opened;
  const request = trainingRequest(options, names, opened, { pooling: poolings[0]! }, { topK: 1, threshold: 0, fallback: null });
  const ctx = await acquireNodeGpu({ label: 'cocktail router layers' });
  const model = await loadModel(ctx, data.files);
  try {
    const comparison = await compareRouterLayers(ctx, model.gpu, model.tokenizer, request.experts, {
      ...request.options,
      poolings,
      ...(layers ? { layers } : {}),
      onProgress: ({ phase, done, total, etaSeconds, result }) =>
        console.error(`· ${phase === 'features' ? `features: ${done} of ${total} prompts` : `heads: ${done} of ${total} (layer ${result!.layer} ${result!.pooling}: held-out accuracy ${result!.heldOutAccuracy.toFixed(3)})`}${etaSeconds !== undefined && done < total ? `, about ${Math.ceil(etaSeconds)} s left` : ''}`),
    });
    if (comparison.truncated > 0) console.error(`notice: ${comparison.truncated} prompts were longer than the model's context of ${data.config.maxPositionEmbeddings} tokens; the router read their first ${data.config.maxPositionEmbeddings}`);
    if (options.json) console.log(JSON.stringify(layerComparisonJson(comparison)));
    else printLayerTable(comparison);
    return 0;
  } finally {
    model.gpu.destroy();
    ctx.destroy();
  }
}

function layerNumber(text: string): number {
  const layer = Number(text);
  if (!Number.isSafeInteger(layer) || layer < 0) throw new CocktailError('BAD_ARGUMENT', `--layers takes hidden-state indices (whole numbers from 0), got "${text}"`, { field: 'layers' });
  return layer;
}

const layerJson = (result: LayerResult) => ({
  layer: result.layer,
  pooling: result.pooling,
  held_out_accuracy: result.heldOutAccuracy,
  train_accuracy: result.trainAccuracy,
  held_out_loss: result.heldOutLoss,
  best_step: result.bestStep,
  steps: result.steps,
  stopped_early: result.stoppedEarly,
});

export function layerComparisonJson(comparison: LayerComparison) {
  return { layers: comparison.results.map(layerJson), best: layerJson(comparison.best), train_counts: comparison.trainCounts, held_out_counts: comparison.heldOutCounts };
}

function printLayerTable(comparison: LayerComparison): void {
  console.log('layer  pooling    held-out  train   step');
  for (const result of comparison.results) {
    const mark = result === comparison.best ? '  ← best' : '';
    console.log(`${String(result.layer).padEnd(7)}${result.pooling.padEnd(11)}${result.heldOutAccuracy.toFixed(3).padEnd(10)}${result.trainAccuracy.toFixed(3).padEnd(8)}${result.bestStep}${mark}`);
  }
  console.log(`best: layer ${comparison.best.layer}, ${comparison.best.pooling} pooling (held-out accuracy ${comparison.best.heldOutAccuracy.toFixed(3)} on ${comparison.heldOutCounts[0]} prompts per expert); train it with router train --layer ${comparison.best.layer} --pooling ${comparison.best.pooling}`);
}

async function routerEval(args: string[]): Promise<number> {
  const options = parseOptions('router eval', args, { recipe: 'string', router: 'string', shared: 'string', json: 'flag' }, ['recipe', 'router']);
  const { recipe, recipeDir } = await readRecipe(options.recipe!);
  const modelSource = recipeModelSource(recipeDir, recipe.model.source);
  const bundle = await readBundleFolder(resolve(options.router!));
  const data = await prepareRecipeData(recipe, recipeDir, { keepExamples: true });
  const experts = await bundleExperts(bundle, data.config, modelSource);
  const sharedFiles = options.shared ? await readPeftAdapter(resolve(options.shared)) : bundle.adapters.get(SHARED_EXPERT);
  const shared = sharedFiles ? (await loadExperts([{ name: SHARED_EXPERT, files: sharedFiles }], data.config, modelSource, { minimum: 1 }))[0]!.adapter : undefined;
  const ctx = await acquireNodeGpu({ label: 'cocktail router eval' });
  const model = await loadModel(ctx, data.files);
  try {
    const evaluation = await evaluateRouter(
      ctx,
      model.gpu,
      model.tokenizer,
      bundle.router,
      new Map(experts.map((expert) => [expert.name, expert.adapter])),
      shared,
      data.tasks.map((task, index) => ({ task, validation: data.examples![index]!.validation })),
      { examples: recipe.eval_whole_split ? 'all' : recipe.eval_examples, seed: recipe.seed, maxNewTokens: recipe.eval_max_new_tokens, labelScoring: recipe.eval_label_scoring, shape: evaluationShape(data.recipe, data.tasks) },
    );
    if (options.json) console.log(JSON.stringify(evaluation));
    else {
      console.log(`routing accuracy ${evaluation.routing_accuracy.toFixed(3)}`);
      for (const [task, result] of Object.entries(evaluation.tasks)) {
        const confusion = Object.entries(evaluation.confusion[task]!).map(([expert, count]) => `${expert} ${count}`).join(', ');
        console.log(`${task} (${result.metric}): routed ${result.routed.toFixed(4)} oracle ${result.oracle.toFixed(4)} shared ${result.shared?.toFixed(4) ?? '-'} base ${result.base.toFixed(4)} regret ${result.regret.toFixed(4)} (95% interval ${result.regret_interval.map((end) => end.toFixed(4)).join(' to ')}; sign test p ${result.regret_test.p_value.toPrecision(3)}, ${result.regret_test.within_noise ? 'within noise of the oracle' : 'more than noise'}); routed to ${confusion}`);
      }
    }
    return 0;
  } finally {
    model.gpu.destroy();
    ctx.destroy();
  }
}

export async function routeCommand(args: string[]): Promise<number> {
  const options = parseOptions('route', args, { router: 'string', prompt: 'string', model: 'string', json: 'flag' }, ['router', 'prompt']);
  const { bundle, files } = await openRouterBundle(options.router!, options.model);
  const ctx = await acquireNodeGpu({ label: 'cocktail route' });
  const model = await loadModel(ctx, files);
  try {
    const [routed] = await routePrompts(ctx, model.gpu, model.tokenizer, bundle.router, [options.prompt!]);
    printRoute(routed!, options.json === true);
    return 0;
  } finally {
    model.gpu.destroy();
    ctx.destroy();
  }
}

export function printRoute(routed: RoutedPrompt, json: boolean): void {
  if (routed.notice) console.error(`notice: ${routed.notice}`);
  const { probabilities, chosen, mixture, notice } = routed;
  if (json) console.log(JSON.stringify({ probabilities, chosen, ...(mixture ? { mixture } : {}), ...(routed.fellBack ? { fell_back: true } : {}), ...(notice ? { notice } : {}) }));
  else console.log(`${chosen}${mixture ? ` (mixing ${mixture.map((m) => `${m.expert} ${m.weight.toFixed(3)}`).join(', ')})` : ''}: ${Object.entries(probabilities).map(([name, p]) => `${name} ${p.toFixed(3)}`).join(', ')}`);
}

/** The bundle's routed adapters (every expert but "base"), read and checked against the model like any expert set. */
export async function bundleExperts(bundle: RouterBundle, config: LoadedModel['config'], modelSource: string): Promise<Expert[]> {
  return loadExperts(adapterExperts(bundle.router.experts).map((name) => ({ name, files: bundle.adapters.get(name)! })), config, modelSource, { minimum: 1 });
}

/**
 * A router bundle and the files of the model it routes for (`--model`, or the base model router.json
 * names), for `cocktail route` and `generate --router`; experts trained on another model are refused,
 * naming the expert, before the model is read.
 */
export async function openRouterBundle(dir: string, modelSource: string | undefined): Promise<{ bundle: RouterBundle; files: ModelFiles }> {
  const bundle = await readBundleFolder(resolve(dir));
  const source = modelSource ?? bundle.router.baseModel.name;
  checkExpertsModel(bundle.adapters, source);
  return { bundle, files: await modelFilesFor(source, { ...(bundle.router.baseModel.revision ? { revision: bundle.router.baseModel.revision } : {}), quiet: true }) };
}

async function writeBundleFolder(out: string, bundle: RouterBundle, maxTokens: number): Promise<void> {
  for (const [path, blob] of writeRouterBundle(bundle, { maxTokens })) {
    const file = join(out, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, new Uint8Array(await blob.arrayBuffer()));
  }
}

/** The files of a bundle folder (router.json, router.safetensors, and each folder's files one level down). */
export async function readBundleFolder(dir: string): Promise<RouterBundle> {
  const isFolder = await stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (!isFolder) throw new CocktailError('ROUTER_BUNDLE_INVALID', `${dir}: no such folder; a router bundle is a folder with router.json`, { bundle: dir });
  const files = new Map<string, Blob>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, new Blob([await readFile(join(dir, entry.name))]));
    else if (entry.isDirectory()) {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true })) {
        if (inner.isFile()) files.set(`${entry.name}/${inner.name}`, new Blob([await readFile(join(dir, entry.name, inner.name))]));
      }
    }
  }
  return readRouterBundle(files, dir);
}
