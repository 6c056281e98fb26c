import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError, weightedSum } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import {
  dropoutKey,
  dropoutMask,
  dropoutThreshold,
  loraLinearBackwardReference,
  loraLinearReference,
  pcg4d,
  type LoraDropout,
  type LoraLinearReferenceInputs,
} from './lora_linear.ts';

/** pcg4d written with BigInt and explicit wrap-around: an independent check of the Math.imul version. */
function pcg4dBigInt(input: readonly number[]): number[] {
  const wrap = (value: bigint): bigint => value & 0xffffffffn;
  const v = input.map((word) => wrap(BigInt(word) * 1664525n + 1013904223n));
  const mix = (): void => {
    v[0] = wrap(v[0]! + v[1]! * v[3]!);
    v[1] = wrap(v[1]! + v[2]! * v[0]!);
    v[2] = wrap(v[2]! + v[0]! * v[1]!);
    v[3] = wrap(v[3]! + v[1]! * v[2]!);
  };
  mix();
  for (let i = 0; i < 4; i++) v[i] = v[i]! ^ (v[i]! >> 16n);
  mix();
  return v.map(Number);
}

describe('LoRA dropout mask (counter-based: pcg4d of element, row and key)', () => {
  it('computes pcg4d in exact u32 arithmetic', () => {
    const random = Random.fromSeed(5);
    for (let trial = 0; trial < 200; trial++) {
      const input = [random.nextUint32(), random.nextUint32(), random.nextUint32(), random.nextUint32()];
      expect(pcg4d(input[0]!, input[1]!, input[2]!, input[3]!)).toEqual(pcg4dBigInt(input));
    }
  });

  for (const p of [0.05, 0.1, 0.5]) {
    it(`keeps a share 1-p of elements for p=${p}, each scaled by 1/(1-p)`, () => {
      const [M, K] = [300, 677];
      const mask = dropoutMask(M, K, { p, seed: 42, step: 3, offset: 7 });
      const kept = mask.filter((factor) => factor !== 0);
      expect(new Set(kept)).toEqual(new Set([1 / (1 - p)]));
      // Within 5 standard deviations of a binomial share.
      const share = kept.length / mask.length;
      expect(Math.abs(share - (1 - p))).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / mask.length));
    });
  }

  it('keeps neighbours independently: dropping one element says nothing about the next', () => {
    const mask = dropoutMask(200, 500, { p: 0.5, seed: 1, step: 0, offset: 0 });
    let bothDropped = 0;
    for (let i = 0; i + 1 < mask.length; i++) if (mask[i] === 0 && mask[i + 1] === 0) bothDropped++;
    const pairs = mask.length - 1;
    expect(Math.abs(bothDropped / pairs - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / pairs));
  });

  it('draws the same mask for the same seed, step and layer offset', () => {
    const dropout = { p: 0.1, seed: 9, step: 100, offset: 3 };
    expect(dropoutMask(17, 33, dropout)).toEqual(dropoutMask(17, 33, { ...dropout }));
  });

  it('draws a different mask when the seed, the step or the layer offset changes', () => {
    const base: LoraDropout = { p: 0.5, seed: 9, step: 100, offset: 3 };
    const mask = dropoutMask(16, 64, base);
    for (const change of [{ seed: 10 }, { step: 101 }, { offset: 4 }]) {
      const other = dropoutMask(16, 64, { ...base, ...change });
      const same = other.filter((factor, i) => factor === mask[i]).length;
      // Independent masks agree on about half of the elements at p = 0.5.
      expect(same / mask.length).toBeGreaterThan(0.4);
      expect(same / mask.length).toBeLessThan(0.6);
    }
  });

  it('keeps everything at p=0 and derives keys from u32 inputs', () => {
    expect(dropoutThreshold(0)).toBe(0);
    expect(dropoutMask(3, 5, { p: 0, seed: 1, step: 2, offset: 3 }).every((factor) => factor === 1)).toBe(true);
    expect(dropoutKey({ seed: 2 ** 32 + 5, step: 0, offset: 0 })).toEqual(dropoutKey({ seed: 5, step: 0, offset: 0 }));
  });
});

function randomArray(random: Random, count: number): Float64Array {
  return Float64Array.from({ length: count }, () => random.uniform(-1, 1));
}

interface Shape {
  M: number;
  N: number;
  K: number;
  R: number;
  p: number;
}

function makeInputs({ M, N, K, R, p }: Shape, seed: number) {
  const random = Random.fromSeed(seed);
  const x = randomArray(random, M * K);
  const w = randomArray(random, N * K);
  const a = randomArray(random, R * K);
  const b = randomArray(random, N * R);
  const bias = randomArray(random, N);
  const dy = randomArray(random, M * N);
  const inputs: LoraLinearReferenceInputs = { M, N, K, R, x, w, a, b, bias, scale: 2 / R, ...(p > 0 ? { dropout: { p, seed: 7, step: 2, offset: 1 } } : {}) };
  return { inputs, x, a, b, dy };
}

describe('lora_linear reference backward matches central finite differences in Float64', () => {
  const shapes: Shape[] = [
    { M: 1, N: 1, K: 1, R: 1, p: 0 },
    { M: 3, N: 5, K: 7, R: 2, p: 0 },
    { M: 4, N: 3, K: 9, R: 4, p: 0.3 },
    { M: 5, N: 6, K: 13, R: 3, p: 0.5 },
  ];
  for (const shape of shapes) {
    const { M, N, K, R, p } = shape;
    const label = `M=${M} N=${N} K=${K} R=${R}${p > 0 ? ` with dropout p=${p}` : ''}`;
    const { inputs, x, a, b, dy } = makeInputs(shape, M * 1000 + K);
    // A loss whose gradient with respect to Y is dY; the dropout mask is fixed by (seed, step, offset).
    const loss = () => weightedSum(loraLinearReference(inputs), dy);
    const gradients = loraLinearBackwardReference({ ...inputs, dy });

    it(`dX for ${label}`, () => {
      expect(relativeError(gradients.dx, finiteDifferenceGradient(loss, x))).toBeLessThan(1e-7);
    });
    it(`dA for ${label}`, () => {
      expect(relativeError(gradients.da, finiteDifferenceGradient(loss, a))).toBeLessThan(1e-7);
    });
    it(`dB for ${label}`, () => {
      expect(relativeError(gradients.db, finiteDifferenceGradient(loss, b))).toBeLessThan(1e-7);
    });
  }

  it('routes no gradient through the LoRA branch to a dropped input, and all of it to a kept one', () => {
    // With W = 0, dX is only the LoRA branch: zero exactly where the forward's mask dropped X.
    const shape = { M: 6, N: 4, K: 10, R: 3, p: 0.5 };
    const { inputs, dy } = makeInputs(shape, 3);
    const frozenless = { ...inputs, w: new Float64Array(shape.N * shape.K) };
    const mask = dropoutMask(shape.M, shape.K, inputs.dropout!);
    const { dx } = loraLinearBackwardReference({ ...frozenless, dy });
    expect(mask.some((factor) => factor === 0)).toBe(true);
    mask.forEach((factor, i) => expect(dx[i] === 0).toBe(factor === 0));
  });
});
