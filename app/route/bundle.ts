/**
 * A router bundle (docs/router-format.md): each expert as a PEFT adapter folder in PEFT's
 * multi-adapter layout (<expert>/adapter_config.json + adapter_model.safetensors), router.safetensors
 * (standardization and head weights) and router.json (what the router reads and how it decides).
 * Files are a map of relative paths to Blobs, so the CLI writes them to a folder and the studio zips them.
 */
import { CocktailError } from '../errors.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftFiles } from '../train/peft.ts';
import { BASE_EXPERT, checkPolicy } from './decide.ts';
import { assignTasks, type ExpertTaskAssignment } from './assignment.ts';
import { adapterExperts, checkRoutedExpertName } from './experts.ts';
import { checkFeatureSpec, type Pooling } from './features.ts';
import type { HeadLayerWeights } from './head.ts';
import { routerTasks, type Router } from './router.ts';

export const ROUTER_JSON = 'router.json';
export const ROUTER_WEIGHTS = 'router.safetensors';
export const ROUTER_FORMAT = 'cocktail-router';
export const ROUTER_FORMAT_VERSION = 1;

export interface RouterBundle {
  router: Router;
  /** Every routed expert's adapter, and the fallback's when it is an adapter. */
  adapters: Map<string, PeftFiles>;
}

/** router.json, as docs/router-format.md describes it. */
interface RouterJson {
  format: typeof ROUTER_FORMAT;
  version: number;
  experts: string[];
  /** Per expert, the tasks whose training prompts taught it (absent in bundles before assignments: each expert's own name's task). */
  expert_tasks?: Record<string, string[]>;
  /** Per expert, its adapter folder, or null for "base" (no adapter). */
  expert_adapters?: Record<string, string | null>;
  base_model: { name_or_path: string; revision: string | null };
  features: { layer: number; pooling: Pooling; input: 'typed' | 'template'; add_bos: true; max_tokens: number | null };
  template: string;
  head: { in_features: number; hidden: number | null; activation: 'relu' | null; out_features: number; standardize: true };
  temperature: number;
  top_k: number;
  threshold: number;
  fallback: string | null;
  training?: Router['training'];
}

/** The bundle's adapter folders: every expert but "base", and the fallback when it is an adapter. */
function adapterFolders(experts: readonly string[], fallback: string | null): string[] {
  return [...new Set([...adapterExperts(experts), ...(fallback !== null && fallback !== BASE_EXPERT ? [fallback] : [])])];
}

const bytesOf = (values: Float32Array): Uint8Array<ArrayBuffer> => new Uint8Array(Float32Array.from(values).buffer);

export function writeRouterBundle(bundle: RouterBundle, options: { maxTokens?: number } = {}): Map<string, Blob> {
  const { router } = bundle;
  const files = new Map<string, Blob>();
  for (const name of adapterFolders(router.experts, router.policy.fallback)) {
    const adapter = bundle.adapters.get(name);
    if (!adapter) throw new CocktailError('ROUTER_BUNDLE_INCOMPLETE', `expert "${name}" has no adapter to write into the bundle`, { expert: name });
    files.set(`${name}/${ADAPTER_CONFIG}`, new Blob([adapter.config]));
    files.set(`${name}/${ADAPTER_WEIGHTS}`, adapter.weights);
  }
  const { head } = router;
  const hidden = head.layers.length > 1 ? head.layers[0]!.outFeatures : null;
  const json: RouterJson = {
    format: ROUTER_FORMAT,
    version: ROUTER_FORMAT_VERSION,
    experts: router.experts,
    expert_tasks: Object.fromEntries(router.experts.map((name, index) => [name, routerTasks(router)[index]!])),
    expert_adapters: Object.fromEntries(router.experts.map((name) => [name, name === BASE_EXPERT ? null : name])),
    base_model: { name_or_path: router.baseModel.name, revision: router.baseModel.revision },
    features: { layer: router.feature.layer, pooling: router.feature.pooling, input: router.input, add_bos: true, max_tokens: options.maxTokens ?? null },
    template: router.input === 'typed' ? '{prompt}' : "{the task's user turns as its template renders them}",
    head: { in_features: head.featureMean.length, hidden, activation: hidden === null ? null : 'relu', out_features: router.experts.length, standardize: true },
    temperature: head.temperature,
    top_k: router.policy.topK,
    threshold: router.policy.threshold,
    fallback: router.policy.fallback,
    ...(router.training ? { training: router.training } : {}),
  };
  files.set(ROUTER_JSON, new Blob([`${JSON.stringify(json, null, 2)}\n`]));
  const tensors: TensorToWrite[] = [
    { name: 'feature_mean', dtype: 'F32', shape: [head.featureMean.length], data: bytesOf(head.featureMean) },
    { name: 'feature_scale', dtype: 'F32', shape: [head.featureScale.length], data: bytesOf(head.featureScale) },
    ...head.layers.flatMap((layer, index): TensorToWrite[] => [
      { name: `layers.${index}.weight`, dtype: 'F32', shape: [layer.outFeatures, layer.inFeatures], data: bytesOf(layer.w) },
      { name: `layers.${index}.bias`, dtype: 'F32', shape: [layer.outFeatures], data: bytesOf(layer.b) },
    ]),
  ];
  files.set(ROUTER_WEIGHTS, writeSafetensors(tensors, { format: 'pt' }));
  return files;
}

/** Reads a bundle back, refusing one whose expert list and folders disagree or whose weights do not fit router.json. */
export async function readRouterBundle(files: ReadonlyMap<string, Blob>, label: string): Promise<RouterBundle> {
  const fail = (code: string, problem: string, details: Record<string, unknown> = {}) => new CocktailError(code, `${label}: ${problem}`, { bundle: label, ...details });
  const jsonBlob = files.get(ROUTER_JSON);
  if (!jsonBlob) throw fail('ROUTER_BUNDLE_INVALID', `no ${ROUTER_JSON}; a router bundle holds ${ROUTER_JSON}, ${ROUTER_WEIGHTS} and one adapter folder per expert`);
  let json: RouterJson;
  try {
    json = JSON.parse(await jsonBlob.text()) as RouterJson;
  } catch (error) {
    throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_JSON} is not JSON (${(error as Error).message})`, { file: ROUTER_JSON });
  }
  if (json.format !== ROUTER_FORMAT || json.version !== ROUTER_FORMAT_VERSION) {
    throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_JSON} is not a ${ROUTER_FORMAT} version ${ROUTER_FORMAT_VERSION} file (format ${JSON.stringify(json.format)}, version ${JSON.stringify(json.version)})`, { file: ROUTER_JSON });
  }
  if (!Array.isArray(json.experts) || json.experts.length < 2) throw fail('ROUTER_TOO_FEW_EXPERTS', `${ROUTER_JSON} lists ${Array.isArray(json.experts) ? json.experts.length : 'no'} experts; a router chooses between at least two`, { field: 'experts' });
  json.experts.forEach(checkRoutedExpertName);
  const twice = json.experts.find((name, index) => json.experts.indexOf(name) !== index);
  if (twice !== undefined) throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_JSON} lists expert "${twice}" twice`, { field: 'experts' });
  const tasks = bundleTasks(json, fail);
  const policy = { topK: json.top_k, threshold: json.threshold, fallback: json.fallback };
  checkPolicy(policy, json.experts);

  const folders = new Set([...files.keys()].filter((path) => path.includes('/')).map((path) => path.slice(0, path.indexOf('/'))));
  const expectedFolders = adapterFolders(json.experts, json.fallback);
  const missing = expectedFolders.filter((name) => !files.has(`${name}/${ADAPTER_CONFIG}`) || !files.has(`${name}/${ADAPTER_WEIGHTS}`));
  const extra = [...folders].filter((name) => !expectedFolders.includes(name));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      ...(missing.length > 0 ? [`no adapter folder (${ADAPTER_CONFIG} + ${ADAPTER_WEIGHTS}) for ${missing.map((name) => `"${name}"`).join(', ')}`] : []),
      ...(extra.length > 0 ? [`folder(s) ${extra.map((name) => `"${name}"`).join(', ')} that ${ROUTER_JSON} does not list`] : []),
    ];
    throw fail('ROUTER_BUNDLE_MISMATCH', `the expert list of ${ROUTER_JSON} (${json.experts.join(', ')}) does not match the bundle's folders: ${parts.join('; ')}`, { missing, extra });
  }

  const weightsBlob = files.get(ROUTER_WEIGHTS);
  if (!weightsBlob) throw fail('ROUTER_BUNDLE_INVALID', `no ${ROUTER_WEIGHTS}`);
  const weights = await readSafetensorsHeader(weightsBlob, `${label}/${ROUTER_WEIGHTS}`);
  const read = async (name: string, shape: number[]): Promise<Float32Array> => {
    const entry = weights.tensors.get(name);
    if (!entry || entry.dtype !== 'F32' || entry.shape.join(',') !== shape.join(',')) {
      throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_WEIGHTS} must hold "${name}" as F32 [${shape.join(', ')}] for the head ${ROUTER_JSON} describes; found ${entry ? `${entry.dtype} [${entry.shape.join(', ')}]` : 'nothing'}`, { tensor: name });
    }
    const bytes = await readTensorBytes(weights, name);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const { in_features: C, hidden, out_features: K } = json.head;
  if (K !== json.experts.length) throw fail('ROUTER_BUNDLE_INVALID', `the head has ${K} outputs but ${ROUTER_JSON} lists ${json.experts.length} experts`, { field: 'head.out_features' });
  const sizes = hidden === null ? [C, K] : [C, hidden, K];
  const layers: HeadLayerWeights[] = [];
  for (let index = 0; index < sizes.length - 1; index++) {
    const [inFeatures, outFeatures] = [sizes[index]!, sizes[index + 1]!];
    layers.push({ inFeatures, outFeatures, w: await read(`layers.${index}.weight`, [outFeatures, inFeatures]), b: await read(`layers.${index}.bias`, [outFeatures]) });
  }
  const feature = { layer: json.features.layer, pooling: json.features.pooling };
  checkFeatureSpec(feature, { numLayers: Number.MAX_SAFE_INTEGER });
  if (feature.pooling === 'mean_last' && C % 2 !== 0) {
    throw fail('ROUTER_BUNDLE_INVALID', `"mean_last" pooling joins two hidden states, so head.in_features must be even (2 × the hidden size), not ${C}`, { field: 'head.in_features' });
  }
  const adapters = new Map<string, PeftFiles>();
  for (const name of expectedFolders) {
    adapters.set(name, { config: await files.get(`${name}/${ADAPTER_CONFIG}`)!.text(), weights: files.get(`${name}/${ADAPTER_WEIGHTS}`)!, location: `${label}/${name}` });
  }
  return {
    router: {
      experts: json.experts,
      ...(tasks ? { tasks } : {}),
      feature,
      input: json.features.input,
      head: { featureMean: await read('feature_mean', [C]), featureScale: await read('feature_scale', [C]), layers, temperature: json.temperature },
      policy,
      baseModel: { name: json.base_model.name_or_path, revision: json.base_model.revision },
      ...(json.training ? { training: json.training } : {}),
    },
    adapters,
  };
}

/**
 * router.json's expert_tasks and expert_adapters checked against its expert list: every expert has
 * its tasks, no task teaches two experts, and exactly "base" has no adapter folder. A bundle from
 * before assignments has neither field: each expert learned from its own name's task.
 */
function bundleTasks(json: RouterJson, fail: (code: string, problem: string, details?: Record<string, unknown>) => CocktailError): ExpertTaskAssignment | undefined {
  if (json.expert_adapters !== undefined) {
    for (const name of json.experts) {
      const folder = json.expert_adapters[name];
      const expected = name === BASE_EXPERT ? null : name;
      if (folder !== expected) {
        throw fail('ROUTER_BUNDLE_MISMATCH', `${ROUTER_JSON}'s expert_adapters gives expert "${name}" ${folder === undefined ? 'nothing' : JSON.stringify(folder)}; it must be ${expected === null ? 'null ("base" has no adapter)' : `its folder "${name}"`}`, { field: 'expert_adapters', expert: name });
      }
    }
    const strangers = Object.keys(json.expert_adapters).filter((name) => !json.experts.includes(name));
    if (strangers.length > 0) throw fail('ROUTER_BUNDLE_MISMATCH', `${ROUTER_JSON}'s expert_adapters names ${strangers.map((name) => `"${name}"`).join(', ')}, not in its expert list (${json.experts.join(', ')})`, { field: 'expert_adapters' });
  }
  if (json.expert_tasks === undefined) return undefined;
  const listed = json.expert_tasks;
  const malformed = json.experts.filter((name) => !Array.isArray(listed[name]) || !listed[name].every((task) => typeof task === 'string'));
  if (malformed.length > 0) throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_JSON}'s expert_tasks must give each expert a list of task names; ${malformed.map((name) => `"${name}"`).join(', ')} ${malformed.length === 1 ? 'has' : 'have'} none`, { field: 'expert_tasks' });
  const explicit = new Map(Object.entries(listed));
  try {
    return assignTasks(json.experts, [...new Set(Object.values(listed).flat())], explicit);
  } catch (error) {
    if (error instanceof CocktailError) throw fail('ROUTER_BUNDLE_INVALID', `${ROUTER_JSON}'s expert_tasks: ${error.message}`, { field: 'expert_tasks' });
    throw error;
  }
}
