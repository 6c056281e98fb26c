/**
 * Pre-quantized int4 checkpoints (GPTQ and AWQ) mapped onto the engine's int4 layout (app/gpu/quant.ts:
 * codes 8 per word along each row of W [N out, K in], then an f32 scale per group of G elements of a
 * row, then 4-bit zero points; W = scale · (q − zero)). Both formats quantize in groups of G input
 * features per output column, as ours does, so only the packing differs and is rewritten on upload.
 *
 * GPTQ (AutoGPTQ's QuantLinear.pack, auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py; transformers
 * and optimum write the same tensors):
 *   qweight I32 [K / 8, N]       word [r, n] holds the codes of inputs 8r .. 8r + 7 of output n, input 8r + j
 *                                in bits 4j .. 4j + 3: our word n·K/8 + r, transposed.
 *   qzeros  I32 [K / G, N / 8]   word [g, c] holds the zero points of outputs 8c .. 8c + 7 of group g, output
 *                                8c + j in bits 4j; checkpoint_format "gptq" (v1, the default) stores zero − 1
 *                                (QuantLinear.pack: `zeros -= 1`; forward adds 1), "gptq_v2" the zero itself.
 *   scales  F16 [K / G, N]       g_idx I32 [K]: the group of each input, k / G unless act-order (desc_act)
 *                                reorders the inputs, which is refused: its groups are not contiguous.
 * AWQ (AutoAWQ's GEMM layout, awq/utils/packing_utils.py):
 *   qweight I32 [K, N / 8]       word [k, c] holds outputs 8c .. 8c + 7 of input k, the nibble at position i
 *                                holding output 8c + AWQ_ORDER[i] with AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7].
 *   qzeros  I32 [K / G, N / 8]   the zero points in the same order, stored as they are (no − 1).
 *   scales  F16 [K / G, N]
 */
import { CocktailError } from '../errors.ts';
import { f16BitsToF32 } from '../gpu/dtype.ts';
import { INT4_GROUP_SIZES, quantLayout, type Int4GroupSize, type QuantSpec } from '../gpu/quant.ts';

export interface PrequantizedFormat {
  method: 'gptq' | 'awq';
  group: Int4GroupSize;
  /** GPTQ's sym: zero points all 8. AWQ's GEMM checkpoints always carry zero points. */
  symmetric: boolean;
  /** GPTQ v1 stores zero − 1. */
  zerosMinusOne: boolean;
}

export const SUPPORTED_QUANT_METHODS = ['gptq', 'awq'] as const;

/**
 * The pre-quantized format config.json's quantization_config describes, or null when there is none;
 * refuses, by key and value, before any weight is downloaded, every method and setting whose tensors
 * do not map onto the engine's int4 layout.
 */
export function prequantizedFormatOf(rawConfig: unknown, file: string): PrequantizedFormat | null {
  const quantization = (rawConfig as { quantization_config?: unknown } | null)?.quantization_config;
  if (quantization === undefined || quantization === null) return null;
  const refuse = (key: string, problem: string, value: unknown) =>
    new CocktailError('MODEL_PREQUANTIZED', `${file}: quantization_config.${key} ${JSON.stringify(value)}: ${problem}. Or load the 16-bit checkpoint with model.dtype "int4": it is quantized on upload.`, {
      file,
      key: `quantization_config.${key}`,
      value,
    });
  if (typeof quantization !== 'object') throw refuse('', 'must be an object', quantization);
  const q = quantization as Record<string, unknown>;
  const method = q.quant_method;
  if (method !== 'gptq' && method !== 'awq') {
    throw refuse('quant_method', `this pre-quantized format is not supported; supported: ${SUPPORTED_QUANT_METHODS.map((m) => `"${m}"`).join(', ')} (4-bit)`, method ?? null);
  }
  const bits = q.bits ?? q.w_bit;
  if (bits !== 4) throw refuse('bits', `${method} checkpoints load with 4 bits only`, bits ?? null);
  const group = q.group_size ?? q.q_group_size;
  if (!(INT4_GROUP_SIZES as readonly unknown[]).includes(group)) throw refuse('group_size', `the engine's int4 groups are ${INT4_GROUP_SIZES.join(', ')} inputs`, group ?? null);
  if (method === 'gptq') {
    if (q.desc_act === true) throw refuse('desc_act', 'act-order reorders the inputs, so its groups are not contiguous runs of a row as the engine\'s are', true);
    const format = q.checkpoint_format ?? 'gptq';
    if (format !== 'gptq' && format !== 'gptq_v2') throw refuse('checkpoint_format', 'supported: "gptq", "gptq_v2"', format);
    return { method, group: group as Int4GroupSize, symmetric: q.sym !== false, zerosMinusOne: format === 'gptq' };
  }
  const version = typeof q.version === 'string' ? q.version.toLowerCase() : (q.version ?? 'gemm');
  if (version !== 'gemm') throw refuse('version', 'only AWQ\'s GEMM packing is supported', q.version);
  if (q.zero_point === false) throw refuse('zero_point', 'AWQ without zero points is not supported', false);
  return { method, group: group as Int4GroupSize, symmetric: false, zerosMinusOne: false };
}

/** The engine's int4 spec a pre-quantized checkpoint loads as. */
export function prequantizedSpec(format: PrequantizedFormat): QuantSpec & { dtype: 'int4' } {
  return { dtype: 'int4', group: format.group, symmetric: format.symmetric };
}

/** One projection's packed tensors as stored (little-endian words; scales as f16 bits). */
export interface PackedProjection {
  qweight: Int32Array | Uint32Array;
  qzeros: Int32Array | Uint32Array;
  scales: Uint16Array;
  /** GPTQ only. */
  gIdx?: Int32Array;
}

/** The shapes the packed tensors of a projection W [N, K] must have. */
export function packedShapes(format: PrequantizedFormat, N: number, K: number): Record<'qweight' | 'qzeros' | 'scales' | 'g_idx', number[] | undefined> {
  const G = format.group;
  return {
    qweight: format.method === 'gptq' ? [K / 8, N] : [K, N / 8],
    qzeros: [K / G, N / 8],
    scales: [K / G, N],
    g_idx: format.method === 'gptq' ? [K] : undefined,
  };
}

/** Refuses a projection whose sizes the packing cannot hold (N and K in whole words, K in whole groups). */
export function checkPackable(tensor: string, format: PrequantizedFormat, N: number, K: number): void {
  if (N % 8 !== 0 || K % 8 !== 0 || K % format.group !== 0) {
    throw new CocktailError(
      'QUANT_GROUP_SIZE',
      `tensor "${tensor}" [${N}, ${K}] cannot be ${format.method} int4 with group size ${format.group}: both sizes must be multiples of 8 and ${K} a multiple of the group`,
      { tensor, group: format.group },
    );
  }
}

/** AWQ_ORDER's inverse: the nibble position of output column j of an 8-column word. */
const AWQ_POSITION = [0, 4, 1, 5, 2, 6, 3, 7];

/**
 * The engine's int4 words (quant.ts layout) for a pre-quantized projection W [N, K]: the codes
 * re-packed along each row, the scales widened to f32 (exact), the zero points re-packed. Refuses, naming
 * the tensor, act-order group indices and GPTQ v1 zero points that overflowed (stored −1 as 15: 16).
 */
export function int4WordsFromPacked(tensor: string, format: PrequantizedFormat, packed: PackedProjection, N: number, K: number): Uint32Array<ArrayBuffer> {
  checkPackable(tensor, format, N, K);
  const G = format.group;
  const groups = K / G;
  const layout = quantLayout(prequantizedSpec(format), N, K);
  const words = new Uint32Array(layout.words);
  const scales = new Float32Array(words.buffer, layout.scalesAt * 4, N * groups);
  const qweight = new Uint32Array(packed.qweight.buffer, packed.qweight.byteOffset, packed.qweight.length);
  const qzeros = new Uint32Array(packed.qzeros.buffer, packed.qzeros.byteOffset, packed.qzeros.length);
  if (format.method === 'gptq') {
    const gIdx = packed.gIdx;
    if (gIdx) {
      const bad = gIdx.findIndex((g, k) => g !== Math.floor(k / G));
      if (bad >= 0) {
        throw new CocktailError('MODEL_PREQUANTIZED', `tensor "${tensor.replace(/\.weight$/, '.g_idx')}" puts input ${bad} in group ${gIdx[bad]}, not ${Math.floor(bad / G)}: act-order (desc_act) checkpoints are not supported`, {
          tensor: tensor.replace(/\.weight$/, '.g_idx'),
        });
      }
    }
    for (let n = 0; n < N; n++) for (let r = 0; r < K / 8; r++) words[n * (K / 8) + r] = qweight[r * N + n]!;
  } else {
    for (let n = 0; n < N; n++) {
      const shift = 4 * AWQ_POSITION[n & 7]!;
      for (let k = 0; k < K; k++) {
        const code = (qweight[k * (N / 8) + (n >>> 3)]! >>> shift) & 15;
        words[(n * K + k) >>> 3]! |= code << (4 * (k & 7));
      }
    }
  }
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n < N; n++) {
      const shift = 4 * (format.method === 'gptq' ? n & 7 : AWQ_POSITION[n & 7]!);
      const zero = ((qzeros[g * (N / 8) + (n >>> 3)]! >>> shift) & 15) + (format.zerosMinusOne ? 1 : 0);
      if (zero > 15) {
        throw new CocktailError(
          'MODEL_PREQUANTIZED',
          `tensor "${tensor.replace(/\.weight$/, '.qzeros')}" holds zero point 16 for output ${n}, group ${g} (GPTQ v1 stores zero − 1, and a zero of 0 wrapped to 15); 4-bit zero points cannot hold it. Use a gptq_v2 checkpoint or the 16-bit one with model.dtype "int4"`,
          { tensor: tensor.replace(/\.weight$/, '.qzeros'), output: n, group: g },
        );
      }
      const flat = n * groups + g;
      scales[flat] = f16BitsToF32(packed.scales[g * N + n]!);
      words[layout.zerosAt + (flat >>> 3)]! |= zero << (4 * (flat & 7));
    }
  }
  return words;
}

/**
 * Refuses a load (or a recipe) that asks a pre-quantized checkpoint for other weights than it holds:
 * its projections are int4 with the checkpoint's group size, or nothing. `where` names what asked.
 */
export function checkPrequantizedRequest(format: PrequantizedFormat, requested: { dtype?: string; group?: number }, where: string): void {
  if (requested.dtype !== undefined && requested.dtype !== 'int4') {
    throw new CocktailError('MODEL_PREQUANTIZED', `${where}: dtype "${requested.dtype}" was asked of a ${format.method} int4 checkpoint, whose projections load as int4 (group ${format.group}); ask for "int4" or leave the dtype out`, {
      dtype: requested.dtype,
      method: format.method,
    });
  }
  if (requested.group !== undefined && requested.group !== format.group) {
    throw new CocktailError('MODEL_PREQUANTIZED', `${where}: int4 group size ${requested.group} was asked of a ${format.method} checkpoint quantized in groups of ${format.group}; ask for ${format.group} or leave it out`, {
      group: requested.group,
      checkpointGroup: format.group,
    });
  }
}
