/**
 * Finds every weight of a model across its safetensors file(s), single or sharded
 * (model.safetensors.index.json), and checks names, shapes and dtypes against the config before
 * any byte is loaded.
 */
import { CocktailError } from '../errors.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../gpu/dtype.ts';
import { expectedWeights, type ModelConfig } from './config.ts';
import { checkPackable, packedShapes, type PackedProjection, type PrequantizedFormat } from './prequantized.ts';
import { readSafetensorsHeader, readTensorBytes, type SafetensorsFile, type TensorEntry } from './safetensors.ts';
import { locateFile, missingFile, readJsonFile, type ModelFiles } from './source.ts';

export type WeightDType = 'F32' | 'F16' | 'BF16';

export interface WeightRef {
  name: string;
  shape: number[];
  dtype: WeightDType;
  file: SafetensorsFile;
  entry: TensorEntry;
}

/** A GPTQ/AWQ projection's packed tensors (qweight, qzeros, scales and GPTQ's g_idx), found in the checkpoint. */
export interface PackedWeightRef {
  /** The projection's weight name (…q_proj.weight) and its [out, in] shape. */
  name: string;
  shape: [number, number];
  parts: Partial<Record<'qweight' | 'qzeros' | 'scales' | 'g_idx', { file: SafetensorsFile; entry: TensorEntry }>>;
}

export interface ModelWeights {
  refs: Map<string, WeightRef>;
  /** The dtype most weights are stored in (what "bf16 model" means). */
  dtype: WeightDType;
  /** A pre-quantized checkpoint's format and its packed projections by weight name (the others are in refs). */
  prequantized?: { format: PrequantizedFormat; packed: Map<string, PackedWeightRef> };
}

const INDEX_FILE = 'model.safetensors.index.json';

/** With `prequantized` (config.json's quantization_config), projections may come as GPTQ/AWQ packed tensors. */
export async function locateWeights(files: ModelFiles, config: ModelConfig, prequantized: PrequantizedFormat | null = null): Promise<ModelWeights> {
  const shards = await safetensorsFiles(files);
  const byName = new Map<string, { file: SafetensorsFile; entry: TensorEntry }>();
  for (const path of shards) {
    // Named by where it is (its full path, or the Hub repo, revision and place in the cache), so an error points at the file.
    const file = await readSafetensorsHeader(await files.open(path), locateFile(files, path));
    for (const entry of file.tensors.values()) byName.set(entry.name, { file, entry });
  }
  const refs = new Map<string, WeightRef>();
  const packedRefs = new Map<string, PackedWeightRef>();
  const fileList = shards.join(', ');
  for (const spec of expectedWeights(config)) {
    const found = byName.get(spec.name);
    const packed = spec.name.endsWith('.weight') ? byName.get(spec.name.replace(/\.weight$/, '.qweight')) : undefined;
    if (!found && packed && prequantized) {
      packedRefs.set(spec.name, packedWeightRef(spec.name, spec.shape as [number, number], prequantized, byName));
      continue;
    }
    if (!found && packed) {
      throw new CocktailError(
        'MODEL_PREQUANTIZED',
        `${packed.file.fileName}: tensor "${packed.entry.name}" (${packed.entry.dtype}) is a GPTQ/AWQ packed weight, but config.json has no quantization_config saying how it is packed. Use the checkpoint's own config.json, or load the 16-bit checkpoint with model.dtype "int4": it is quantized on upload.`,
        { tensor: packed.entry.name, file: packed.file.fileName },
      );
    }
    if (!found) {
      throw new CocktailError('MODEL_WEIGHT_MISSING', `${files.label}: tensor "${spec.name}" [${spec.shape.join(', ')}] that config.json implies is not in ${fileList}`, { tensor: spec.name, file: fileList });
    }
    const { file, entry } = found;
    if (entry.shape.join(',') !== spec.shape.join(',')) {
      throw new CocktailError(
        'MODEL_WEIGHT_SHAPE',
        `${file.fileName}: tensor "${spec.name}" has shape [${entry.shape.join(', ')}] but config.json implies [${spec.shape.join(', ')}]`,
        { tensor: spec.name, file: file.fileName },
      );
    }
    if (entry.dtype !== 'F32' && entry.dtype !== 'F16' && entry.dtype !== 'BF16') {
      throw new CocktailError('MODEL_WEIGHT_DTYPE', `${file.fileName}: tensor "${spec.name}" is ${entry.dtype}; the engine loads F32, F16 and BF16`, { tensor: spec.name, file: file.fileName });
    }
    refs.set(spec.name, { name: spec.name, shape: spec.shape, dtype: entry.dtype, file, entry });
  }
  return { refs, dtype: dominantDtype([...refs.values()]), ...(prequantized ? { prequantized: { format: prequantized, packed: packedRefs } } : {}) };
}

const PACKED_DTYPES = { qweight: ['I32', 'U32'], qzeros: ['I32', 'U32'], scales: ['F16'], g_idx: ['I32'] } as const;

/** The packed tensors of one projection, each checked for presence, dtype and shape against the format. */
function packedWeightRef(name: string, shape: [number, number], format: PrequantizedFormat, byName: Map<string, { file: SafetensorsFile; entry: TensorEntry }>): PackedWeightRef {
  const [N, K] = shape;
  checkPackable(name, format, N, K);
  const base = name.replace(/\.weight$/, '');
  const parts: PackedWeightRef['parts'] = {};
  for (const [part, expected] of Object.entries(packedShapes(format, N, K)) as [keyof typeof PACKED_DTYPES, number[] | undefined][]) {
    const found = byName.get(`${base}.${part}`);
    // GPTQ's g_idx is optional: without it the groups are the contiguous ones.
    if (!expected || (!found && part === 'g_idx')) continue;
    if (!found) throw new CocktailError('MODEL_WEIGHT_MISSING', `${format.method} projection "${base}" has no "${base}.${part}" tensor`, { tensor: `${base}.${part}` });
    const { file, entry } = found;
    if (!(PACKED_DTYPES[part] as readonly string[]).includes(entry.dtype)) {
      throw new CocktailError('MODEL_WEIGHT_DTYPE', `${file.fileName}: tensor "${entry.name}" is ${entry.dtype}; ${format.method} stores it as ${PACKED_DTYPES[part].join(' or ')}`, { tensor: entry.name, file: file.fileName });
    }
    if (entry.shape.join(',') !== expected.join(',')) {
      throw new CocktailError(
        'MODEL_WEIGHT_SHAPE',
        `${file.fileName}: tensor "${entry.name}" has shape [${entry.shape.join(', ')}] but ${format.method} int4 with group size ${format.group} of a [${N}, ${K}] projection implies [${expected.join(', ')}]`,
        { tensor: entry.name, file: file.fileName },
      );
    }
    parts[part] = found;
  }
  return { name, shape, parts };
}

/** A packed projection's tensors read from their files. */
export async function readPackedProjection(ref: PackedWeightRef): Promise<PackedProjection> {
  const read = async (part: keyof PackedWeightRef['parts']): Promise<ArrayBuffer | undefined> => {
    const found = ref.parts[part];
    if (!found) return undefined;
    const bytes = await readTensorBytes(found.file, found.entry.name);
    return bytes.slice().buffer;
  };
  const [qweight, qzeros, scales, gIdx] = await Promise.all([read('qweight'), read('qzeros'), read('scales'), read('g_idx')]);
  return { qweight: new Uint32Array(qweight!), qzeros: new Uint32Array(qzeros!), scales: new Uint16Array(scales!), ...(gIdx ? { gIdx: new Int32Array(gIdx) } : {}) };
}

async function safetensorsFiles(files: ModelFiles): Promise<string[]> {
  if (files.has(INDEX_FILE)) {
    const index = (await readJsonFile(files, INDEX_FILE)) as { weight_map?: Record<string, string> };
    if (!index.weight_map || typeof index.weight_map !== 'object') {
      throw new CocktailError('MODEL_FILE_INVALID', `${locateFile(files, INDEX_FILE)} has no "weight_map"`, { file: INDEX_FILE });
    }
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    for (const shard of shards) if (!files.has(shard)) throw missingFile(files, shard, `${INDEX_FILE} lists it as a shard`);
    return shards;
  }
  if (files.has('model.safetensors')) return ['model.safetensors'];
  throw missingFile(files, 'model.safetensors', `neither it nor ${INDEX_FILE} was found (PyTorch .bin checkpoints are not supported; convert them to safetensors)`);
}

function dominantDtype(refs: WeightRef[]): WeightDType {
  const bytes = new Map<WeightDType, number>();
  for (const ref of refs) bytes.set(ref.dtype, (bytes.get(ref.dtype) ?? 0) + ref.entry.end - ref.entry.begin);
  return [...bytes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
}

/** A weight's values as Float64 (for CPU references and checks), decoded from its stored dtype. */
export async function readWeightFloat64(ref: WeightRef): Promise<Float64Array> {
  return decodeWeightBytes(checkFinite(ref, await readTensorBytes(ref.file, ref.name), 0), ref.dtype, Float64Array);
}

/**
 * Elements [offset, offset + count) of a weight (row-major), read and decoded on their own: a part of
 * a vocabulary-sized table is converted without reading the whole table. Float32 holds every F32,
 * F16 and BF16 value exactly.
 */
export async function readWeightRangeFloat32(ref: WeightRef, offset: number, count: number): Promise<Float32Array> {
  return decodeWeightBytes(await readWeightRangeBytes(ref, offset, count), ref.dtype, Float32Array);
}

/** The stored bytes of elements [offset, offset + count) of a weight, as they are in the file. */
export async function readWeightRangeBytes(ref: WeightRef, offset: number, count: number): Promise<Uint8Array> {
  const elementBytes = ref.dtype === 'F32' ? 4 : 2;
  if (offset === 0 && count * elementBytes === ref.entry.end - ref.entry.begin) return checkFinite(ref, await readTensorBytes(ref.file, ref.name), 0);
  const start = ref.file.dataStart + ref.entry.begin + offset * elementBytes;
  return checkFinite(ref, new Uint8Array(await ref.file.blob.slice(start, start + count * elementBytes).arrayBuffer()), offset);
}

/** Exponent bits of each stored dtype: all set means Inf or NaN. */
const NONFINITE_EXPONENT: Record<WeightDType, number> = { F32: 0x7f800000, BF16: 0x7f80, F16: 0x7c00 };

/**
 * Refuses a weight holding NaN or Inf, checked on the stored bits before any conversion: one such
 * value spreads through every activation, and the kernels may assume there is none.
 */
function checkFinite(ref: WeightRef, bytes: Uint8Array, offset: number): Uint8Array {
  const mask = NONFINITE_EXPONENT[ref.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = ref.dtype === 'F32';
  const count = bytes.byteLength / (wide ? 4 : 2);
  for (let i = 0; i < count; i++) {
    const bits = wide ? view.getUint32(i * 4, true) : view.getUint16(i * 2, true);
    if ((bits & mask) !== mask) continue;
    const value = decodeWeightBytes(bytes.subarray(i * (wide ? 4 : 2), (i + 1) * (wide ? 4 : 2)), ref.dtype, Float64Array)[0];
    throw new CocktailError(
      'MODEL_WEIGHT_NONFINITE',
      `${ref.file.fileName}: tensor "${ref.name}" holds ${value} at element ${offset + i}; a model with NaN or Inf weights cannot give meaningful outputs. The file is damaged or was saved from a diverged run: download it again or use another checkpoint.`,
      { tensor: ref.name, file: ref.file.fileName, element: offset + i },
    );
  }
  return bytes;
}

function decodeWeightBytes<Out extends Float64Array | Float32Array>(bytes: Uint8Array, dtype: WeightDType, Out: new (length: number) => Out): Out {
  const count = bytes.byteLength / (dtype === 'F32' ? 4 : 2);
  const out = new Out(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  else {
    const decode = dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32;
    for (let i = 0; i < count; i++) out[i] = decode(view.getUint16(i * 2, true));
  }
  return out;
}
