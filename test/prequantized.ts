import { encodeTensorData, f16BitsToF32 } from '../app/gpu/dtype.ts';
import type { TensorToWrite } from '../app/model/safetensors.ts';
import { Random } from '../app/util/random.ts';

/**
 * GPTQ and AWQ checkpoints written in the test from known codes, zero points and scales, following the
 * formats' own packing code rather than the engine's loader:
 * - GPTQ: AutoGPTQ's QuantLinear.pack (auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py): intweight is
 *   W's codes transposed to [K, N]; qweight[row] |= intweight[8·row + j] << 4j; `zeros -= 1` (v1) and
 *   qzeros[:, col] |= zeros[:, 8·col + j] << 4j; scales [K / G, N] half; g_idx[k] = k // G.
 * - AWQ: AutoAWQ's GEMM packing (awq/utils/packing_utils.py): qweight[k, col] |= code[k, 8·col +
 *   AWQ_ORDER[i]] << 4i with AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]; qzeros the same over [K / G, N]; no − 1.
 */
export interface KnownInt4 {
  N: number;
  K: number;
  G: number;
  /** codes[n·K + k] in 0..15. */
  codes: Uint8Array;
  /** zeros[g·N + n] in 0..15 (the zero itself, before any − 1). */
  zeros: Uint8Array;
  /** scales[g·N + n] as f16 bits. */
  scales: Uint16Array;
}

/** Random codes, zero points (8 everywhere when symmetric; 1..15 otherwise, as v1 cannot store 0) and f16 scales around `scale`. */
export function knownInt4(N: number, K: number, G: number, seed: number, options: { symmetric: boolean; scale: number }): KnownInt4 {
  const random = Random.fromSeed(seed);
  const codes = Uint8Array.from({ length: N * K }, () => random.int(16));
  const zeros = Uint8Array.from({ length: (K / G) * N }, () => (options.symmetric ? 8 : 1 + random.int(15)));
  // f16 halves packed two per word, element 2i in the low half: on a little-endian host, a Uint16Array in order.
  const packedScales = encodeTensorData('f16', Float32Array.from({ length: (K / G) * N }, () => options.scale * (0.5 + random.next())));
  return { N, K, G, codes, zeros, scales: new Uint16Array(packedScales.buffer, 0, (K / G) * N) };
}

/** W[n, k] = scale[g, n] · (code − zero) in Float64: the weights the checkpoint stands for. */
export function dequantizedKnown({ N, K, G, codes, zeros, scales }: KnownInt4): Float64Array {
  return Float64Array.from({ length: N * K }, (_, i) => {
    const n = Math.floor(i / K);
    const g = Math.floor((i % K) / G);
    return f16BitsToF32(scales[g * N + n]!) * (codes[i]! - zeros[g * N + n]!);
  });
}

export function packGptq({ N, K, G, codes, zeros, scales }: KnownInt4, options: { v1: boolean }): { qweight: Uint32Array; qzeros: Uint32Array; scales: Uint16Array; gIdx: Int32Array } {
  const qweight = new Uint32Array((K / 8) * N);
  for (let row = 0; row < K / 8; row++) for (let n = 0; n < N; n++) for (let j = 0; j < 8; j++) qweight[row * N + n]! |= codes[n * K + 8 * row + j]! << (4 * j);
  const qzeros = new Uint32Array((K / G) * (N / 8));
  for (let g = 0; g < K / G; g++) {
    for (let col = 0; col < N / 8; col++) {
      for (let j = 0; j < 8; j++) qzeros[g * (N / 8) + col]! |= ((zeros[g * N + 8 * col + j]! - (options.v1 ? 1 : 0)) & 15) << (4 * j);
    }
  }
  return { qweight, qzeros, scales, gIdx: Int32Array.from({ length: K }, (_, k) => Math.floor(k / G)) };
}

const AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7];

export function packAwq({ N, K, G, codes, zeros, scales }: KnownInt4): { qweight: Uint32Array; qzeros: Uint32Array; scales: Uint16Array } {
  const qweight = new Uint32Array(K * (N / 8));
  for (let k = 0; k < K; k++) for (let col = 0; col < N / 8; col++) for (let i = 0; i < 8; i++) qweight[k * (N / 8) + col]! |= codes[(8 * col + AWQ_ORDER[i]!) * K + k]! << (4 * i);
  const qzeros = new Uint32Array((K / G) * (N / 8));
  for (let g = 0; g < K / G; g++) for (let col = 0; col < N / 8; col++) for (let i = 0; i < 8; i++) qzeros[g * (N / 8) + col]! |= zeros[g * N + 8 * col + AWQ_ORDER[i]!]! << (4 * i);
  return { qweight, qzeros, scales };
}

/** The safetensors entries of one packed projection `<base>.qweight` etc. */
export function packedTensors(base: string, method: 'gptq' | 'awq', known: KnownInt4, packed: { qweight: Uint32Array; qzeros: Uint32Array; scales: Uint16Array; gIdx?: Int32Array }): TensorToWrite[] {
  const { N, K, G } = known;
  const bytes = (array: ArrayBufferView) => new Uint8Array(array.buffer as ArrayBuffer, array.byteOffset, array.byteLength);
  return [
    { name: `${base}.qweight`, dtype: 'I32', shape: method === 'gptq' ? [K / 8, N] : [K, N / 8], data: bytes(packed.qweight) },
    { name: `${base}.qzeros`, dtype: 'I32', shape: [K / G, N / 8], data: bytes(packed.qzeros) },
    { name: `${base}.scales`, dtype: 'F16', shape: [K / G, N], data: bytes(packed.scales) },
    ...(packed.gIdx ? [{ name: `${base}.g_idx`, dtype: 'I32' as const, shape: [K], data: bytes(packed.gIdx) }] : []),
  ];
}
