/**
 * model.importLocal: a model folder the user picked or dropped, checked and copied into storage as
 * `local/<name>`. It is written in the Hub cache layout under revision "local" (app/model/hub.ts), with
 * the optional files it lacks recorded as absent, so every later load — model.load, train.run's
 * openModel, generation — finds it complete through filesFromHub and never asks the network.
 *
 * Everything is checked before a byte is written (config, tokenizer, every weight's name, shape and
 * dtype); a write that fails or is cancelled deletes what it wrote. Only the files the studio loads are
 * kept: a folder's README, PyTorch .bin checkpoints or other ONNX variants are left out.
 */
import { CocktailError } from '../app/errors.ts';
import { cacheAbsentFile, cacheLocalFile, deleteCachedModel, OPTIONAL_FILES, REQUIRED_FILES, WEIGHTS_INDEX } from '../app/model/hub.ts';
import { filesFromList, missingFile, type ModelFiles } from '../app/model/source.ts';
import type { Storage } from '../app/store/storage.ts';
import { LOCAL_PREFIX, LOCAL_REVISION, ONNX_EXPORT } from './model-files.ts';
import { summarizeModel } from './model-summary.ts';
import type { Commands, ModelSummary } from './protocol.ts';

type ImportRequest = Commands['model.importLocal']['payload'];
type ImportProgress = Commands['model.importLocal']['progress'];

/** The name as a Hub-style id part (letters, digits, "_", ".", "-"), so `local/<name>` is a valid source. */
export function localModelName(name: string): string {
  const cleaned = name
    .trim()
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '');
  if (!cleaned) throw new CocktailError('MODEL_BAD_NAME', `"${name}" cannot name a model; use letters, digits, "-", "_" or "."`, { name });
  return cleaned;
}

export async function importLocalModel(request: ImportRequest, storage: Storage, signal: AbortSignal, progress: (progress: ImportProgress) => void): Promise<ModelSummary> {
  const name = localModelName(request.name);
  const source = `${LOCAL_PREFIX}${name}`;
  const picked = pickedFiles(request, name);
  const wanted = await filesTheStudioLoads(picked);
  const model = restrictTo(picked, wanted);
  const summary = await summarizeModel(model, { source, revision: LOCAL_REVISION, label: source }, async (path) => (await model.open(path)).size);

  // A new import of a name replaces the earlier one.
  await deleteCachedModel(storage, source, LOCAL_REVISION);
  try {
    // config.json last: a local model whose config is stored is complete (openModelFiles relies on it).
    for (const path of [...wanted.filter((path) => path !== 'config.json'), 'config.json']) {
      await cacheLocalFile(storage, source, LOCAL_REVISION, path, await model.open(path), { signal, onProgress: (loaded, total) => progress({ file: path, loaded, total }) });
    }
    for (const path of [...OPTIONAL_FILES, WEIGHTS_INDEX, ONNX_EXPORT]) if (!model.has(path)) await cacheAbsentFile(storage, source, LOCAL_REVISION, path);
  } catch (error) {
    await deleteCachedModel(storage, source, LOCAL_REVISION);
    throw error;
  }
  return summary;
}

/**
 * The picked files by their path inside the model folder: `paths` when the page gives them (a dropped
 * folder's entries carry no webkitRelativePath), else what filesFromList derives.
 */
function pickedFiles(request: ImportRequest, label: string): ModelFiles {
  const { files, paths } = request;
  if (files.length === 0) throw new CocktailError('MODEL_FILE_MISSING', `${label}: no files were given; pick the model's folder (the one with config.json)`, {});
  if (!paths) return filesFromList(files, label);
  if (paths.length !== files.length) throw new CocktailError('BAD_MESSAGE', `model.importLocal got ${files.length} files but ${paths.length} paths`, {});
  const byPath = new Map(paths.map((path, index) => [path.replace(/^\/+/, ''), files[index]!]));
  return {
    label,
    has: (path) => byPath.has(path),
    open: async (path) => byPath.get(path) ?? Promise.reject(new CocktailError('MODEL_FILE_MISSING', `${label}: ${path} was not among the files given`, { file: path })),
    list: () => [...byPath.keys()].sort(),
  };
}

/** The files loads read (see filesFromHub), of those picked: required, optional, weights, the ONNX export. */
async function filesTheStudioLoads(files: ModelFiles): Promise<string[]> {
  const weights = files.has(WEIGHTS_INDEX) ? [WEIGHTS_INDEX, ...(await shardsOf(files))] : ['model.safetensors'];
  return [...new Set([...REQUIRED_FILES, ...OPTIONAL_FILES, ...weights, ONNX_EXPORT])].filter((path) => files.has(path));
}

async function shardsOf(files: ModelFiles): Promise<string[]> {
  try {
    const index = JSON.parse(await (await files.open(WEIGHTS_INDEX)).text()) as { weight_map?: Record<string, string> };
    return [...new Set(Object.values(index.weight_map ?? {}))];
  } catch {
    return []; // locateWeights reports the broken index, naming it
  }
}

function restrictTo(files: ModelFiles, paths: readonly string[]): ModelFiles {
  const kept = new Set(paths);
  return {
    label: files.label,
    has: (path) => kept.has(path),
    open: (path) => (kept.has(path) ? files.open(path) : Promise.reject(missingFile(files, path, 'the studio does not load it'))),
    list: () => [...kept].sort(),
    ...(files.locate ? { locate: files.locate } : {}),
  };
}
