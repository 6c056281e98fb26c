import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { setKernelFamily, type KernelFamily } from '../kernel-family.ts';
import {
  attentionReference,
  attentionBackwardReference,
  type AttentionReferenceInputs,
} from '../reference/attention.ts';
import { createIndexTensor, createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import {
  MAX_HEAD_DIM,
  MAX_ROW_HEAD_DIM,
  WORKGROUP_MEMORY_BUDGET,
  attentionBackward,
  attentionRoute,
  attentionForward,
  attentionScratchShapes,
  attentionTiles,
  encodeAttentionBackward,
  type AttentionDims,
  type AttentionInputs,
} from './attention.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

/** 1e-4 of the output's scale, as for every kernel (f32 sums of at most a few hundred terms). */
const TOLERANCE = 1e-4;

interface Case {
  B: number;
  T: number;
  /** Keys in use; defaults to T (training). */
  Tk?: number;
  /** k and v as a KV cache of this many positions, the slots past Tk filled with NaN. */
  capacity?: number;
  H: number;
  Hkv: number;
  D: number;
  /** Segment ids [B,Tk] (0 = padding). */
  segments?: number[];
  /** Segment ids are bit sets (candidate trees). */
  segmentBits?: boolean;
  scale?: number;
  /** Sliding window of this many positions. */
  window?: number;
  /** Inputs are uniform in ±magnitude. */
  magnitude?: number;
}

interface Prepared {
  reference: AttentionReferenceInputs;
  inputs: AttentionInputs;
  dO: Float32Array;
  tensors: GpuTensor[];
  /** The first Tk positions of each sequence of a [B, capacity, Hkv, D] result, and the rest. */
  keysInUse: (data: Float32Array) => { used: Float32Array; unused: Float32Array };
}

/** Spreads [B, Tk, ...] rows of `width` values into [B, capacity, ...], filling the slots past Tk. */
function spread(data: Float32Array, B: number, Tk: number, capacity: number, width: number, fill: number): Float32Array {
  const out = new Float32Array(B * capacity * width).fill(fill);
  for (let b = 0; b < B; b++) out.set(data.subarray(b * Tk * width, (b + 1) * Tk * width), b * capacity * width);
  return out;
}

function prepare(testCase: Case, seed = 1): Prepared {
  const { B, T, H, Hkv, D, segments, scale, window } = testCase;
  const Tk = testCase.Tk ?? T;
  const capacity = testCase.capacity ?? Tk;
  const width = Hkv * D;
  const magnitude = testCase.magnitude ?? 1;
  const random = Random.fromSeed(seed);
  const values = (count: number) => random.fillUniform(new Float32Array(count), -magnitude, magnitude);
  const q = values(B * T * H * D);
  const k = values(B * Tk * Hkv * D);
  const v = values(B * Tk * Hkv * D);
  const dO = random.fillUniform(new Float32Array(B * T * H * D), -1, 1);
  const tensors: GpuTensor[] = [];
  const upload = (name: string, shape: number[], data: Float32Array): GpuTensor => {
    const tensor = createTensor(ctx.device, name, shape, 'f32', data);
    tensors.push(tensor);
    return tensor;
  };
  const inputs: AttentionInputs = {
    q: upload('q', [B, T, H, D], q),
    k: upload('k', [B, capacity, Hkv, D], spread(k, B, Tk, capacity, width, NaN)),
    v: upload('v', [B, capacity, Hkv, D], spread(v, B, Tk, capacity, width, NaN)),
    ...(scale !== undefined ? { scale } : {}),
    ...(window !== undefined ? { window } : {}),
    ...(testCase.capacity !== undefined ? { keyLength: Tk } : {}),
    ...(testCase.segmentBits ? { segmentBits: true } : {}),
  };
  if (segments) {
    inputs.segments = createIndexTensor(ctx.device, 'segments', [B, Tk], 'u32', segments);
    tensors.push(inputs.segments);
  }
  const reference = { B, T, Tk, H, Hkv, D, q, k, v, ...(segments ? { segments } : {}), ...(testCase.segmentBits ? { segmentBits: true } : {}), ...(scale !== undefined ? { scale } : {}), ...(window !== undefined ? { window } : {}) };
  const keysInUse = (data: Float32Array) => {
    const used = new Float32Array(B * Tk * width);
    const unused: number[] = [];
    for (let b = 0; b < B; b++) {
      const sequence = data.subarray(b * capacity * width, (b + 1) * capacity * width);
      used.set(sequence.subarray(0, Tk * width), b * Tk * width);
      unused.push(...sequence.subarray(Tk * width));
    }
    return { used, unused: Float32Array.from(unused) };
  };
  return { reference, inputs, dO, tensors, keysInUse };
}

function release(tensors: readonly GpuTensor[]): void {
  for (const tensor of tensors) tensor.buffer.destroy();
}

/** Relative error of L over rows with a visible key; rows without one must be −∞ on both sides. */
function logsumexpError(got: Float32Array, want: Float64Array): number {
  const finite = [...want.keys()].filter((i) => Number.isFinite(want[i]!));
  for (const i of want.keys()) if (!Number.isFinite(want[i]!)) expect(got[i]).toBe(want[i]);
  return relativeError(finite.map((i) => got[i]!), finite.map((i) => want[i]!));
}

async function forwardErrors(testCase: Case): Promise<{ o: number; logsumexp: number }> {
  const { reference, inputs, tensors } = prepare(testCase);
  const saved = attentionForward(ctx, inputs);
  try {
    const want = attentionReference(reference);
    return {
      o: relativeError(await readTensor(ctx.device, saved.o), want.o),
      logsumexp: logsumexpError(await readTensor(ctx.device, saved.logsumexp), want.logsumexp),
    };
  } finally {
    release([...tensors, saved.o, saved.logsumexp]);
  }
}

async function backwardErrors(testCase: Case): Promise<{ dq: number; dk: number; dv: number }> {
  const { reference, inputs, dO, tensors, keysInUse } = prepare(testCase);
  const { B, T, H, D } = reference;
  const dOTensor = createTensor(ctx.device, 'dO', [B, T, H, D], 'f32', dO);
  const saved = attentionForward(ctx, inputs);
  const gradients = attentionBackward(ctx, inputs, saved, dOTensor);
  try {
    const want = attentionBackwardReference(reference, dO);
    const dk = keysInUse(await readTensor(ctx.device, gradients.dk));
    const dv = keysInUse(await readTensor(ctx.device, gradients.dv));
    // Cache slots past the keys in use get no gradient at all.
    expect([...dk.unused, ...dv.unused].every((x) => x === 0)).toBe(true);
    return {
      dq: relativeError(await readTensor(ctx.device, gradients.dq), want.dq),
      dk: relativeError(dk.used, want.dk),
      dv: relativeError(dv.used, want.dv),
    };
  } finally {
    release([...tensors, dOTensor, saved.o, saved.logsumexp, gradients.dq, gradients.dk, gradients.dv]);
  }
}

function describeShape({ B, T, H, Hkv, D, window }: Case): string {
  return `B=${B} T=${T} H=${H} Hkv=${Hkv} D=${D}${window ? ` window=${window}` : ''}`;
}

async function expectForwardMatches(testCase: Case): Promise<void> {
  const errors = await forwardErrors(testCase);
  expect(errors.o).toBeLessThan(TOLERANCE);
  expect(errors.logsumexp).toBeLessThan(TOLERANCE);
}

async function expectBackwardMatches(testCase: Case): Promise<void> {
  const errors = await backwardErrors(testCase);
  expect(errors.dq).toBeLessThan(TOLERANCE);
  expect(errors.dk).toBeLessThan(TOLERANCE);
  expect(errors.dv).toBeLessThan(TOLERANCE);
}

/** Right padding: sequence b keeps its first `lengths[b]` positions. */
function rightPadding(Tk: number, lengths: number[]): number[] {
  return lengths.flatMap((length) => Array.from({ length: Tk }, (_, j) => (j < length ? 1 : 0)));
}

/** Left padding: sequence b starts with `pads[b]` padding positions (batched decode over a cache). */
function leftPadding(Tk: number, pads: number[]): number[] {
  return pads.flatMap((pad) => Array.from({ length: Tk }, (_, j) => (j < pad ? 0 : 1)));
}

/** Examples of the given lengths packed one after another with ids 1, 2, ..., then padding. */
function packed(Tk: number, lengths: number[]): number[] {
  const ids = lengths.flatMap((length, example) => Array<number>(length).fill(example + 1));
  return [...ids, ...Array<number>(Tk - ids.length).fill(0)];
}

/** A tree of candidates: a prefix shared by every branch, then each branch's tokens. */
interface Tree {
  prefix: number;
  branches: number[];
}

/**
 * Segment bit sets of trees laid end to end, then padding: each branch takes the next bit, its prefix the
 * OR of its branches' bits, so trees of one row never share a bit.
 */
function trees(Tk: number, layout: readonly Tree[]): number[] {
  const ids: number[] = [];
  let bit = 0;
  for (const { prefix, branches } of layout) {
    const bits = branches.map(() => 2 ** bit++);
    ids.push(...Array<number>(prefix).fill(bits.reduce((all, one) => all | one, 0) >>> 0));
    branches.forEach((length, i) => ids.push(...Array<number>(length).fill(bits[i]!)));
  }
  return [...ids, ...Array<number>(Tk - ids.length).fill(0)];
}

// Every T with every head grouping; D and B alternate so that each T meets both of each.
const HEAD_GROUPS = [
  [4, 4],
  [4, 2],
  [9, 3],
  [4, 1],
] as const;
const GRID: Case[] = [1, 7, 37, 64].flatMap((T, ti) =>
  HEAD_GROUPS.map(([H, Hkv], gi) => ({ B: 1 + ((ti + gi) % 2), T, H, Hkv, D: gi < 2 === (ti % 2 === 0) ? 16 : 64 })),
);

const FAMILIES: KernelFamily[] = ['cpu', 'gpu'];

/** Windows smaller than T, so most rows lose keys to them; one a single position wide. */
const WINDOWED: Case[] = [
  { B: 2, T: 37, H: 4, Hkv: 2, D: 16, window: 5 },
  { B: 1, T: 64, H: 9, Hkv: 3, D: 64, window: 17 },
  { B: 1, T: 23, H: 2, Hkv: 1, D: 128, window: 1 },
];

for (const family of FAMILIES) {
  describe(`attention forward on the ${family} family's route: O = softmax(scale·q·kᵀ, causal)·v with grouped-query heads`, () => {
    beforeAll(() => setKernelFamily(ctx, family));
    for (const testCase of GRID) {
      it(`matches the Float64 reference (O and L) for ${describeShape(testCase)}`, () => expectForwardMatches(testCase));
    }

    it('matches the Float64 reference for T=37 H=4 Hkv=2 D=16 with a padding mask', () =>
      expectForwardMatches({ B: 2, T: 37, H: 4, Hkv: 2, D: 16, segments: rightPadding(37, [30, 11]) }));

    it('matches the Float64 reference for T=64 H=9 Hkv=3 D=64 with packed examples', () =>
      expectForwardMatches({ B: 2, T: 64, H: 9, Hkv: 3, D: 64, segments: [...packed(64, [5, 1, 30, 20]), ...packed(64, [64])] }));

    it('matches the Float64 reference for decode: T=1 after a cache of Tk=13 keys, H=4 Hkv=2 D=64', () =>
      expectForwardMatches({ B: 2, T: 1, Tk: 13, H: 4, Hkv: 2, D: 64 }));

    it('matches the Float64 reference for decode over a left-padded cache (T=1 Tk=13, B=2)', () =>
      expectForwardMatches({ B: 2, T: 1, Tk: 13, H: 9, Hkv: 3, D: 16, segments: leftPadding(13, [0, 4]) }));

    it('matches the Float64 reference for a block of 5 new tokens after a cache (T=5 Tk=13)', () =>
      expectForwardMatches({ B: 1, T: 5, Tk: 13, H: 4, Hkv: 1, D: 16 }));

    it('reads only the keys in use of a KV cache (keyLength=13 of 20 slots, the rest NaN), B=2 T=1', () =>
      expectForwardMatches({ B: 2, T: 1, Tk: 13, capacity: 20, H: 4, Hkv: 2, D: 16 }));

    it('matches the Float64 reference for a long sequence T=256 H=2 Hkv=1 D=16', () =>
      expectForwardMatches({ B: 1, T: 256, H: 2, Hkv: 1, D: 16 }));

    it(`matches the Float64 reference at the largest head dim D=${MAX_HEAD_DIM}`, () =>
      expectForwardMatches({ B: 1, T: 9, H: 2, Hkv: 1, D: MAX_HEAD_DIM }));

    it('matches the Float64 reference at head dim 256 (Gemma 3) with GQA, B=2 T=19 H=4 Hkv=1', () =>
      expectForwardMatches({ B: 2, T: 19, H: 4, Hkv: 1, D: 256 }));

    it('matches the Float64 reference at head dim 96 (Phi-3-mini)', () => expectForwardMatches({ B: 1, T: 21, H: 4, Hkv: 2, D: 96 }));

    it('matches the Float64 reference at head dim 20, whose 5 vec4s split unevenly over 2 lanes', () =>
      expectForwardMatches({ B: 2, T: 13, H: 2, Hkv: 1, D: 20 }));

    for (const testCase of WINDOWED) {
      it(`matches the Float64 reference past a sliding window: ${describeShape(testCase)}`, () => expectForwardMatches(testCase));
    }

    it('matches the Float64 reference for a sliding window over packed examples (T=40, window 6, D=64)', () =>
      expectForwardMatches({ B: 1, T: 40, H: 4, Hkv: 2, D: 64, window: 6, segments: packed(40, [3, 17, 12]) }));

    it('matches the Float64 reference for decode past the window over a KV cache (T=1 Tk=29 of 32, window 4)', () =>
      expectForwardMatches({ B: 2, T: 1, Tk: 29, capacity: 32, H: 4, Hkv: 2, D: 64, window: 4 }));

    it('stays accurate when scores span tens of units (online max rescaling, scale=1)', () =>
      expectForwardMatches({ B: 1, T: 37, H: 2, Hkv: 1, D: 16, scale: 1, magnitude: 2 }));

    it('matches the Float64 reference with segment bit sets: two candidate trees in a row, branches of different lengths, then padding', () =>
      expectForwardMatches({
        B: 2,
        T: 48,
        H: 4,
        Hkv: 2,
        D: 16,
        segmentBits: true,
        segments: [
          ...trees(48, [
            { prefix: 9, branches: [1, 4, 2] },
            { prefix: 13, branches: [3, 6] },
          ]),
          ...trees(48, [{ prefix: 20, branches: [7, 1, 5, 2] }]),
        ],
      }));

    it('matches the Float64 reference with segment bit sets at D=64 with GQA 9/3, and a tree without a shared prefix', () =>
      expectForwardMatches({
        B: 1,
        T: 64,
        H: 9,
        Hkv: 3,
        D: 64,
        segmentBits: true,
        segments: trees(64, [
          { prefix: 0, branches: [4, 6] },
          { prefix: 30, branches: [2, 9, 5] },
        ]),
      }));

    it('matches the Float64 reference with segment bit sets that use bit 31 (32 branches in a row)', () =>
      expectForwardMatches({ B: 1, T: 70, H: 2, Hkv: 1, D: 16, segmentBits: true, segments: trees(70, [{ prefix: 6, branches: Array<number>(32).fill(2) }]) }));

    it('gives every branch of a candidate tree the output it has alone after the prefix, in its own segment', async () => {
      const H = 4;
      const Hkv = 2;
      const D = 16;
      const prefix = 7;
      const branches = [3, 5, 1];
      const T = prefix + branches.reduce((a, b) => a + b, 0) + 2;
      const tree = prepare({ B: 1, T, H, Hkv, D, segmentBits: true, segments: trees(T, [{ prefix, branches }]) });
      const saved = attentionForward(ctx, tree.inputs);
      const treeOutput = await readTensor(ctx.device, saved.o);
      release([...tree.tensors, saved.o, saved.logsumexp]);
      const rows = (data: ArrayLike<number>, heads: number, from: number, length: number) => Array.from(data).slice(from * heads * D, (from + length) * heads * D);
      let start = prefix;
      for (const length of branches) {
        // The candidate alone: the prefix's rows, then its own branch's, in a row of its own (segment 1, then padding).
        const alone = (data: ArrayLike<number>, heads: number) => Float32Array.from([...rows(data, heads, 0, prefix), ...rows(data, heads, start, length), ...Array<number>(heads * D).fill(0)]);
        const n = prefix + length + 1;
        const inputs = {
          q: createTensor(ctx.device, 'q', [1, n, H, D], 'f32', alone(tree.reference.q, H)),
          k: createTensor(ctx.device, 'k', [1, n, Hkv, D], 'f32', alone(tree.reference.k, Hkv)),
          v: createTensor(ctx.device, 'v', [1, n, Hkv, D], 'f32', alone(tree.reference.v, Hkv)),
          segments: createIndexTensor(ctx.device, 'segments', [1, n], 'u32', [...Array<number>(n - 1).fill(1), 0]),
        };
        const result = attentionForward(ctx, inputs);
        const output = await readTensor(ctx.device, result.o);
        // The same keys in the same order: equal up to rounding, far inside the usual tolerance.
        expect(relativeError(rows(treeOutput, H, start, length), rows(output, H, prefix, length))).toBeLessThan(1e-6);
        expect(relativeError(rows(treeOutput, H, 0, prefix), rows(output, H, 0, prefix))).toBeLessThan(1e-6);
        release([...Object.values(inputs), result.o, result.logsumexp]);
        start += length;
      }
    });

    it('applies a scale other than 1/sqrt(D)', () => expectForwardMatches({ B: 1, T: 7, H: 4, Hkv: 2, D: 16, scale: 0.3 }));

    it('gives zeros and L = −∞ to a query that sees no key (left padding), and no NaN elsewhere', async () => {
      const T = 7;
      const testCase: Case = { B: 2, T, H: 4, Hkv: 2, D: 16, segments: leftPadding(T, [0, 3]) };
      const { inputs, tensors } = prepare(testCase);
      const saved = attentionForward(ctx, inputs);
      try {
        const o = await readTensor(ctx.device, saved.o);
        const logsumexp = await readTensor(ctx.device, saved.logsumexp);
        const rowsOfSecond = o.subarray(T * 4 * 16);
        expect(Array.from(rowsOfSecond.subarray(0, 3 * 4 * 16)).every((x) => x === 0)).toBe(true);
        expect(o.every((x) => Number.isFinite(x))).toBe(true);
        for (let h = 0; h < 4; h++) {
          const row = (4 + h) * T; // b = 1
          expect(Array.from(logsumexp.subarray(row, row + 3))).toEqual([-Infinity, -Infinity, -Infinity]);
          expect(logsumexp.subarray(row + 3, row + T).every((x) => Number.isFinite(x))).toBe(true);
        }
      } finally {
        release([...tensors, saved.o, saved.logsumexp]);
      }
    });

    it('keeps packed examples apart: each gets the output it would get alone', async () => {
      const lengths = [5, 9];
      const H = 4;
      const D = 16;
      const whole = prepare({ B: 1, T: 14, H, Hkv: 2, D, segments: packed(14, lengths) });
      const saved = attentionForward(ctx, whole.inputs);
      const packedOutput = await readTensor(ctx.device, saved.o);
      release([...whole.tensors, saved.o, saved.logsumexp]);
      let start = 0;
      for (const length of lengths) {
        const slice = (data: Float32Array, Hx: number) => data.slice(start * Hx * D, (start + length) * Hx * D);
        const alone = {
          q: createTensor(ctx.device, 'q', [1, length, H, D], 'f32', slice(whole.reference.q as Float32Array, H)),
          k: createTensor(ctx.device, 'k', [1, length, 2, D], 'f32', slice(whole.reference.k as Float32Array, 2)),
          v: createTensor(ctx.device, 'v', [1, length, 2, D], 'f32', slice(whole.reference.v as Float32Array, 2)),
        };
        const result = attentionForward(ctx, alone);
        const output = await readTensor(ctx.device, result.o);
        // The same keys in the same order: equal up to rounding, far inside the usual tolerance.
        expect(relativeError(slice(packedOutput, H), output)).toBeLessThan(1e-6);
        release([...Object.values(alone), result.o, result.logsumexp]);
        start += length;
      }
    });
  });

  describe(`attention backward on the ${family} family's route: dq, dk, dv from recomputed probabilities`, () => {
    beforeAll(() => setKernelFamily(ctx, family));
    for (const testCase of GRID) {
      it(`matches the Float64 reference (dq, dk, dv) for ${describeShape(testCase)}`, () => expectBackwardMatches(testCase));
    }

    it('matches the Float64 reference for T=37 H=4 Hkv=2 D=16 with a padding mask', () =>
      expectBackwardMatches({ B: 2, T: 37, H: 4, Hkv: 2, D: 16, segments: rightPadding(37, [30, 11]) }));

    it('matches the Float64 reference for T=64 H=9 Hkv=3 D=64 with packed examples', () =>
      expectBackwardMatches({ B: 2, T: 64, H: 9, Hkv: 3, D: 64, segments: [...packed(64, [5, 1, 30, 20]), ...packed(64, [64])] }));

    it('matches the Float64 reference with queries that see no key (left padding), without NaN', () =>
      expectBackwardMatches({ B: 2, T: 7, H: 4, Hkv: 2, D: 16, segments: leftPadding(7, [0, 3]) }));

    it('matches the Float64 reference for a block of 5 new tokens after a cache (T=5 Tk=13)', () =>
      expectBackwardMatches({ B: 2, T: 5, Tk: 13, H: 4, Hkv: 2, D: 16 }));

    it('matches the Float64 reference for decode: T=1 after a cache of Tk=13 keys', () =>
      expectBackwardMatches({ B: 1, T: 1, Tk: 13, H: 9, Hkv: 3, D: 64 }));

    it('leaves KV cache slots past keyLength untouched (keyLength=13 of 20, T=5, B=2)', () =>
      expectBackwardMatches({ B: 2, T: 5, Tk: 13, capacity: 20, H: 4, Hkv: 2, D: 16 }));

    it('matches the Float64 reference for a long sequence T=256 H=2 Hkv=1 D=16', () =>
      expectBackwardMatches({ B: 1, T: 256, H: 2, Hkv: 1, D: 16 }));

    it(`matches the Float64 reference at the largest head dim D=${MAX_HEAD_DIM}`, () =>
      expectBackwardMatches({ B: 1, T: 9, H: 2, Hkv: 1, D: MAX_HEAD_DIM }));

    it('matches the Float64 reference at head dim 256 (Gemma 3) with GQA, B=2 T=19 H=4 Hkv=1', () =>
      expectBackwardMatches({ B: 2, T: 19, H: 4, Hkv: 1, D: 256 }));

    it('matches the Float64 reference at head dim 96 (Phi-3-mini)', () => expectBackwardMatches({ B: 1, T: 21, H: 4, Hkv: 2, D: 96 }));

    it('matches the Float64 reference at head dim 20, whose 5 vec4s split unevenly over 2 lanes', () =>
      expectBackwardMatches({ B: 2, T: 13, H: 2, Hkv: 1, D: 20 }));

    for (const testCase of WINDOWED) {
      it(`matches the Float64 reference past a sliding window: ${describeShape(testCase)}`, () => expectBackwardMatches(testCase));
    }

    it('matches the Float64 reference for a sliding window over packed examples (T=40, window 6, D=64)', () =>
      expectBackwardMatches({ B: 1, T: 40, H: 4, Hkv: 2, D: 64, window: 6, segments: packed(40, [3, 17, 12]) }));

    it('matches the Float64 reference for a block of 5 tokens after a cache, past the window (T=5 Tk=20 of 24, window 7)', () =>
      expectBackwardMatches({ B: 2, T: 5, Tk: 20, capacity: 24, H: 4, Hkv: 2, D: 16, window: 7 }));

    it('stays accurate when scores span tens of units (scale=1)', () =>
      expectBackwardMatches({ B: 1, T: 37, H: 2, Hkv: 1, D: 16, scale: 1, magnitude: 2 }));

    it('accumulates into dq, dk and dv instead of overwriting them', async () => {
      const testCase: Case = { B: 1, T: 7, H: 4, Hkv: 2, D: 16 };
      const { reference, inputs, dO, tensors } = prepare(testCase);
      const before = (shape: number[], value: number) => createTensor(ctx.device, 'grad', shape, 'f32', new Float32Array(shape.reduce((a, b) => a * b)).fill(value));
      const gradients = { dq: before([1, 7, 4, 16], 0.5), dk: before([1, 7, 2, 16], -1), dv: before([1, 7, 2, 16], 2) };
      const dOTensor = createTensor(ctx.device, 'dO', [1, 7, 4, 16], 'f32', dO);
      const saved = attentionForward(ctx, inputs);
      const stats = createTensor(ctx.device, 'stats', attentionScratchShapes({ B: 1, T: 7, H: 4 }).stats, 'f32');
      try {
        const encoder = ctx.device.createCommandEncoder();
        encodeAttentionBackward(ctx, encoder, inputs, saved, dOTensor, gradients, { stats });
        ctx.device.queue.submit([encoder.finish()]);
        const want = attentionBackwardReference(reference, dO);
        expect(relativeError(await readTensor(ctx.device, gradients.dq), want.dq.map((x) => x + 0.5))).toBeLessThan(TOLERANCE);
        expect(relativeError(await readTensor(ctx.device, gradients.dk), want.dk.map((x) => x - 1))).toBeLessThan(TOLERANCE);
        expect(relativeError(await readTensor(ctx.device, gradients.dv), want.dv.map((x) => x + 2))).toBeLessThan(TOLERANCE);
      } finally {
        release([...tensors, ...Object.values(gradients), dOTensor, saved.o, saved.logsumexp, stats]);
      }
    });
  });
}

describe('attention memory', () => {
  const dims = (T: number): AttentionDims => ({ B: 2, T, Tk: T, H: 9, Hkv: 3, D: 64, keyLength: T, window: 0 });
  const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

  it('asks for backward scratch that grows linearly with T, never a T×T score buffer', () => {
    const small = elements(attentionScratchShapes(dims(256)).stats);
    const large = elements(attentionScratchShapes(dims(4096)).stats);
    expect(large / small).toBe(16);
    expect(small).toBeLessThan(256 * 256);
  });

  it('keeps the row route within 16 KiB of workgroup memory and 256 invocations, staging nothing', () => {
    const { forward, keyGradients } = attentionTiles();
    expect(forward.workgroupBytes).toBeLessThanOrEqual(WORKGROUP_MEMORY_BUDGET);
    expect(keyGradients.workgroupBytes).toBeLessThanOrEqual(WORKGROUP_MEMORY_BUDGET);
    expect(forward.rows).toBeLessThanOrEqual(256);
    expect(keyGradients.keys).toBeLessThanOrEqual(256);
    // fwd and dq read keys from storage, dkdv reads rows from storage: they stage nothing.
    expect([forward.keys, forward.workgroupBytes]).toEqual([0, 0]);
    expect([keyGradients.rows, keyGradients.workgroupBytes]).toEqual([0, 0]);
  });
});

describe('attention routes', () => {
  afterAll(() => setKernelFamily(ctx, 'auto'));

  it('keeps at most 64 live floats per thread on the lane route (4 vectors of at most 16) at head dims 64, 96, 128, 256', () => {
    setKernelFamily(ctx, 'gpu');
    for (const D of [64, 96, 128, 256]) {
      const route = attentionRoute(ctx, D);
      if (route.kind !== 'lanes') throw new Error(`D=${D}: the gpu family runs the lane route`);
      expect(64 % route.lanes).toBe(0);
      // The floats of one head vector a lane holds; dkdv, the largest, holds four (k, v, dk, dv).
      expect(4 * Math.ceil(D / 4 / route.lanes)).toBeLessThanOrEqual(16);
    }
    expect([64, 128, 256].map((D) => (attentionRoute(ctx, D) as { lanes: number }).lanes)).toEqual([4, 8, 16]);
  });

  it(`keeps the row route on CPU adapters up to D=${MAX_ROW_HEAD_DIM} and takes the lane route past it`, () => {
    setKernelFamily(ctx, 'cpu');
    expect(attentionRoute(ctx, MAX_ROW_HEAD_DIM)).toEqual({ kind: 'rows' });
    expect(attentionRoute(ctx, MAX_ROW_HEAD_DIM + 4).kind).toBe('lanes');
  });
});

describe('attention refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[]): GpuTensor => createTensor(ctx.device, name, shape, 'f32');
  const call = (q: number[], kv: number[], extra: Partial<AttentionInputs> = {}) => () =>
    attentionForward(ctx, { q: tensor('q', q), k: tensor('k', kv), v: tensor('v', kv), ...extra });

  it('refuses H that is not a multiple of Hkv', () => {
    expect(call([1, 4, 6, 16], [1, 4, 4, 16])).toThrow(ShapeError);
    expect(call([1, 4, 6, 16], [1, 4, 4, 16])).toThrow(/H=6 .* Hkv=4/);
  });

  it('refuses fewer keys than queries', () => {
    expect(call([1, 5, 4, 16], [1, 4, 4, 16])).toThrow(/Tk=4 keys, fewer than the T=5 queries/);
  });

  it('refuses a keyLength outside T..Tk', () => {
    expect(call([1, 5, 4, 16], [1, 8, 4, 16], { keyLength: 9 })).toThrow(/keyLength=9 must be an integer from T=5 to Tk=8/);
    expect(call([1, 5, 4, 16], [1, 8, 4, 16], { keyLength: 4 })).toThrow(/keyLength=4/);
  });

  it('names v when its shape differs from k', () => {
    const bad = () => attentionForward(ctx, { q: tensor('q', [1, 4, 4, 16]), k: tensor('k', [1, 4, 2, 16]), v: tensor('v', [1, 4, 2, 8]) });
    expect(bad).toThrow(/tensor "v" has shape \[1, 4, 2, 8\], expected \[B, Tk, Hkv, D\] = \[1, 4, 2, 16\]/);
  });

  it(`refuses a head dim that is not a multiple of 4 or over ${MAX_HEAD_DIM}`, () => {
    expect(call([1, 4, 2, 18], [1, 4, 2, 18])).toThrow(/D=18 must be a multiple of 4/);
    expect(call([1, 4, 2, MAX_HEAD_DIM + 4], [1, 4, 2, MAX_HEAD_DIM + 4])).toThrow(new RegExp(`at most ${MAX_HEAD_DIM}`));
  });

  it('names the segments tensor when it is not [B, Tk]', () => {
    const segments = createIndexTensor(ctx.device, 'segment_ids', [1, 5], 'u32', [1, 1, 1, 1, 1]);
    expect(call([1, 4, 4, 16], [1, 4, 4, 16], { segments })).toThrow(/"segment_ids" has shape \[1, 5\], expected \[B, Tk\] = \[1, 4\]/);
  });

  it('refuses a non-finite scale', () => {
    expect(call([1, 4, 4, 16], [1, 4, 4, 16], { scale: NaN })).toThrow(/scale must be a finite number/);
  });

  it('refuses segment bit sets without a segments tensor, and in the backward (a forward-only mask)', () => {
    expect(call([1, 4, 4, 16], [1, 4, 4, 16], { segmentBits: true })).toThrow(/segmentBits asks to read segment bit sets, but no segments tensor is given/);
    const segments = createIndexTensor(ctx.device, 'segments', [1, 4], 'u32', [3, 3, 1, 2]);
    const inputs = { q: tensor('q', [1, 4, 4, 16]), k: tensor('k', [1, 4, 2, 16]), v: tensor('v', [1, 4, 2, 16]), segments, segmentBits: true };
    const saved = { o: tensor('o', [1, 4, 4, 16]), logsumexp: tensor('L', [1, 4, 4]) };
    const gradients = { dq: tensor('dq', [1, 4, 4, 16]), dk: tensor('dk', [1, 4, 2, 16]), dv: tensor('dv', [1, 4, 2, 16]) };
    const encoder = ctx.device.createCommandEncoder();
    const bad = () => encodeAttentionBackward(ctx, encoder, inputs, saved, tensor('dO', [1, 4, 4, 16]), gradients, { stats: tensor('stats', [1, 4, 4, 2]) });
    expect(bad).toThrow(ShapeError);
    expect(bad).toThrow(/backward has no segment bit sets/);
  });

  it('refuses a sliding window that is not a positive integer', () => {
    expect(call([1, 4, 4, 16], [1, 4, 4, 16], { window: 0 })).toThrow(/sliding window must be a positive integer number of positions, got 0/);
    expect(call([1, 4, 4, 16], [1, 4, 4, 16], { window: 2.5 })).toThrow(/got 2.5/);
  });

  it('names a gradient tensor of the wrong shape', () => {
    const inputs = { q: tensor('q', [1, 4, 4, 16]), k: tensor('k', [1, 4, 2, 16]), v: tensor('v', [1, 4, 2, 16]) };
    const saved = { o: tensor('o', [1, 4, 4, 16]), logsumexp: tensor('L', [1, 4, 4]) };
    const gradients = { dq: tensor('dq', [1, 4, 4, 16]), dk: tensor('dk', [1, 4, 4, 16]), dv: tensor('dv', [1, 4, 2, 16]) };
    const encoder = ctx.device.createCommandEncoder();
    const bad = () => encodeAttentionBackward(ctx, encoder, inputs, saved, tensor('dO', [1, 4, 4, 16]), gradients, { stats: tensor('stats', [1, 4, 4, 2]) });
    expect(bad).toThrow(/tensor "dk" has shape \[1, 4, 4, 16\], expected \[B, Tk, Hkv, D\] = \[1, 4, 2, 16\]/);
  });
});
