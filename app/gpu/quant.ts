/**
 * Quantized frozen weights (QLoRA's idea: the base is stored in a few bits, the LoRA trains in f32 on
 * top). A weight matrix W [N, K] is quantized once, on upload, into one array<u32> that the
 * matrix-product shaders decode with shaders/quant.wgsl:
 *
 *   int8  codes, 4 per word (element i in byte i % 4, two's complement), then N f32 row scales.
 *         W[n, k] = scale[n] · q,  scale = max|row| / 127,  q = round(W / scale) in [-127, 127].
 *   int4  codes, 8 per word (element i in bits 4·(i % 8) .. +3, unsigned), then one f32 scale per
 *         group of G consecutive elements of a row (G = 32, 64 or 128; it must divide K), then the
 *         groups' zero points, 8 per word, 4 bits each.  W = scale[g] · (q − zero[g]),  g = i / G.
 *         Asymmetric (GPTQ's round-to-nearest quantizer): the range [min(w, 0), max(w, 0)] of a group
 *         is cut into 15 steps and 0 is kept exact by an integer zero point. Symmetric: zero = 8 and
 *         scale = max|w| / 7, so codes 1..15 stand for −7..7.
 *
 * Because G divides K, group g = i / G of the flat row-major index i never straddles two rows, and a
 * kernel needs nothing but i, N·K and G to find an element's code, scale and zero point.
 * `dequantize` gives the exact values a shader decodes (one f32 multiply), for Float64 references.
 */
import { CocktailError } from '../errors.ts';
import { createTensorOfBytes, type GpuTensor } from './tensor.ts';

export const INT4_GROUP_SIZES = [32, 64, 128] as const;
export type Int4GroupSize = (typeof INT4_GROUP_SIZES)[number];

export type QuantSpec = { dtype: 'int8' } | { dtype: 'int4'; group: Int4GroupSize; symmetric: boolean };

/** Word offsets of the three parts of a quantized [rows, cols] weight's buffer, and its total length in words. */
export interface QuantLayout {
  /** Elements per scale: a whole row for int8, the group for int4. */
  group: number;
  scalesAt: number;
  /** int4 only (int8 has no zero points): where the packed zero points start. */
  zerosAt: number;
  words: number;
}

export function quantLayout(spec: QuantSpec, rows: number, cols: number): QuantLayout {
  const elements = rows * cols;
  if (spec.dtype === 'int8') {
    const scalesAt = Math.ceil(elements / 4);
    return { group: cols, scalesAt, zerosAt: scalesAt + rows, words: scalesAt + rows };
  }
  const groups = elements / spec.group;
  const scalesAt = elements / 8;
  const zerosAt = scalesAt + groups;
  return { group: spec.group, scalesAt, zerosAt, words: zerosAt + Math.ceil(groups / 8) };
}

/** Bytes of a quantized [rows, cols] weight's buffer (codes, scales and zero points). */
export function quantBytes(spec: QuantSpec, rows: number, cols: number): number {
  return quantLayout(spec, rows, cols).words * 4;
}

/** Bits each element costs on average, scales and zero points included (int4 g64: 4.5625). */
export function bitsPerElement(spec: QuantSpec, cols: number): number {
  return (quantBytes(spec, 1, cols) * 8) / cols;
}

/**
 * Refuses a quantization the tensor cannot take, naming it: int4 groups must divide each row (and so
 * hold whole 4-bit words: every allowed group size is a multiple of 8).
 */
export function checkQuantizable(tensor: string, spec: QuantSpec, rows: number, cols: number): void {
  if (spec.dtype !== 'int4') return;
  if (!(INT4_GROUP_SIZES as readonly number[]).includes(spec.group)) {
    throw new CocktailError('QUANT_GROUP_SIZE', `int4 group size ${spec.group} is not supported; choose ${INT4_GROUP_SIZES.join(', ')}`, { tensor, group: spec.group });
  }
  if (cols % spec.group !== 0) {
    const fitting = INT4_GROUP_SIZES.filter((group) => cols % group === 0);
    throw new CocktailError(
      'QUANT_GROUP_SIZE',
      `tensor "${tensor}" [${rows}, ${cols}] has rows of ${cols} elements, which int4 group size ${spec.group} does not divide: ` +
        (fitting.length ? `choose group size ${fitting.join(' or ')}, or int8` : 'no int4 group size (32, 64, 128) divides it; use int8'),
      { tensor, group: spec.group, rowLength: cols },
    );
  }
}

/** W [rows, cols] (row-major) quantized into the buffer layout above. Checks the spec against the shape first. */
export function quantize(tensor: string, spec: QuantSpec, values: ArrayLike<number>, rows: number, cols: number): Uint32Array<ArrayBuffer> {
  checkQuantizable(tensor, spec, rows, cols);
  if (values.length !== rows * cols) throw new RangeError(`quantize ${tensor}: ${values.length} values for [${rows}, ${cols}]`);
  const layout = quantLayout(spec, rows, cols);
  const words = new Uint32Array(layout.words);
  const scales = new Float32Array(words.buffer, layout.scalesAt * 4, (layout.zerosAt - layout.scalesAt));
  if (spec.dtype === 'int8') {
    const bytes = new Int8Array(words.buffer, 0, rows * cols);
    for (let row = 0; row < rows; row++) {
      const start = row * cols;
      const scale = Math.fround(absMax(values, start, start + cols) / 127);
      scales[row] = scale;
      for (let i = start; i < start + cols; i++) bytes[i] = scale === 0 ? 0 : clamp(Math.round(values[i]! / scale), -127, 127);
    }
    return words;
  }
  const { group, symmetric } = spec;
  for (let g = 0; g < rows * cols / group; g++) {
    const start = g * group;
    let low = 0;
    let high = 0;
    for (let i = start; i < start + group; i++) {
      low = Math.min(low, values[i]!);
      high = Math.max(high, values[i]!);
    }
    const scale = Math.fround(symmetric ? Math.max(-low, high) / 7 : (high - low) / 15);
    const zero = symmetric || scale === 0 ? 8 : clamp(Math.round(-low / scale), 0, 15);
    scales[g] = scale;
    words[layout.zerosAt + (g >>> 3)]! |= zero << (4 * (g & 7));
    for (let i = start; i < start + group; i++) {
      const code = scale === 0 ? zero : clamp(Math.round(values[i]! / scale) + zero, 0, 15);
      words[i >>> 3]! |= code << (4 * (i & 7));
    }
  }
  return words;
}

/** The values a shader decodes from a quantized buffer: f32(scale · (q − zero)), exactly. */
export function dequantize(spec: QuantSpec, words: Uint32Array, rows: number, cols: number): Float64Array {
  const layout = quantLayout(spec, rows, cols);
  const scales = new Float32Array(words.buffer, words.byteOffset + layout.scalesAt * 4, layout.zerosAt - layout.scalesAt);
  const out = new Float64Array(rows * cols);
  if (spec.dtype === 'int8') {
    const bytes = new Int8Array(words.buffer, words.byteOffset, rows * cols);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(scales[Math.floor(i / cols)]! * bytes[i]!);
    return out;
  }
  for (let i = 0; i < out.length; i++) {
    const g = Math.floor(i / spec.group);
    const code = (words[i >>> 3]! >>> (4 * (i & 7))) & 15;
    const zero = (words[layout.zerosAt + (g >>> 3)]! >>> (4 * (g & 7))) & 15;
    out[i] = Math.fround(scales[g]! * (code - zero));
  }
  return out;
}

/** Each element's scale (the step between neighbouring codes), for error bounds: |W − dequantized| ≤ step / 2. */
export function quantSteps(spec: QuantSpec, words: Uint32Array, rows: number, cols: number): Float64Array {
  const layout = quantLayout(spec, rows, cols);
  const scales = new Float32Array(words.buffer, words.byteOffset + layout.scalesAt * 4, layout.zerosAt - layout.scalesAt);
  return Float64Array.from({ length: rows * cols }, (_, i) => scales[Math.floor(i / layout.group)]!);
}

function absMax(values: ArrayLike<number>, start: number, end: number): number {
  let max = 0;
  for (let i = start; i < end; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** A quantized weight on the GPU, uploaded from `words` (what `quantize` made for this spec and shape). */
export function createQuantizedTensor(device: GPUDevice, name: string, [rows, cols]: readonly [number, number], spec: QuantSpec, words: Uint32Array): GpuTensor {
  const layout = quantLayout(spec, rows, cols);
  if (words.length !== layout.words) throw new RangeError(`${name}: ${words.length} words for a ${spec.dtype} [${rows}, ${cols}] weight of ${layout.words}`);
  const tensor = createTensorOfBytes(device, name, [rows, cols], spec.dtype, layout.words * 4, words);
  return spec.dtype === 'int4' ? { ...tensor, group: spec.group } : tensor;
}
