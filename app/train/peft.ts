/**
 * PEFT's on-disk LoRA format (ENGINEERING.md §6), so adapters trained here load in the Python
 * ecosystem (`PeftModel.from_pretrained`) and adapters trained there load here:
 *   adapter_config.json            peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, target_modules, ...
 *   adapter_model.safetensors      base_model.model.model.layers.<i>.<module>.lora_A.weight [r, in]
 *                                  base_model.model.model.layers.<i>.<module>.lora_B.weight [out, r]
 *                                  metadata {"format": "pt"}
 */
import { unzipSync, zipSync } from 'fflate';
import { CocktailError } from '../errors.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../gpu/dtype.ts';
import { LORA_TARGETS, type LoraTarget, type ModelConfig } from '../model/config.ts';
import { loraPairKey, projectionShape, validateLoraConfig, type LoraAdapter, type LoraConfig, type LoraPair } from '../model/lora.ts';
import { locateAdapter } from './peft-layout.ts';
import { readSafetensorsHeader, readTensorBytes, writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_README = 'README.md';

export interface PeftFiles {
  config: string;
  weights: Blob;
  /** What a Python user must know before loading it (README.md in the zip); absent when nothing. */
  readme?: string;
  /** Where the files were read from (a folder or zip path), so a refusal names the file in full. */
  location?: string;
}

/** The studio's name for a model opened from a folder: `local/<folder>`. */
const LOCAL_PREFIX = 'local/';

export interface PeftBaseModel {
  /** adapter_config.json's base_model_name_or_path. */
  name: string;
  /** Set when that name is only the folder's: what to set instead before PeftModel.from_pretrained. */
  note?: string;
}

/**
 * The base model an exported adapter names. A Hub id is what Python loads; a model opened from a
 * folder is named by its config's own `_name_or_path` when it has one. Without one the folder's
 * name is all there is, and the export says so.
 */
export function peftBaseModel(source: string, config: Pick<ModelConfig, 'nameOrPath'>): PeftBaseModel {
  if (!source.startsWith(LOCAL_PREFIX)) return { name: source };
  if (config.nameOrPath) return { name: config.nameOrPath };
  const folder = source.slice(LOCAL_PREFIX.length);
  return {
    name: folder,
    note:
      `This adapter was trained on the model opened from the folder "${folder}", whose config.json names no Hub id (_name_or_path), ` +
      `so adapter_config.json's base_model_name_or_path is only "${folder}". Before PeftModel.from_pretrained can find the base model, ` +
      'set base_model_name_or_path to its Hub id or local path, or load the base model yourself and pass it: ' +
      'PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("<path or Hub id>"), "<this adapter folder>").',
  };
}

const tensorName = (layer: number, target: LoraTarget, matrix: 'A' | 'B') => `base_model.model.model.layers.${layer}.${LORA_TARGETS[target]}.lora_${matrix}.weight`;

export function peftAdapterConfig(config: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...config.targets].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: config.rslora,
  };
}

/** `baseModel` is base_model_name_or_path (see peftBaseModel); `readme`, when given, goes beside the two files. */
export function exportPeftAdapter(adapter: LoraAdapter, model: ModelConfig, baseModel: string, readme?: string): PeftFiles {
  const tensors: TensorToWrite[] = [];
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const target of [...adapter.config.targets].sort()) {
      const pair = adapter.pairs.get(loraPairKey(layer, target));
      if (!pair) throw new CocktailError('ADAPTER_INCOMPLETE', `the adapter has no LoRA pair for layer ${layer} ${target}`);
      const { r } = adapter.config;
      tensors.push(
        { name: tensorName(layer, target, 'A'), dtype: 'F32', shape: [r, pair.inFeatures], data: bytesOf(pair.a) },
        { name: tensorName(layer, target, 'B'), dtype: 'F32', shape: [pair.outFeatures, r], data: bytesOf(pair.b) },
      );
    }
  }
  return {
    config: `${JSON.stringify(peftAdapterConfig(adapter.config, baseModel), null, 2)}\n`,
    weights: writeSafetensors(tensors, { format: 'pt' }),
    ...(readme ? { readme } : {}),
  };
}

/** Both files in one zip (stored, not compressed: float weights barely compress). */
export async function zipPeftAdapter(files: PeftFiles): Promise<Uint8Array> {
  return zipSync(
    {
      [ADAPTER_CONFIG]: new TextEncoder().encode(files.config),
      [ADAPTER_WEIGHTS]: new Uint8Array(await files.weights.arrayBuffer()),
      ...(files.readme ? { [ADAPTER_README]: new TextEncoder().encode(files.readme) } : {}),
    },
    { level: 0 },
  );
}

export function unzipPeftAdapter(zip: Uint8Array, fileName = 'adapter.zip'): PeftFiles {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (error) {
    throw new CocktailError('ADAPTER_INVALID', `${fileName} is not a readable zip (${(error as Error).message})`, { file: fileName });
  }
  // The two files at the top, inside one folder (as people zip them either way), or a training
  // output_dir with checkpoint-N folders: peft-layout.ts picks which.
  const { folder } = locateAdapter(Object.keys(entries), fileName);
  const prefix = folder === '' ? '' : `${folder}/`;
  const config = entries[`${prefix}${ADAPTER_CONFIG}`]!;
  const weights = entries[`${prefix}${ADAPTER_WEIGHTS}`]!;
  return { config: new TextDecoder().decode(config), weights: new Blob([weights as Uint8Array<ArrayBuffer>]) };
}

/**
 * Reads a PEFT LoRA adapter and checks it against the model it is to be applied to. Anything the
 * engine would not apply (tensors for layers the model lacks, modules_to_save, LoRA biases, DoRA
 * magnitudes, targets left out of target_modules, partial layers) is refused, not silently dropped:
 * an adapter run without part of itself gives outputs its trainer never saw.
 */
export async function importPeftAdapter(files: PeftFiles, model: ModelConfig): Promise<LoraAdapter> {
  const pathOf = (file: string) => (files.location ? `${files.location}/${file}` : file);
  const fail = (file: string, problem: string, details: Record<string, unknown> = {}) =>
    new CocktailError('ADAPTER_INVALID', `${pathOf(file)}: ${problem}`, { file: pathOf(file), ...details });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(files.config) as Record<string, unknown>;
  } catch (error) {
    throw fail(ADAPTER_CONFIG, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(ADAPTER_CONFIG, 'must be a JSON object of settings');
  if (raw.peft_type !== 'LORA') throw fail(ADAPTER_CONFIG, `peft_type is ${JSON.stringify(raw.peft_type)}; only LORA adapters are supported`, { field: 'peft_type' });
  if (raw.use_dora === true) throw fail(ADAPTER_CONFIG, 'use_dora is true; DoRA adapters are not supported', { field: 'use_dora' });
  if (raw.fan_in_fan_out === true) throw fail(ADAPTER_CONFIG, 'fan_in_fan_out is true, which is for GPT-2 style Conv1D layers, not Llama-family models', { field: 'fan_in_fan_out' });
  for (const field of ['rank_pattern', 'alpha_pattern'] as const) {
    if (raw[field] && Object.keys(raw[field] as object).length > 0) throw fail(ADAPTER_CONFIG, `${field} is set; per-module ranks are not supported`, { field });
  }
  if (raw.bias !== undefined && raw.bias !== null && raw.bias !== 'none') {
    throw fail(ADAPTER_CONFIG, `bias is ${JSON.stringify(raw.bias)}; this engine applies LoRA without trained biases (bias "none"), so the adapter's biases would be ignored`, { field: 'bias' });
  }
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0) {
    throw fail(ADAPTER_CONFIG, `modules_to_save lists ${raw.modules_to_save.map((m) => JSON.stringify(m)).join(', ')}; fully trained modules are not applied by this engine, so the adapter would run without them`, { field: 'modules_to_save' });
  }
  if (raw.layers_to_transform !== undefined && raw.layers_to_transform !== null) {
    throw fail(ADAPTER_CONFIG, `layers_to_transform is ${JSON.stringify(raw.layers_to_transform)}; this engine applies LoRA to every layer, so adapters of some layers only are not supported`, { field: 'layers_to_transform' });
  }
  for (const [field, name] of [['r', 'r'], ['lora_alpha', 'lora_alpha']] as const) {
    if (typeof raw[field] !== 'number' || !(Number(raw[field]) > 0)) {
      throw fail(ADAPTER_CONFIG, `${name} is ${raw[field] === undefined ? 'missing' : JSON.stringify(raw[field])}; it must be a positive number (PEFT writes it)`, { field });
    }
  }
  const targets = parseTargets(raw.target_modules, (problem) => fail(ADAPTER_CONFIG, problem, { field: 'target_modules' }));
  const config: LoraConfig = {
    r: raw.r as number,
    alpha: raw.lora_alpha as number,
    dropout: typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0,
    targets,
    rslora: raw.use_rslora === true,
  };
  try {
    validateLoraConfig(config);
  } catch (error) {
    if (error instanceof CocktailError) throw fail(ADAPTER_CONFIG, error.message.replace(/^lora\.alpha/, 'lora_alpha').replace(/^lora\./, ''), error.details);
    throw error;
  }

  const weights = await readSafetensorsHeader(files.weights, pathOf(ADAPTER_WEIGHTS));
  const used = new Set<string>();
  const pairs = new Map<string, LoraPair>();
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const target of targets) {
      const { inFeatures, outFeatures } = projectionShape(model, target);
      const read = async (matrix: 'A' | 'B', shape: number[]): Promise<Float32Array> => {
        const name = tensorName(layer, target, matrix);
        const entry = weights.tensors.get(name) ?? weights.tensors.get(name.replace('.weight', '.default.weight'));
        if (!entry) throw fail(ADAPTER_WEIGHTS, `tensor "${name}" is missing`, { tensor: name });
        if (entry.shape.join(',') !== shape.join(',')) {
          throw fail(ADAPTER_WEIGHTS, `tensor "${name}" has shape [${entry.shape.join(', ')}]; this model needs [${shape.join(', ')}] (r=${config.r})`, { tensor: name });
        }
        used.add(entry.name);
        const values = toFloat32(await readTensorBytes(weights, entry.name), entry.dtype, name);
        const bad = values.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) {
          throw new CocktailError('ADAPTER_NONFINITE', `${pathOf(ADAPTER_WEIGHTS)}: tensor "${entry.name}" holds ${values[bad]} at element ${bad}; an adapter with NaN or Inf weights cannot be applied. It was saved from a diverged run: use an earlier checkpoint.`, {
            file: pathOf(ADAPTER_WEIGHTS),
            tensor: entry.name,
            element: bad,
          });
        }
        return values;
      };
      pairs.set(loraPairKey(layer, target), { a: await read('A', [config.r, inFeatures]), b: await read('B', [outFeatures, config.r]), inFeatures, outFeatures });
    }
  }
  const unused = [...weights.tensors.keys()].filter((name) => !used.has(name));
  if (unused.length > 0) {
    const reasons = unused.map((name) => `"${name}" (${unusedReason(name, model, targets)})`);
    throw fail(ADAPTER_WEIGHTS, `${unused.length} tensor(s) this model cannot use would be ignored: ${reasons.slice(0, 5).join('; ')}${unused.length > 5 ? `; and ${unused.length - 5} more` : ''}. Use an adapter trained for this model with plain LoRA.`, {
      tensors: unused,
    });
  }
  return { config, pairs };
}

/** Why a tensor of an adapter file is one the engine would not apply. */
function unusedReason(name: string, model: ModelConfig, targets: readonly LoraTarget[]): string {
  if (name.includes('lora_magnitude_vector')) return 'a DoRA magnitude; DoRA is not supported';
  if (name.includes('modules_to_save')) return 'a fully trained module (modules_to_save), not LoRA';
  const layer = /\.layers\.(\d+)\./.exec(name)?.[1];
  if (layer !== undefined && Number(layer) >= model.numLayers) return `layer ${layer}, but the model has ${model.numLayers} layers (0 to ${model.numLayers - 1})`;
  if (/\.lora_[AB]\.(default\.)?bias$/.test(name) || name.endsWith('.bias')) return 'a bias; LoRA here trains no biases (bias "none")';
  const module = /\.([a-z_]+)\.lora_[AB]\./.exec(name)?.[1];
  if (module && module in LORA_TARGETS && !targets.includes(module as LoraTarget)) return `target ${module}, which adapter_config.json's target_modules does not list`;
  if (module && !(module in LORA_TARGETS)) return `module ${module}, which is not one of ${Object.keys(LORA_TARGETS).join(', ')}`;
  return 'not a LoRA A or B matrix of a decoder layer';
}

function parseTargets(value: unknown, fail: (problem: string) => Error): LoraTarget[] {
  const names = Array.isArray(value) ? value : typeof value === 'string' ? [value] : undefined;
  if (!names || names.length === 0) throw fail(`target_modules ${JSON.stringify(value)} must list module names`);
  const targets = names.map((name) => String(name).split('.').at(-1));
  for (const target of targets) {
    if (!(target! in LORA_TARGETS)) throw fail(`target module "${target}" is not one of ${Object.keys(LORA_TARGETS).join(', ')}`);
  }
  return [...new Set(targets as LoraTarget[])];
}

function toFloat32(bytes: Uint8Array, dtype: string, name: string): Float32Array {
  if (dtype === 'F32') return new Float32Array(bytes.slice().buffer);
  if (dtype !== 'BF16' && dtype !== 'F16') {
    throw new CocktailError('ADAPTER_INVALID', `${ADAPTER_WEIGHTS}: tensor "${name}" is ${dtype}; LoRA weights must be F32, F16 or BF16`, { tensor: name });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decode = dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32;
  return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => decode(view.getUint16(i * 2, true)));
}

function bytesOf(values: Float32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength) as ArrayBuffer);
}
