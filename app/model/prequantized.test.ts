import { describe, expect, it } from 'vitest';
import { dequantizedKnown, knownInt4, packAwq, packGptq } from '../../test/prequantized.ts';
import { LLAMA_TINY } from '../../test/random-model.ts';
import { dequantize } from '../gpu/quant.ts';
import { checkPrequantizedRequest, int4WordsFromPacked, prequantizedFormatOf, prequantizedSpec, type PrequantizedFormat } from './prequantized.ts';

const GPTQ = { quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: true };
const AWQ = { quant_method: 'awq', bits: 4, group_size: 64, version: 'gemm', zero_point: true };
const formatOf = (quantization: object) => prequantizedFormatOf({ ...LLAMA_TINY, quantization_config: quantization }, 'm/config.json');
const keyRefused = (quantization: object): unknown => {
  try {
    formatOf(quantization);
  } catch (error) {
    return (error as { code?: string; details?: { key?: string } }).code === 'MODEL_PREQUANTIZED' ? (error as { details: { key: string } }).details.key : error;
  }
  return undefined;
};

describe('quantization_config of pre-quantized checkpoints', () => {
  it('reads GPTQ (v1 by default, zero points stored minus one; v2 as they are) and AWQ GEMM', () => {
    expect(formatOf(GPTQ)).toEqual({ method: 'gptq', group: 32, symmetric: true, zerosMinusOne: true });
    expect(formatOf({ ...GPTQ, sym: false, checkpoint_format: 'gptq_v2', group_size: 128 })).toEqual({ method: 'gptq', group: 128, symmetric: false, zerosMinusOne: false });
    expect(formatOf(AWQ)).toEqual({ method: 'awq', group: 64, symmetric: false, zerosMinusOne: false });
    // AutoAWQ's own config names: w_bit and q_group_size, version "GEMM".
    expect(formatOf({ quant_method: 'awq', w_bit: 4, q_group_size: 128, version: 'GEMM' })).toMatchObject({ method: 'awq', group: 128 });
  });

  it('refuses, by key, what does not map onto the int4 layout, before any weight is read', () => {
    expect(keyRefused({ quant_method: 'bitsandbytes', load_in_4bit: true })).toBe('quantization_config.quant_method');
    expect(keyRefused({ quant_method: 'fp8' })).toBe('quantization_config.quant_method');
    expect(keyRefused({ ...GPTQ, bits: 8 })).toBe('quantization_config.bits');
    expect(keyRefused({ ...GPTQ, group_size: -1 })).toBe('quantization_config.group_size');
    expect(keyRefused({ ...GPTQ, desc_act: true })).toBe('quantization_config.desc_act');
    expect(keyRefused({ ...GPTQ, checkpoint_format: 'marlin' })).toBe('quantization_config.checkpoint_format');
    expect(keyRefused({ ...AWQ, version: 'gemv' })).toBe('quantization_config.version');
    expect(keyRefused({ ...AWQ, zero_point: false })).toBe('quantization_config.zero_point');
    expect(() => formatOf({ ...GPTQ, desc_act: true })).toThrow(/m\/config\.json: quantization_config\.desc_act true: act-order reorders the inputs/);
  });

  it('refuses a load that asks the checkpoint for other weights than its int4 groups', () => {
    const format = formatOf(GPTQ)!;
    expect(() => checkPrequantizedRequest(format, { dtype: 'int4', group: 32 }, 'load')).not.toThrow();
    expect(() => checkPrequantizedRequest(format, { dtype: 'bf16' }, 'load')).toThrow(/load: dtype "bf16" was asked of a gptq int4 checkpoint, whose projections load as int4 \(group 32\)/);
    expect(() => checkPrequantizedRequest(format, { group: 64 }, 'load')).toThrow(/int4 group size 64 was asked of a gptq checkpoint quantized in groups of 32/);
  });
});

describe('GPTQ and AWQ projections re-packed into the engine int4 layout', () => {
  const N = 24;
  const K = 64;
  const decoded = (format: PrequantizedFormat, packed: Parameters<typeof int4WordsFromPacked>[2]) => dequantize(prequantizedSpec(format), int4WordsFromPacked('p.weight', format, packed, N, K), N, K);

  for (const [what, symmetric, v1] of [
    ['symmetric v1', true, true],
    ['asymmetric v1', false, true],
    ['asymmetric v2', false, false],
  ] as const) {
    it(`decodes GPTQ (${what}, group 32) to scale · (code − zero) of the known codes, exactly`, () => {
      const known = knownInt4(N, K, 32, 7, { symmetric, scale: 0.01 });
      const format: PrequantizedFormat = { method: 'gptq', group: 32, symmetric, zerosMinusOne: v1 };
      expect(Array.from(decoded(format, packGptq(known, { v1 })))).toEqual(Array.from(dequantizedKnown(known)));
    });
  }

  it('decodes AWQ (group 32, its 0 2 4 6 1 3 5 7 nibble order) exactly, and reading it as GPTQ order would not', () => {
    const known = knownInt4(N, K, 32, 8, { symmetric: false, scale: 0.02 });
    const format: PrequantizedFormat = { method: 'awq', group: 32, symmetric: false, zerosMinusOne: false };
    const packed = packAwq(known);
    expect(Array.from(decoded(format, packed))).toEqual(Array.from(dequantizedKnown(known)));
    // The same words with the nibbles taken in order give other weights: the order is what is being tested.
    const inOrder = packed.qweight.map((word) => [0, 4, 1, 5, 2, 6, 3, 7].reduce((out, position, i) => out | (((word >>> (4 * i)) & 15) << (4 * position)), 0) >>> 0);
    expect(Array.from(decoded(format, { ...packed, qweight: inOrder }))).not.toEqual(Array.from(dequantizedKnown(known)));
  });

  it('refuses act-order group indices and a v1 zero point of 0 (stored as 15, read as 16), naming the tensor', () => {
    const known = knownInt4(N, K, 32, 9, { symmetric: false, scale: 0.01 });
    const format: PrequantizedFormat = { method: 'gptq', group: 32, symmetric: false, zerosMinusOne: true };
    const packed = packGptq(known, { v1: true });
    const shuffled = Int32Array.from(packed.gIdx, (_, k) => (k === 0 ? 1 : k === 40 ? 0 : packed.gIdx[k]!));
    expect(() => int4WordsFromPacked('model.layers.0.mlp.up_proj.weight', format, { ...packed, gIdx: shuffled }, N, K)).toThrow(/"model\.layers\.0\.mlp\.up_proj\.g_idx" puts input 0 in group 1, not 0: act-order/);
    known.zeros[5] = 0;
    expect(() => int4WordsFromPacked('model.layers.0.mlp.up_proj.weight', format, packGptq(known, { v1: true }), N, K)).toThrow(/"model\.layers\.0\.mlp\.up_proj\.qzeros" holds zero point 16 for output 5, group 0/);
  });

  it('refuses a projection whose sizes the packing cannot hold', () => {
    const format: PrequantizedFormat = { method: 'gptq', group: 32, symmetric: true, zerosMinusOne: true };
    expect(() => int4WordsFromPacked('x.weight', format, { qweight: new Uint32Array(0), qzeros: new Uint32Array(0), scales: new Uint16Array(0) }, 20, 48)).toThrow(/tensor "x\.weight" \[20, 48\] cannot be gptq int4 with group size 32/);
  });
});
