/**
 * Storage types of tensors on the GPU. Activations, gradients and LoRA weights are f32; frozen base
 * weights may be f16 or bf16, packed two per u32 (element 2i in the low half, 2i+1 in the high half,
 * as little-endian bytes lay them out) and decoded in the shader, so no shader-f16 is needed.
 */
export type DType = 'f32' | 'f16' | 'bf16';

/**
 * Quantized frozen weights (app/gpu/quant.ts): int8 with a scale per output row, int4 with a scale
 * and a zero point per group of consecutive elements of a row. They are made on upload and decoded in
 * the matrix-product shaders; their buffers also hold the scales, so they are sized by quantLayout.
 */
export type QuantDType = 'int8' | 'int4';

/** What a frozen weight matrix may be stored as on the GPU. */
export type FrozenDType = DType | QuantDType;

/** Integer tensors: token ids, positions, segment ids (u32), labels and chosen tokens (i32). */
export type IndexDType = 'u32' | 'i32';

export type TensorDType = FrozenDType | IndexDType;

/** Bytes of one element; for int8 and int4 the codes alone (their scales come on top, see quantLayout). */
export const BYTES_PER_ELEMENT: Record<TensorDType, number> = { f32: 4, f16: 2, bf16: 2, u32: 4, i32: 4, int8: 1, int4: 0.5 };

/**
 * Shader-side code of a dtype, passed to kernels as a WGSL override constant. Weight kernels accept
 * only the float codes (their wrappers check the dtype first); the integer codes keep the table total.
 */
export const DTYPE_CODE: Record<TensorDType, number> = { f32: 0, bf16: 1, f16: 2, u32: 3, i32: 4, int8: 5, int4: 6 };

export function isQuantized(dtype: TensorDType): dtype is QuantDType {
  return dtype === 'int8' || dtype === 'int4';
}

/** Bytes a GPU buffer needs for `elements` of `dtype` (rounded up to whole u32 words); quantized tensors: quantLayout. */
export function storageBytes(dtype: DType | IndexDType, elements: number): number {
  return Math.ceil((elements * BYTES_PER_ELEMENT[dtype]) / 4) * 4;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** float -> IEEE binary16 bits, rounding to nearest even, with subnormals, overflow to Inf, and NaN. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    // Subnormal half: shift the mantissa with its implicit 1 into place, then round to nearest even.
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const halfMantissa = full >>> shift;
    const remainder = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1);
    return sign | (halfMantissa + (roundUp ? 1 : 0));
  }
  const halfMantissa = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (halfMantissa & 1) === 1);
  // A carry out of the mantissa correctly bumps the exponent (and can reach Inf).
  return sign | ((halfExponent << 10) + halfMantissa + (roundUp ? 1 : 0));
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Packs float values as `dtype` for a GPU buffer (f32 is copied; f16/bf16 go two per u32). */
export function encodeTensorData(dtype: DType, values: ArrayLike<number>): Uint32Array<ArrayBuffer> {
  if (dtype === 'f32') return new Uint32Array(Float32Array.from(values).buffer);
  const toBits = dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits;
  const halves = new Uint16Array(storageBytes(dtype, values.length) / 2);
  for (let i = 0; i < values.length; i++) halves[i] = toBits(values[i]!);
  return new Uint32Array(halves.buffer);
}

/** The exact values the GPU sees after `encodeTensorData`, for references that must match bit for bit. */
export function decodeTensorData(dtype: DType, packed: Uint32Array, elements: number): Float64Array {
  const out = new Float64Array(elements);
  if (dtype === 'f32') {
    const floats = new Float32Array(packed.buffer, packed.byteOffset, elements);
    for (let i = 0; i < elements; i++) out[i] = floats[i]!;
    return out;
  }
  const halves = new Uint16Array(packed.buffer, packed.byteOffset, elements);
  const fromBits = dtype === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
  for (let i = 0; i < elements; i++) out[i] = fromBits(halves[i]!);
  return out;
}
