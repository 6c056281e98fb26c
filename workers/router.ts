/**
 * The router commands inside the engine worker (app/route in the studio): router.train over library
 * adapters on a recipe's tasks, router.layers (which layer routes best), router.evaluate, router.generate for the Playground's routed column and
 * router.import of a bundle. Routers are kept in the "routers" store as their bundle zipped, in exactly
 * the layout of docs/router-format.md (so the Library exports the stored bytes as they are), with a
 * RouterRecord as the item's meta (what the Router, Library, Evaluate and Playground pages list).
 */
import { unzipSync, zipSync } from 'fflate';
import { CocktailError } from '../app/errors.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { loadModel, type LoadedModel } from '../app/model/load.ts';
import { uploadLoraChecked } from '../app/model/lora-gpu.ts';
import { readRouterBundle, ROUTER_JSON, writeRouterBundle, type RouterBundle } from '../app/route/bundle.ts';
import { assignTasks } from '../app/route/assignment.ts';
import { answeringAdapter } from '../app/route/combine.ts';
import { BASE_EXPERT, type RoutingPolicy } from '../app/route/decide.ts';
import { evaluateRouter, type RouterEvaluation } from '../app/route/evaluate.ts';
import { adapterExperts, checkExpertList, checkExpertsModel, loadExperts, type Expert, type ExpertFiles } from '../app/route/experts.ts';
import type { Pooling } from '../app/route/features.ts';
import { compareRouterLayers, type LayerComparison } from '../app/route/layers.ts';
import { HEAD_DEFAULTS } from '../app/route/head.ts';
import { routerInputText } from '../app/route/prompt.ts';
import { routerTrainingRequest, type RouterTrainingRequest } from '../app/route/request.ts';
import { routePrompts, routerTasks, trainRouter, type Router } from '../app/route/router.ts';
import type { Json, Storage } from '../app/store/storage.ts';
import { clampToContext } from '../app/train/context-length.ts';
import { importPeftAdapter, type PeftFiles } from '../app/train/peft.ts';
import { prepareTasks, type PrepareProgress, type TaskExamples } from '../app/train/prepare.ts';
import { parseRecipe, type Recipe } from '../app/train/recipe.ts';
import { evaluationShape } from '../app/train/run.ts';
import { generateWithLora } from './generate.ts';
import type { GenerateRequest, HubSettings, RoutedGenerateProgress, RoutedGenerateResponse, RouterLayersProgress, RouterLayersRequest, RouterRecord, RouterTrainProgress, RouterTrainRequest, TrainProgress } from './protocol.ts';
import { openStoredAdapter, studioRunEnvironment } from './studio-env.ts';

/** The bundle folder of the fallback adapter (docs/router-format.md). */
export const SHARED_EXPERT = 'shared';

/** Validation prompts routed per task for the Router page's confusion matrix: enough to see a bias, quick on a CPU adapter. */
const VALIDATION_PROMPTS_PER_TASK = 200;

interface OpenedRecipe {
  model: LoadedModel;
  /** The recipe clamped to the model's context, as a run uses it. */
  recipe: Recipe;
  tasks: Awaited<ReturnType<typeof prepareTasks>>['tasks'];
  examples: TaskExamples[];
}

/** The recipe's model (the base the features read) and its tasks prepared as a run prepares them, with their examples kept. */
async function openRecipe(
  asked: Recipe,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  hub: HubSettings,
  onStage: (stage: 'model' | 'data') => void,
  onPrepare: (progress: PrepareProgress) => void,
): Promise<OpenedRecipe> {
  const env = studioRunEnvironment(ctx, storage, signal, hub);
  onStage('model');
  const model = await loadModel(ctx, await env.openModel(asked.model.source, asked.model.revision));
  try {
    const { recipe } = clampToContext(asked, model.config.maxPositionEmbeddings);
    onStage('data');
    const prepared = await prepareTasks(recipe, {
      tokenizer: model.tokenizer,
      modelVocabSize: model.config.vocabSize,
      openFile: env.openTaskFile,
      keepExamples: true,
      signal,
      onProgress: onPrepare,
      ...(hub.hubEndpoint ? { hubEndpoint: hub.hubEndpoint } : {}),
      ...(hub.hubToken ? { hubAccessToken: hub.hubToken } : {}),
    });
    return { model, recipe, tasks: prepared.tasks, examples: prepared.examples! };
  } catch (error) {
    model.gpu.destroy();
    throw error;
  }
}

/** A key of the "routers" store for a new router: its name made safe, and the time, so two of one name differ. */
export function routerKeyFor(name: string, now = Date.now()): string {
  const slug = name.trim().replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'router';
  return `${slug}-${now.toString(36)}`;
}

function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw new CocktailError('ROUTER_BAD_NAME', 'give the router a name: the Library lists it by that name', { field: 'name' });
  return trimmed;
}

type OpeningProgress = { kind: 'stage'; stage: 'model' | 'data' } | { kind: 'prepare'; progress: PrepareProgress };

interface StudioTraining {
  opened: OpenedRecipe;
  /** The library adapters of the experts, read and checked against the recipe's model. */
  experts: Expert[];
  sharedFiles?: PeftFiles;
  training: RouterTrainingRequest;
  maxSteps: number;
}

/**
 * What router.train and router.layers both do first: the experts and their tasks checked, their
 * adapters read from the library, the recipe's model loaded and its tasks prepared, every adapter
 * checked against that model, and trainRouter's request built. The caller owns opened.model.
 */
async function openStudioTraining(
  request: Omit<RouterTrainRequest, 'name' | 'layer' | 'pooling'> & HubSettings,
  feature: { layer?: number; pooling: Pooling },
  label: string,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: OpeningProgress) => void,
): Promise<StudioTraining> {
  const recipe = parseRecipe(request.recipe, `recipe of ${label}`);
  const taskNames = recipe.tasks.map((task) => task.name);
  const names = request.experts.map((expert) => expert.name);
  checkExpertList(names);
  const assignment = assignTasks(names, taskNames, new Map(request.experts.flatMap((expert) => (expert.tasks ? [[expert.name, expert.tasks] as const] : []))));
  for (const expert of request.experts) {
    if ((expert.name === BASE_EXPERT) !== (expert.adapterKey === null)) {
      throw new CocktailError('ROUTER_BAD_EXPERT_NAME', expert.name === BASE_EXPERT ? `"${BASE_EXPERT}" is the model with no adapter; it takes no library adapter` : `expert "${expert.name}" needs a library adapter`, { expert: expert.name });
    }
  }
  const policy: RoutingPolicy = { topK: request.topK ?? 1, threshold: request.threshold, fallback: request.fallback === null ? null : request.fallback === 'base' ? BASE_EXPERT : SHARED_EXPERT };
  const sharedExpert = request.experts.find((expert) => expert.name === SHARED_EXPERT);
  if (request.fallback === 'shared' && !request.sharedKey && !sharedExpert) throw new CocktailError('ROUTER_NO_FALLBACK', 'the fallback is the shared adapter, but no library adapter was chosen for it', { field: 'sharedKey' });
  if (sharedExpert && request.sharedKey && sharedExpert.adapterKey !== request.sharedKey) {
    throw new CocktailError('ROUTER_DUPLICATE_EXPERT', `the expert "${SHARED_EXPERT}" and the fallback are two different library adapters; the bundle has one "${SHARED_EXPERT}" folder`, { expert: SHARED_EXPERT });
  }
  const expertFiles: ExpertFiles[] = [];
  for (const expert of request.experts) if (expert.adapterKey !== null) expertFiles.push({ name: expert.name, files: await openStoredAdapter(storage, expert.adapterKey) });
  const sharedFiles = request.fallback === 'shared' && !sharedExpert ? await openStoredAdapter(storage, request.sharedKey!) : undefined;

  const opened = await openRecipe(recipe, ctx, storage, signal, request, (stage) => progress({ kind: 'stage', stage }), (prepare) => progress({ kind: 'prepare', progress: prepare }));
  const { model, examples } = opened;
  try {
    // Every expert (and the fallback adapter) adapts this base model and the same modules, or none is used.
    const experts = await loadExperts(expertFiles, model.config, recipe.model.source, { minimum: 1 });
    if (sharedFiles) await loadExperts([...expertFiles, { name: SHARED_EXPERT, files: sharedFiles }], model.config, recipe.model.source);
    const maxSteps = request.maxSteps ?? HEAD_DEFAULTS.maxSteps;
    const training = routerTrainingRequest(
      names,
      assignment,
      taskNames.map((task, index) => ({ name: task, train: examples[index]!.train })),
      {
        ...(feature.layer !== undefined ? { layer: feature.layer } : {}),
        pooling: feature.pooling,
        input: 'typed',
        balance: request.balance,
        ...(request.hidden ? { hidden: request.hidden } : {}),
        temperature: request.temperature,
        maxSteps,
        seed: recipe.seed,
        policy,
        baseModel: { name: recipe.model.source, revision: recipe.model.revision },
      },
      model.config,
    );
    return { opened, experts, ...(sharedFiles ? { sharedFiles } : {}), training, maxSteps };
  } catch (error) {
    model.gpu.destroy();
    throw error;
  }
}

export async function trainRouterInStudio(
  request: RouterTrainRequest & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: RouterTrainProgress) => void,
): Promise<RouterRecord> {
  const name = checkName(request.name);
  const { opened, experts, sharedFiles, training, maxSteps } = await openStudioTraining(request, { ...(request.layer !== undefined ? { layer: request.layer } : {}), pooling: request.pooling }, `router "${name}"`, ctx, storage, signal, progress);
  const { model, examples } = opened;
  const taskNames = opened.recipe.tasks.map((task) => task.name);
  const sharedExpert = request.experts.find((expert) => expert.name === SHARED_EXPERT);
  try {
    const trained = await trainRouter(ctx, model.gpu, model.tokenizer, training.experts, {
      ...training.options,
      signal,
      onStage: (stage, detail) => progress({ kind: 'stage', stage, detail }),
      onEvaluation: (evaluation) => progress({ kind: 'eval', evaluation, maxSteps }),
    });
    progress({ kind: 'stage', stage: 'validate' });
    const validation = await routeValidationPrompts(ctx, model, trained.router, examples, taskNames, signal);
    progress({ kind: 'stage', stage: 'store' });
    const adapters = new Map<string, PeftFiles>(experts.map((expert) => [expert.name, expert.files]));
    if (sharedFiles) adapters.set(SHARED_EXPERT, sharedFiles);
    const key = routerKeyFor(name);
    const record: RouterRecord = {
      ...recordOf(key, name, trained.router),
      expertKeys: request.experts.map((expert) => expert.adapterKey ?? ''),
      ...(request.sharedKey && (sharedFiles || sharedExpert) ? { sharedKey: request.sharedKey } : {}),
      history: trained.history,
      validation,
      recipe: request.recipe,
    };
    await storage.put('routers', key, record as unknown as Json, zipBundle(await bundleBytes(writeRouterBundle({ router: trained.router, adapters }, { maxTokens: model.config.maxPositionEmbeddings }))));
    return record;
  } finally {
    model.gpu.destroy();
  }
}

/** router.layers: the router's settings compared at every layer (and each pooling asked); nothing is stored. */
export async function compareLayersInStudio(
  request: RouterLayersRequest & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: RouterLayersProgress) => void,
): Promise<LayerComparison> {
  if (request.poolings.length === 0) throw new CocktailError('BAD_ARGUMENT', 'choose at least one pooling to compare', { field: 'poolings' });
  const { opened, training } = await openStudioTraining(request, { pooling: request.poolings[0]! }, 'the layer comparison', ctx, storage, signal, progress);
  try {
    return await compareRouterLayers(ctx, opened.model.gpu, opened.model.tokenizer, training.experts, {
      ...training.options,
      poolings: request.poolings,
      signal,
      onProgress: (layers) => progress({ kind: 'layers', progress: layers }),
    });
  } finally {
    opened.model.gpu.destroy();
  }
}

/** The tasks' validation prompts routed, as typed: how many went to the expert their task teaches, and where each task's went. */
async function routeValidationPrompts(ctx: GpuContext, model: LoadedModel, router: Router, examples: readonly TaskExamples[], taskNames: readonly string[], signal: AbortSignal): Promise<NonNullable<RouterRecord['validation']>> {
  const confusion: Record<string, Record<string, number>> = {};
  let right = 0;
  let total = 0;
  const assignment = routerTasks(router);
  for (const [index, expert] of router.experts.entries()) {
    for (const task of assignment[index]!) {
      const texts = examples[taskNames.indexOf(task)]!.validation
        .map((example) => routerInputText(example, router.input))
        .filter((text): text is string => text !== undefined && text.trim() !== '')
        .slice(0, VALIDATION_PROMPTS_PER_TASK);
      const row: Record<string, number> = {};
      if (texts.length > 0) {
        for (const decision of await routePrompts(ctx, model.gpu, model.tokenizer, router, texts, { signal })) row[decision.chosen] = (row[decision.chosen] ?? 0) + 1;
      }
      confusion[task] = row;
      right += row[expert] ?? 0;
      total += texts.length;
    }
  }
  return { prompts: total, accuracy: total > 0 ? right / total : null, confusion };
}

/** What a record says of a router, from the router itself (trained here or read from a bundle). */
function recordOf(key: string, name: string, router: Router): Omit<RouterRecord, 'expertKeys' | 'history'> {
  const { training } = router;
  return {
    key,
    name,
    createdAt: Date.now(),
    experts: router.experts,
    expertTasks: routerTasks(router),
    fallback: router.policy.fallback,
    baseModel: router.baseModel,
    layer: router.feature.layer,
    pooling: router.feature.pooling,
    hidden: router.head.layers.length > 1 ? router.head.layers[0]!.outFeatures : null,
    temperature: router.head.temperature,
    threshold: router.policy.threshold,
    topK: router.policy.topK,
    ...(training
      ? {
          balance: training.balance === 'unbalanced' ? 'unbalanced' : training.oversample ? 'oversample' : 'balanced',
          trainCounts: training.trainCounts,
          heldOutCounts: training.heldOutCounts,
          bestStep: training.bestStep,
          heldOutAccuracy: training.heldOutAccuracy,
          stoppedEarly: training.stoppedEarly,
        }
      : {}),
  };
}

async function bundleBytes(files: ReadonlyMap<string, Blob>): Promise<Record<string, Uint8Array>> {
  const entries: Record<string, Uint8Array> = {};
  for (const [path, blob] of files) entries[path] = new Uint8Array(await blob.arrayBuffer());
  return entries;
}

/** The bundle's files in one zip, stored (float weights barely compress), paths as the bundle has them. */
function zipBundle(entries: Record<string, Uint8Array>): Uint8Array {
  return zipSync(entries, { level: 0 });
}

/**
 * The files of a zipped bundle, by their path in the bundle. A zip of the bundle's folder (router.json
 * one folder down, as people zip a folder) is read from inside that folder.
 */
export function unzipBundle(zip: Uint8Array, label: string): Map<string, Blob> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (error) {
    throw new CocktailError('ROUTER_BUNDLE_INVALID', `${label} is not a readable zip (${(error as Error).message}); a router bundle is a zip of router.json, router.safetensors and one adapter folder per expert`, { bundle: label });
  }
  const paths = Object.keys(entries).filter((path) => !path.endsWith('/'));
  const top = paths.includes(ROUTER_JSON) ? '' : (paths.find((path) => path.endsWith(`/${ROUTER_JSON}`) && path.split('/').length === 2)?.replace(ROUTER_JSON, '') ?? '');
  const files = new Map<string, Blob>();
  for (const path of paths) if (path.startsWith(top)) files.set(path.slice(top.length), new Blob([entries[path]! as Uint8Array<ArrayBuffer>]));
  return files;
}

async function openStoredRouter(storage: Storage, key: string): Promise<{ record: RouterRecord; bundle: RouterBundle; zip: Uint8Array }> {
  const info = await storage.getInfo<Json>('routers', key);
  const zip = await storage.getBytes('routers', key);
  if (!info || !zip) throw new CocktailError('ROUTER_NOT_FOUND', `router "${key}" is not in the library`, { router: key });
  return { record: info.meta as unknown as RouterRecord, bundle: await readRouterBundle(unzipBundle(zip, key), key), zip };
}

export async function importRouterInStudio(request: { name: string; file: Blob }, storage: Storage): Promise<RouterRecord> {
  const files = unzipBundle(new Uint8Array(await request.file.arrayBuffer()), request.name);
  const bundle = await readRouterBundle(files, request.name);
  const name = request.name.replace(/\.zip$/i, '');
  const key = routerKeyFor(name);
  const record: RouterRecord = { ...recordOf(key, name, bundle.router), expertKeys: [], history: [] };
  await storage.put('routers', key, record as unknown as Json, zipBundle(await bundleBytes(files)));
  return record;
}

export async function evaluateRouterInStudio(
  request: { routerKey: string; sharedKey?: string } & HubSettings,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: TrainProgress) => void,
): Promise<RouterEvaluation> {
  const { record, bundle, zip } = await openStoredRouter(storage, request.routerKey);
  if (record.recipe === undefined) {
    throw new CocktailError('ROUTER_NO_RECIPE', `router "${record.name}" was imported as a bundle, which does not say which task files its experts answer; evaluate it from the CLI (cocktail router eval --recipe R --router DIR)`, { router: request.routerKey });
  }
  const recipe = parseRecipe(record.recipe, `recipe of router "${record.name}"`);
  const opened = await openRecipe(recipe, ctx, storage, signal, request, (stage) => progress({ kind: 'stage', stage }), (prepare) => progress({ kind: 'prepare', progress: prepare }));
  const { model } = opened;
  try {
    const experts = await loadExperts(adapterExperts(bundle.router.experts).map((name) => ({ name, files: bundle.adapters.get(name)! })), model.config, recipe.model.source, { minimum: 1 });
    const sharedFiles = request.sharedKey ? await openStoredAdapter(storage, request.sharedKey) : bundle.adapters.get(SHARED_EXPERT);
    const shared = sharedFiles ? (await loadExperts([{ name: SHARED_EXPERT, files: sharedFiles }], model.config, recipe.model.source, { minimum: 1 }))[0]!.adapter : undefined;
    progress({ kind: 'stage', stage: 'evaluate' });
    const evaluation = await evaluateRouter(
      ctx,
      model.gpu,
      model.tokenizer,
      bundle.router,
      new Map(experts.map((expert) => [expert.name, expert.adapter])),
      shared,
      opened.tasks.map((task, index) => ({ task, validation: opened.examples[index]!.validation })),
      {
        examples: opened.recipe.eval_whole_split ? 'all' : opened.recipe.eval_examples,
        seed: opened.recipe.seed,
        maxNewTokens: opened.recipe.eval_max_new_tokens,
        labelScoring: opened.recipe.eval_label_scoring,
        shape: evaluationShape(opened.recipe, opened.tasks),
        signal,
        onTask: (task, result) => progress({ kind: 'eval-progress', progress: { step: 0, task, done: result.examples, total: result.examples } }),
      },
    );
    await storage.put('routers', request.routerKey, { ...record, evaluation } as unknown as Json, zip);
    return evaluation;
  } finally {
    model.gpu.destroy();
  }
}

/** The text a router reads of a Playground prompt: the prompt, or a chat's last user message. */
export function routedText(prompt: GenerateRequest['prompt']): string {
  if (typeof prompt === 'string') return prompt;
  return [...prompt].reverse().find((message) => message.role === 'user')?.content ?? '';
}

export async function generateRoutedInStudio(
  request: GenerateRequest & { routerKey: string },
  model: LoadedModel,
  ctx: GpuContext,
  storage: Storage,
  signal: AbortSignal,
  progress: (event: RoutedGenerateProgress) => void,
): Promise<RoutedGenerateResponse> {
  const { bundle } = await openStoredRouter(storage, request.routerKey);
  if (bundle.router.baseModel.name !== request.source) {
    throw new CocktailError('ROUTER_MODEL_MISMATCH', `router "${request.routerKey}" routes adapters of ${bundle.router.baseModel.name}, but the Playground's model is ${request.source}: choose that model on the Model page, or another router`, { router: request.routerKey, model: request.source });
  }
  checkExpertsModel(bundle.adapters, request.source);
  const text = routedText(request.prompt);
  if (text.trim() === '') throw new CocktailError('ROUTER_EMPTY_PROMPT', 'the prompt is empty: the router has nothing to route by', { field: 'prompt' });
  const [routing] = await routePrompts(ctx, model.gpu, model.tokenizer, bundle.router, [text], { signal });
  progress({ kind: 'routed', routing: routing! });
  const adapter = await answeringAdapter(routing!, (name) => importPeftAdapter(bundle.adapters.get(name)!, model.config), model.config.numLayers);
  const lora = adapter ? await uploadLoraChecked(ctx, adapter, { training: false }) : undefined;
  try {
    const answer = await generateWithLora(request, model, ctx, lora, signal, ({ id, text: piece }) => progress({ kind: 'token', id, text: piece }));
    return { ...answer, routing: routing! };
  } finally {
    lora?.destroy();
  }
}
