import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import { Random } from '../util/random.ts';
import { bitsPerElement, checkQuantizable, dequantize, quantBytes, quantize, quantLayout, quantSteps, type QuantSpec } from './quant.ts';

const INT8: QuantSpec = { dtype: 'int8' };
const int4 = (group: 32 | 64 | 128, symmetric = false): QuantSpec => ({ dtype: 'int4', group, symmetric });

/** Relative Frobenius error ‖a − b‖ / ‖a‖. */
function frobeniusError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    difference += (a[i]! - b[i]!) ** 2;
    norm += a[i]! ** 2;
  }
  return Math.sqrt(difference / norm);
}

/** Weights shaped like a trained projection's: about normal, std 1/√K. */
function normalWeights(rows: number, cols: number, seed = 3): Float32Array {
  const random = Random.fromSeed(seed);
  // Sum of four uniforms: close to normal, with the tails a trained weight has.
  const sample = () => (random.next() + random.next() + random.next() + random.next() - 2) * Math.sqrt(3);
  return Float32Array.from({ length: rows * cols }, () => sample() / Math.sqrt(cols));
}

describe('int8 weights: one f32 scale per output row', () => {
  it('stores the known codes and scale of a small matrix', () => {
    // Row 0: max |w| = 1.27, scale 0.01; row 1 all zero (scale 0, codes 0); row 2: max 2.54, scale 0.02.
    const w = [1.27, -0.5, 0.004, 0, 0, 0, -2.54, 0.01, 0.03];
    const words = quantize('W', INT8, w, 3, 3);
    expect(quantLayout(INT8, 3, 3)).toEqual({ group: 3, scalesAt: 3, zerosAt: 6, words: 6 });
    expect(Array.from(new Int8Array(words.buffer, 0, 9))).toEqual([127, -50, 0, 0, 0, 0, -127, 1, 2]);
    expect(Array.from(new Float32Array(words.buffer, 12, 3))).toEqual([Math.fround(1.27 / 127), 0, Math.fround(2.54 / 127)]);
    expect(Array.from(dequantize(INT8, words, 3, 3))).toEqual([127, -50, 0, 0, 0, 0, -127, 1, 2].map((q, i) => Math.fround(Math.fround([1.27, 0, 2.54][Math.floor(i / 3)]! / 127) * q)));
  });

  it('keeps every element within half a step of the original, and the matrix within 1% (Frobenius; a step of max/127 gives about 0.6% here)', () => {
    const [rows, cols] = [48, 200];
    const w = normalWeights(rows, cols);
    const words = quantize('W', INT8, w, rows, cols);
    const decoded = dequantize(INT8, words, rows, cols);
    const steps = quantSteps(INT8, words, rows, cols);
    for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i]! - w[i]!)).toBeLessThanOrEqual(steps[i]! / 2 + 1e-7 * Math.abs(w[i]!));
    expect(frobeniusError(w, decoded)).toBeLessThan(0.01);
  });

  it('costs 8 bits per element plus 32 per row', () => {
    expect(quantBytes(INT8, 4, 64)).toBe(4 * 64 + 4 * 4);
    expect(bitsPerElement(INT8, 64)).toBe(8.5);
  });
});

describe('int4 weights: a scale and a 4-bit zero point per group of a row', () => {
  it('stores the known codes, scale and zero point of one asymmetric group', () => {
    // Values −1.5 .. 6.25 in steps of 0.25: min −1.5, max 6.25, scale 7.75 / 15, zero round(1.5 / scale) = 3.
    const w = Float32Array.from({ length: 32 }, (_, i) => -1.5 + 0.25 * i);
    const words = quantize('W', int4(32), w, 1, 32);
    const layout = quantLayout(int4(32), 1, 32);
    expect(layout).toEqual({ group: 32, scalesAt: 4, zerosAt: 5, words: 6 });
    const scale = Math.fround(7.75 / 15);
    expect(new Float32Array(words.buffer, 16, 1)[0]).toBe(scale);
    expect(words[5]! & 15).toBe(3);
    const codes = Array.from({ length: 32 }, (_, i) => (words[i >>> 3]! >>> (4 * (i & 7))) & 15);
    expect(codes).toEqual(Array.from(w, (value) => Math.min(15, Math.max(0, Math.round(value / scale) + 3))));
    expect(codes[0]).toBe(0);
    expect(codes[31]).toBe(15);
    // Zero is exact: the zero point is an integer code.
    expect(dequantize(int4(32), words, 1, 32)[6]).toBe(0);
  });

  it('stores zero point 8 and scale max|w| / 7 when symmetric', () => {
    const w = Float32Array.from({ length: 64 }, (_, i) => (i % 2 ? 1 : -1) * (i / 63) * 3.5);
    const words = quantize('W', int4(64, true), w, 1, 64);
    const layout = quantLayout(int4(64, true), 1, 64);
    expect(new Float32Array(words.buffer, layout.scalesAt * 4, 1)[0]).toBe(Math.fround(3.5 / 7));
    expect(words[layout.zerosAt]! & 15).toBe(8);
    expect(dequantize(int4(64, true), words, 1, 64)[63]).toBe(3.5);
  });

  for (const group of [32, 64, 128] as const) {
    for (const symmetric of [false, true]) {
      it(`keeps every element within half a step, and the matrix within 12.5% (Frobenius; steps of range/15 or max/7 give 7-11% here), with group ${group}${symmetric ? ', symmetric' : ''}`, () => {
        const [rows, cols] = [24, 256];
        const w = normalWeights(rows, cols, group);
        const spec = int4(group, symmetric);
        const words = quantize('W', spec, w, rows, cols);
        expect(words.length).toBe(quantLayout(spec, rows, cols).words);
        const decoded = dequantize(spec, words, rows, cols);
        const steps = quantSteps(spec, words, rows, cols);
        for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i]! - w[i]!)).toBeLessThanOrEqual(steps[i]! / 2 + 1e-7 * Math.abs(w[i]!));
        expect(frobeniusError(w, decoded)).toBeLessThan(0.125);
      });
    }
  }

  it('is more exact with smaller groups', () => {
    const w = normalWeights(16, 256);
    const error = (group: 32 | 128) => frobeniusError(w, dequantize(int4(group), quantize('W', int4(group), w, 16, 256), 16, 256));
    expect(error(32)).toBeLessThan(error(128));
  });

  it('costs 4 bits per element plus a 32-bit scale and a 4-bit zero point per group', () => {
    expect(bitsPerElement(int4(64), 4096)).toBe(4 + 36 / 64);
    expect(quantBytes(int4(128), 8, 256)).toBe((8 * 256) / 2 + 16 * 4 + 8);
  });
});

describe('quantization refuses what a tensor cannot take', () => {
  it('names the tensor, its row length and the group sizes that would divide it', () => {
    const call = () => checkQuantizable('model.layers.0.mlp.down_proj.weight', int4(128), 64, 1376);
    expect(call).toThrow(CocktailError);
    expect(call).toThrow(/tensor "model\.layers\.0\.mlp\.down_proj\.weight" \[64, 1376\] has rows of 1376 elements, which int4 group size 128 does not divide: choose group size 32, or int8/);
  });

  it('suggests int8 when no int4 group size divides the row', () => {
    expect(() => quantize('W', int4(32), new Float32Array(3 * 100), 3, 100)).toThrow(/tensor "W" \[3, 100\].*no int4 group size \(32, 64, 128\) divides it; use int8/);
  });

  it('refuses a group size other than 32, 64 and 128', () => {
    expect(() => checkQuantizable('W', { dtype: 'int4', group: 16 as 32, symmetric: false }, 4, 64)).toThrow(/group size 16 is not supported/);
  });
});
