/**
 * Where the adapter is in what Axolotl, LLaMA-Factory and TRL leave behind. Each of them trains with
 * transformers' Trainer, which saves the final adapter at the top of `output_dir` (trainer.save_model)
 * and intermediate ones in `output_dir/checkpoint-<global step>/` (transformers' PREFIX_CHECKPOINT_DIR
 * is "checkpoint"), each beside optimizer.pt, scheduler.pt, trainer_state.json and the like. Given
 * every file path of such a folder (or zip), this picks the adapter a person means: the final one when
 * it was saved, else the checkpoint of the highest step.
 */
import { CocktailError } from '../errors.ts';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** What PEFT wrote before safetensors became its default (safe_serialization=False): a pickle we do not read. */
const PICKLED_WEIGHTS_FILE = 'adapter_model.bin';

export interface AdapterLocation {
  /** The folder holding both files, relative to the root ("" for the root itself), without a trailing slash. */
  folder: string;
  /** The step of a checkpoint-N folder, when the adapter came from one. */
  checkpointStep?: number;
  /** Every folder that held an adapter, for saying which one was chosen. */
  candidates: string[];
}

/**
 * Picks the adapter among relative file paths ("checkpoint-500/adapter_config.json", ...). `label`
 * names the folder or zip in messages.
 */
export function locateAdapter(paths: readonly string[], label: string): AdapterLocation {
  const normalized = paths.map((path) => path.replace(/\\/g, '/').replace(/^\.\//, ''));
  const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
  const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  const folders = (name: string) => new Set(normalized.filter((path) => baseName(path) === name && !isHidden(path)).map(folderOf));
  const configs = folders(ADAPTER_CONFIG_FILE);
  const weights = folders(ADAPTER_WEIGHTS_FILE);
  const candidates = [...configs].filter((folder) => weights.has(folder));
  if (candidates.length === 0) {
    const pickled = [...folders(PICKLED_WEIGHTS_FILE)].find((folder) => configs.has(folder));
    if (pickled !== undefined) {
      throw new CocktailError(
        'ADAPTER_INVALID',
        `${label}: ${pickled ? `${pickled}/` : ''}${PICKLED_WEIGHTS_FILE} is a PyTorch pickle, which is not read here (it can run code); save the adapter with safe_serialization=True (the default of recent PEFT) to get ${ADAPTER_WEIGHTS_FILE}`,
        { file: label },
      );
    }
    throw new CocktailError(
      'ADAPTER_INVALID',
      `${label}: no folder in it holds both ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}; give a PEFT adapter folder, a training output_dir (its checkpoint-N folders are searched), or a zip of either`,
      { file: label },
    );
  }
  // The shallowest folder that is not a checkpoint is the final save; without one, the latest checkpoint.
  const finals = candidates.filter((folder) => checkpointStep(folder) === undefined).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
  if (finals.length > 0 && (finals.length === 1 || depth(finals[0]!) < depth(finals[1]!))) return { folder: finals[0]!, candidates };
  const checkpoints = candidates
    .map((folder) => ({ folder, step: checkpointStep(folder) }))
    .filter((entry): entry is { folder: string; step: number } => entry.step !== undefined)
    .sort((a, b) => b.step - a.step);
  if (finals.length === 0 && checkpoints.length > 0) {
    const latest = checkpoints.filter((entry) => entry.step === checkpoints[0]!.step);
    if (latest.length === 1) return { folder: latest[0]!.folder, checkpointStep: latest[0]!.step, candidates };
  }
  throw new CocktailError('ADAPTER_AMBIGUOUS', `${label} holds several adapters (${candidates.map((c) => c || '(top)').join(', ')}); give the folder of the one you mean`, {
    file: label,
    candidates,
  });
}

/** N of a folder whose last part is "checkpoint-N". */
function checkpointStep(folder: string): number | undefined {
  const match = /(?:^|\/)checkpoint-(\d+)$/.exec(folder);
  return match ? Number(match[1]) : undefined;
}

function depth(folder: string): number {
  return folder === '' ? 0 : folder.split('/').length;
}

/** macOS zips carry __MACOSX/ copies of every file; they are not the adapter. */
function isHidden(path: string): boolean {
  return path.startsWith('__MACOSX/') || path.split('/').some((part) => part.startsWith('._'));
}

/**
 * Refuses an adapter trained on another base model when both are Hub ids (owner/name) that differ.
 * A local path on either side names no model we can compare; the tensor shapes are still checked
 * against the model when the adapter is read (importPeftAdapter).
 */
export function checkAdapterBaseModel(adapterConfig: string, modelSource: string, label: string): void {
  let base: unknown;
  try {
    base = (JSON.parse(adapterConfig) as Record<string, unknown>).base_model_name_or_path;
  } catch {
    return; // importPeftAdapter reports the broken JSON with its own message.
  }
  if (typeof base !== 'string' || !isHubId(base) || !isHubId(modelSource)) return;
  if (base.toLowerCase() !== modelSource.toLowerCase()) {
    throw new CocktailError('ADAPTER_BASE_MISMATCH', `${label}: the adapter was trained on ${base} (base_model_name_or_path in ${ADAPTER_CONFIG_FILE}), not on ${modelSource}, the model it is applied to here`, {
      file: label,
      field: 'base_model_name_or_path',
      adapterBase: base,
      model: modelSource,
    });
  }
}

function isHubId(name: string): boolean {
  // The studio keeps models opened from disk as "local/<name>"; the CLI passes only sources that are no local folder.
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(name) && !name.startsWith('local/');
}
