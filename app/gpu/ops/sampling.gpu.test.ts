import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { argmaxReference, nucleusProbabilities, sampleTopPReference } from '../reference/sampling.ts';
import { createTensor } from '../tensor.ts';
import { readIndexTensor } from '../tensor.ts';
import { argmax, drawUniforms, sampleTopP, type TopPOptions } from './sampling.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

function randomLogits(R: number, V: number, seed: number, scale: number): Float32Array {
  return Random.fromSeed(seed).fillUniform(new Float32Array(R * V), -scale, scale);
}

const rowOf = (logits: Float32Array, V: number, r: number) => logits.subarray(r * V, (r + 1) * V);

async function gpuArgmax(logits: Float32Array, R: number, V: number): Promise<Int32Array | Uint32Array> {
  const tensor = createTensor(ctx.device, 'logits', [R, V], 'f32', logits);
  const tokens = argmax(ctx, tensor);
  try {
    return await readIndexTensor(ctx.device, tokens);
  } finally {
    tensor.buffer.destroy();
    tokens.buffer.destroy();
  }
}

async function gpuSample(logits: Float32Array, R: number, V: number, u: Float32Array, options: TopPOptions): Promise<Int32Array | Uint32Array> {
  const tensor = createTensor(ctx.device, 'logits', [R, V], 'f32', logits);
  const tokens = sampleTopP(ctx, tensor, u, options);
  try {
    return await readIndexTensor(ctx.device, tokens);
  } finally {
    tensor.buffer.destroy();
    tokens.buffer.destroy();
  }
}

/** GPU choices and Float64 reference choices for R random rows, each with its own u from one seed. */
async function compareChoices(R: number, V: number, seed: number, options: TopPOptions, scale = 4) {
  const logits = randomLogits(R, V, seed, scale);
  const u = drawUniforms(Random.fromSeed(seed + 1000), R);
  const got = await gpuSample(logits, R, V, u, options);
  const want = Array.from({ length: R }, (_, r) => sampleTopPReference(rowOf(logits, V, r), options.temperature, options.topP, u[r]!));
  return { got: Array.from(got), want };
}

describe('argmax over the vocabulary', () => {
  it('matches the reference for 37 rows of V=1000', async () => {
    const logits = randomLogits(37, 1000, 1, 5);
    const want = Array.from({ length: 37 }, (_, r) => argmaxReference(rowOf(logits, 1000, r)));
    expect(Array.from(await gpuArgmax(logits, 37, 1000))).toEqual(want);
  });

  it('takes the lowest index among tied maxima, including ties across threads of the workgroup', async () => {
    const V = 700;
    const logits = new Float32Array(2 * V).fill(-1);
    for (const v of [650, 300, 44]) logits[v] = 3; // row 0: ties at 44, 300, 650
    for (const v of [513, 257]) logits[V + v] = 3; // row 1: ties at 257 and 513, both seen by thread 1
    expect(Array.from(await gpuArgmax(logits, 2, V))).toEqual([44, 257]);
  });

  it('handles V=1 and V=3', async () => {
    expect(Array.from(await gpuArgmax(Float32Array.of(-7), 1, 1))).toEqual([0]);
    expect(Array.from(await gpuArgmax(Float32Array.of(1, 2, 0, 9, 9, 8), 2, 3))).toEqual([1, 0]);
  });
});

describe('temperature + top-p sampling chooses exactly what the Float64 reference chooses for the same u', () => {
  for (const [V, options] of [
    [509, { temperature: 1, topP: 0.9 }],
    [1000, { temperature: 0.7, topP: 0.5 }],
    [257, { temperature: 1.3, topP: 0.95 }],
  ] as const) {
    it(`agrees on 64 rows × seeds 1..3 for V=${V}, T=${options.temperature}, top_p=${options.topP}`, async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const { got, want } = await compareChoices(64, V, seed * 10 + V, options);
        expect(got).toEqual(want);
      }
    });
  }

  it('samples from the whole distribution at top_p = 1 (plain sampling), V=509', async () => {
    const { got, want } = await compareChoices(128, 509, 5, { temperature: 1, topP: 1 });
    expect(got).toEqual(want);
  });

  it('reduces to argmax at a tiny top_p, whatever u is', async () => {
    const R = 48;
    const V = 300;
    const logits = randomLogits(R, V, 6, 3);
    const got = await gpuSample(logits, R, V, drawUniforms(Random.fromSeed(7), R), { temperature: 1, topP: 1e-6 });
    expect(Array.from(got)).toEqual(Array.from({ length: R }, (_, r) => argmaxReference(rowOf(logits, V, r))));
  });

  it('breaks probability ties by lowest index when forming the nucleus (10 equal logits, top_p 0.35: tokens 0..3)', async () => {
    const R = 200;
    const u = drawUniforms(Random.fromSeed(8), R);
    const got = await gpuSample(new Float32Array(R * 10), R, 10, u, { temperature: 1, topP: 0.35 });
    expect(Array.from(got)).toEqual(Array.from(u, (value) => sampleTopPReference(new Array(10).fill(0), 1, 0.35, value)));
    expect(Math.max(...got)).toBe(3);
  });

  it('handles a single-token vocabulary and logits in the hundreds', async () => {
    expect(Array.from(await gpuSample(Float32Array.of(5), 1, 1, Float32Array.of(0.5), { temperature: 1, topP: 0.9 }))).toEqual([0]);
    const { got, want } = await compareChoices(32, 100, 9, { temperature: 1, topP: 0.8 }, 300);
    expect(got).toEqual(want);
  });
});

describe('top-p sampling frequencies', () => {
  it('match the renormalized nucleus probabilities over 4000 draws on V=6', async () => {
    const V = 6;
    const R = 4000;
    const row = Float32Array.of(2, 1, 0.5, 0, -1, 2.5);
    const options = { temperature: 0.8, topP: 0.9 };
    const expected = nucleusProbabilities(row, options.temperature, options.topP);
    const logits = new Float32Array(R * V);
    for (let r = 0; r < R; r++) logits.set(row, r * V);
    const tokens = await gpuSample(logits, R, V, drawUniforms(Random.fromSeed(11), R), options);
    const counts = new Array(V).fill(0);
    for (const token of tokens) counts[token]++;
    expected.forEach((p, v) => {
      if (p === 0) expect(counts[v]).toBe(0);
      // Four standard deviations of a binomial count: fails by chance about once in 16,000 runs per token.
      else expect(Math.abs(counts[v] / R - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / R));
    });
  });
});

describe('sampling refuses bad calls before dispatch', () => {
  const logits = () => createTensor(ctx.device, 'logits', [2, 5], 'f32');

  it('refuses temperature 0 (greedy decoding is argmax) and top_p outside (0, 1]', () => {
    expect(() => sampleTopP(ctx, logits(), Float32Array.of(0, 0), { temperature: 0, topP: 1 })).toThrow(ShapeError);
    expect(() => sampleTopP(ctx, logits(), Float32Array.of(0, 0), { temperature: 1, topP: 1.5 })).toThrow(/topP must be in \(0, 1\]/);
  });

  it('refuses a random number outside [0, 1) and a count that differs from the rows', () => {
    expect(() => sampleTopP(ctx, logits(), Float32Array.of(0, 1), { temperature: 1, topP: 1 })).toThrow(/u\[1\] = 1 is outside \[0, 1\)/);
    expect(() => sampleTopP(ctx, logits(), Float32Array.of(0.5), { temperature: 1, topP: 1 })).toThrow(/tensor "u" has shape \[1\], expected \[R\] = \[2\]/);
  });
});
