/**
 * PEFT adapters brought into the Library: a zip holding adapter_config.json and
 * adapter_model.safetensors, or the two files chosen together. They are checked before anything is
 * stored — against the model they are for when its config is at hand (every tensor's name and
 * shape, as importPeftAdapter reads them), else for their own consistency — and every problem names
 * the file at fault.
 */
import { CocktailError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { readSafetensorsHeader } from '../model/safetensors.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, importPeftAdapter, unzipPeftAdapter, type PeftFiles } from '../train/peft.ts';

/** The part of a File this needs, so Node tests can pass Blobs with names. */
export interface NamedBlob extends Blob {
  readonly name: string;
}

export interface PeftUpload {
  files: PeftFiles;
  /** Where it came from, for messages and the default name: "my-adapter.zip", or the two files. */
  source: string;
  /** A name for the library: the zip's name without ".zip" (and "-peft"), or "adapter". */
  suggestedName: string;
}

export interface PeftSummary {
  r: number;
  alpha: number;
  targets: string[];
  baseModel?: string;
  tensors: number;
  /** Checked tensor by tensor against this model's config (else only for its own consistency). */
  checkedAgainstModel: boolean;
}

const invalid = (file: string, problem: string) => new CocktailError('ADAPTER_INVALID', `${file}: ${problem}`, { file });

/** Reads what the user chose: one zip, or adapter_config.json with adapter_model.safetensors. */
export async function readPeftUpload(chosen: readonly NamedBlob[]): Promise<PeftUpload> {
  if (chosen.length === 0) throw new CocktailError('ADAPTER_INVALID', `Choose a PEFT adapter: a .zip, or both ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
  if (chosen.length === 1) {
    const [file] = chosen as [NamedBlob];
    if (!/\.zip$/i.test(file.name)) {
      throw invalid(file.name, `is not a .zip; choose the adapter's zip, or both ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} together`);
    }
    const files = unzipPeftAdapter(new Uint8Array(await file.arrayBuffer()), file.name);
    return { files, source: file.name, suggestedName: file.name.replace(/\.zip$/i, '').replace(/-peft$/, '') || 'adapter' };
  }
  const other = chosen.find((file) => file.name !== ADAPTER_CONFIG && file.name !== ADAPTER_WEIGHTS);
  if (other) throw invalid(other.name, `is not part of a PEFT adapter; choose a .zip, or only ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
  const twice = chosen.find((file, index) => chosen.findIndex((f) => f.name === file.name) !== index);
  if (twice) throw invalid(twice.name, 'was chosen twice; choose one adapter at a time');
  // Two files, both named as PEFT names them, neither twice: one of each.
  const config = chosen.find((file) => file.name === ADAPTER_CONFIG)!;
  const weights = chosen.find((file) => file.name === ADAPTER_WEIGHTS)!;
  return { files: { config: await config.text(), weights }, source: `${ADAPTER_CONFIG} + ${ADAPTER_WEIGHTS}`, suggestedName: 'adapter' };
}

/**
 * Checks an adapter before it is stored. With the model's config, importPeftAdapter reads every
 * tensor the model needs with its exact shape. Without it, the config must be a LoRA config and the
 * weights a well-formed safetensors file whose LoRA tensors have rank r.
 */
export async function checkPeftAdapter(files: PeftFiles, model?: ModelConfig): Promise<PeftSummary> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(files.config) as Record<string, unknown>;
  } catch (error) {
    throw invalid(ADAPTER_CONFIG, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(ADAPTER_CONFIG, 'is not a JSON object');
  const baseModel = typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : undefined;
  const header = await readSafetensorsHeader(files.weights, ADAPTER_WEIGHTS);

  if (model) {
    const adapter = await importPeftAdapter(files, model);
    return { r: adapter.config.r, alpha: adapter.config.alpha, targets: [...adapter.config.targets], ...(baseModel ? { baseModel } : {}), tensors: 2 * adapter.pairs.size, checkedAgainstModel: true };
  }

  if (raw.peft_type !== 'LORA') throw invalid(ADAPTER_CONFIG, `peft_type is ${JSON.stringify(raw.peft_type)}; only LORA adapters are supported`);
  const r = raw.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw invalid(ADAPTER_CONFIG, `r is ${JSON.stringify(r)}; it must be a positive whole number`);
  const alpha = typeof raw.lora_alpha === 'number' ? raw.lora_alpha : r;
  const targets = Array.isArray(raw.target_modules) ? raw.target_modules.map(String) : typeof raw.target_modules === 'string' ? [raw.target_modules] : [];
  if (targets.length === 0) throw invalid(ADAPTER_CONFIG, 'target_modules lists no modules');

  let loraTensors = 0;
  for (const entry of header.tensors.values()) {
    const matrix = entry.name.match(/\.lora_([AB])(\.default)?\.weight$/)?.[1];
    if (!matrix) continue;
    loraTensors++;
    const rank = matrix === 'A' ? entry.shape[0] : entry.shape[1];
    if (entry.shape.length !== 2 || rank !== r) {
      throw invalid(ADAPTER_WEIGHTS, `tensor "${entry.name}" has shape [${entry.shape.join(', ')}]; with r=${r} lora_${matrix} must be ${matrix === 'A' ? '[r, in]' : '[out, r]'}`);
    }
  }
  if (loraTensors === 0) throw invalid(ADAPTER_WEIGHTS, 'holds no lora_A or lora_B tensors');
  return { r, alpha, targets, ...(baseModel ? { baseModel } : {}), tensors: loraTensors, checkedAgainstModel: false };
}

/** A library key for an imported adapter that does not overwrite one already there. */
export function importedAdapterKey(name: string, taken: ReadonlySet<string>): string {
  const base = `imported/${name.replace(/\//g, '-').trim() || 'adapter'}`;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
