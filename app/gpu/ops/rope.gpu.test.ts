import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { ropeBackwardReference, ropeForwardReference, type RopeFrequencyParameters } from '../reference/rope.ts';
import { createIndexTensor, readTensor } from '../tensor.ts';
import { createRopeFrequencies, encodeRope, encodeRopeBackward, ropeAttentionFactor, ropeFrequencyTurns, ropeInverseFrequencies } from './rope.ts';

const gpu = setUpTestGpu();
const { submit, track, upload } = gpu;

const random = Random.fromSeed(31);
const randomValues = (count: number): Float32Array => random.fillUniform(new Float32Array(count), -1, 1);

/** Positions of packed examples: each restarts at 0. */
const packed = (...lengths: number[]): number[] => lengths.flatMap((length) => Array.from({ length }, (_, t) => t));
/** Positions of generation steps after a prompt of `offset` tokens. */
const fromOffset = (offset: number, count: number): number[] => Array.from({ length: count }, (_, t) => offset + t);

const config = (headDim: number, ropeTheta: number, partialRotaryFactor = 1): RopeFrequencyParameters => ({
  headDim,
  partialRotaryFactor,
  ropeTheta,
  ropeScaling: null,
});
const LLAMA_3_2_1B: RopeFrequencyParameters = {
  headDim: 64,
  partialRotaryFactor: 1,
  ropeTheta: 500000,
  ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

/** Phi-4-mini-instruct: head_dim 128, 96 rotary dims, LongRoPE with its published attention factor √(1 + ln 32 / ln 4096). */
const PHI_4_MINI: RopeFrequencyParameters = {
  headDim: 128,
  partialRotaryFactor: 0.75,
  ropeTheta: 10000,
  ropeScaling: { shortFactor: Array.from({ length: 48 }, (_, i) => 1 + i / 40), longFactor: Array.from({ length: 48 }, (_, i) => 1 + i), originalMaxPositionEmbeddings: 4096, attentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)) },
};

interface Case {
  label: string;
  heads: number;
  positions: number[];
  rope: RopeFrequencyParameters;
  /** The sequence length that picks LongRoPE's factors. */
  sequenceLength?: number;
}

const CASES: Case[] = [
  { label: 'fixture q/k (H=4, D=16, theta 1e4), two packed examples', heads: 4, positions: packed(20, 17), rope: config(16, 10000) },
  { label: 'SmolLM2-135M q (H=9, D=64, theta 1e5)', heads: 9, positions: packed(7), rope: config(64, 100000) },
  { label: 'SmolLM2-135M k (Hkv=3, D=64, theta 1e5), odd BT', heads: 3, positions: packed(4, 1), rope: config(64, 100000) },
  { label: 'partial rotary 0.5 (8 of D=16 rotate)', heads: 4, positions: packed(9, 4), rope: config(16, 10000, 0.5) },
  { label: 'partial rotary 0.25 (16 of D=64 rotate)', heads: 3, positions: packed(5), rope: config(64, 10000, 0.25) },
  { label: 'one row, D=2', heads: 1, positions: [3], rope: config(2, 10000) },
  { label: 'Llama 3 scaling at generation offsets past 8192', heads: 2, positions: fromOffset(8190, 5), rope: LLAMA_3_2_1B },
  { label: 'Llama 3 scaling near its 131072-token context', heads: 2, positions: fromOffset(131060, 12), rope: LLAMA_3_2_1B },
  { label: 'Phi-4-mini LongRoPE, short factors and attention factor, partial rotary 0.75', heads: 3, positions: packed(6, 3), rope: PHI_4_MINI },
  { label: 'Phi-4-mini LongRoPE, long factors past original_max_position_embeddings 4096', heads: 3, positions: fromOffset(5000, 5), rope: PHI_4_MINI, sequenceLength: 5005 },
];

function prepare(c: Case) {
  const D = c.rope.headDim;
  const BT = c.positions.length;
  const shape = [BT, c.heads, D];
  const inverseFrequencies = ropeInverseFrequencies(c.rope, c.sequenceLength);
  const scale = ropeAttentionFactor(c.rope);
  const common = {
    positions: track(createIndexTensor(gpu.ctx.device, 'positions', [BT], 'u32', c.positions)),
    frequencies: track(createRopeFrequencies(gpu.ctx.device, 'inv_freq', inverseFrequencies)),
    scale,
  };
  const reference = { BT, heads: c.heads, D, positions: c.positions, inverseFrequencies, scale };
  return { shape, common, reference, n: BT * c.heads * D };
}

// Angles are reduced in turns and cos/sin evaluated by the kernel's own series: measured errors are
// ~2e-7 of the output scale below position 10⁴ and ~2.4e-5 near 131072, where rounding position·lo
// (about 160 turns) dominates; transformers' own float32 angles are off by ~8e-3 rad there.
describe('rope forward: x·cos + rotate_half(x)·sin on the rotary dims, the rest passed through', () => {
  for (const c of CASES) {
    it(`matches the Float64 reference to 1e-4 out of place for ${c.label}`, async () => {
      const { shape, common, reference, n } = prepare(c);
      const x = randomValues(n);
      const y = upload('q_rot', shape);
      await submit((encoder) => encodeRope(gpu.ctx, encoder, { ...common, x: upload('q', shape, x) }, y));
      expect(relativeError(await readTensor(gpu.ctx.device, y), ropeForwardReference({ ...reference, x }))).toBeLessThan(1e-4);
    });
  }

  for (const c of [CASES[1]!, CASES[3]!]) {
    it(`rotates in place to the same values as out of place for ${c.label}`, async () => {
      const { shape, common, reference, n } = prepare(c);
      const x = randomValues(n);
      const q = upload('q', shape, x);
      await submit((encoder) => encodeRope(gpu.ctx, encoder, { ...common, x: q }));
      expect(relativeError(await readTensor(gpu.ctx.device, q), ropeForwardReference({ ...reference, x }))).toBeLessThan(1e-4);
    });
  }
});

describe('rope backward: dx += Rᵀ·dy, the transposed rotation', () => {
  for (const c of CASES) {
    it(`accumulates onto existing gradients, matching the Float64 reference for ${c.label}`, async () => {
      const { shape, common, reference, n } = prepare(c);
      const [dy, dx0] = [randomValues(n), randomValues(n)];
      const dx = upload('dq', shape, dx0);
      await submit((encoder) => encodeRopeBackward(gpu.ctx, encoder, { ...common, dy: upload('dq_rot', shape, dy) }, dx));
      const want = ropeBackwardReference({ ...reference, dy }).map((value, i) => value + dx0[i]!);
      expect(relativeError(await readTensor(gpu.ctx.device, dx), want)).toBeLessThan(1e-4);
    });
  }
});

describe('ropeFrequencyTurns: inv_freq / 2π split so that position·hi is exact in f32', () => {
  it('keeps hi to 7 significant bits and hi + lo within 2⁻³⁰ of inv_freq / 2π', () => {
    const inverse = ropeInverseFrequencies(LLAMA_3_2_1B);
    const turns = ropeFrequencyTurns(inverse);
    for (let j = 0; j < inverse.length; j++) {
      const hi = turns[2 * j]!;
      const exponent = Math.floor(Math.log2(hi));
      expect(Number.isInteger(hi / 2 ** (exponent - 6))).toBe(true);
      const exact = inverse[j]! / (2 * Math.PI);
      expect(Math.abs(hi + turns[2 * j + 1]! - exact) / exact).toBeLessThan(2 ** -30);
    }
  });
});

describe('rope refuses bad calls before dispatch', () => {
  const frequencies = () => track(createRopeFrequencies(gpu.ctx.device, 'inv_freq', ropeInverseFrequencies(config(16, 10000))));

  it('names positions when it does not hold one position per row', () => {
    const positions = track(createIndexTensor(gpu.ctx.device, 'positions', [4], 'u32', [0, 1, 2, 3]));
    const call = () => encodeRope(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { x: upload('q', [5, 4, 16]), positions, frequencies: frequencies() });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "positions" has shape \[4\], expected \[BT\] = \[5\]/);
  });

  it('refuses frequencies that rotate more dims than head_dim', () => {
    const positions = track(createIndexTensor(gpu.ctx.device, 'positions', [2], 'u32', [0, 1]));
    const call = () => encodeRope(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { x: upload('k', [2, 4, 8]), positions, frequencies: frequencies() });
    expect(call).toThrow(/"inv_freq" rotates 16 dims, more than head_dim D = 8 of "k"/);
  });

  it('refuses a gradient that shares its buffer with dy', () => {
    const positions = track(createIndexTensor(gpu.ctx.device, 'positions', [2], 'u32', [0, 1]));
    const dy = upload('dq_rot', [2, 4, 16]);
    const call = () => encodeRopeBackward(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { dy, positions, frequencies: frequencies() }, { ...dy, name: 'dq' });
    expect(call).toThrow(/"dq" is written and shares its buffer with "dq_rot"/);
  });
});
