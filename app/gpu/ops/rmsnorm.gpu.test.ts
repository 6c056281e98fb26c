import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { type KernelFamily, setKernelFamily } from '../kernel-family.ts';
import { rmsnormBackwardReference, rmsnormForwardReference } from '../reference/rmsnorm.ts';
import { readTensor } from '../tensor.ts';
import { encodeRmsnorm, encodeRmsnormBackward, MAX_ROW_WORKGROUPS, threadsPerRow } from './rmsnorm.ts';

const gpu = setUpTestGpu();
const { submit, upload } = gpu;


interface Case {
  rows: number;
  C: number;
  eps: number;
  /** Inputs are uniform in ±scale. */
  scale: number;
  label: string;
}

const CASES: Case[] = [
  { rows: 37, C: 64, eps: 1e-5, scale: 1, label: 'the fixture model' },
  { rows: 1, C: 64, eps: 1e-5, scale: 1, label: 'one row' },
  { rows: 5, C: 576, eps: 1e-5, scale: 1, label: 'SmolLM2-135M' },
  { rows: 7, C: 576, eps: 1e-6, scale: 1, label: 'SmolLM2-135M with eps 1e-6' },
  { rows: 3, C: 1009, eps: 1e-6, scale: 1, label: 'a prime width, not a multiple of the 128-wide workgroup' },
  // With one channel, dx = rstd·w·dy·eps / (x² + eps): where x² ≫ eps that is a cancellation, moved
  // by 2⁻²³·x²/eps by the f32 rounding of the saved rstd alone and far below the ±1 it is added to, so
  // x stays near sqrt(eps), where the output still depends on it.
  { rows: 2, C: 1, eps: 1e-5, scale: 5e-3, label: 'a single channel' },
  { rows: 4, C: 64, eps: 1e-5, scale: 1e-3, label: 'small activations, where eps matters' },
  { rows: 4, C: 576, eps: 1e-6, scale: 300, label: 'large activations' },
  // The GPU family's threads per row (a power of two near C / 4): every choice from 1 to 128, with rows
  // that leave the last workgroup's block of 128 / threads rows part empty.
  { rows: 130, C: 4, eps: 1e-5, scale: 1, label: '1 thread per row, 128 rows per workgroup' },
  { rows: 67, C: 5, eps: 1e-5, scale: 1, label: '2 threads per row, 64 rows per workgroup' },
  { rows: 33, C: 16, eps: 1e-5, scale: 1, label: '4 threads per row, 32 rows per workgroup' },
  { rows: 35, C: 20, eps: 1e-5, scale: 1, label: '8 threads per row, 16 rows per workgroup' },
  { rows: 300, C: 64, eps: 1e-5, scale: 1, label: '16 threads per row, 8 rows per workgroup, many workgroups' },
  { rows: 9, C: 100, eps: 1e-5, scale: 1, label: '32 threads per row, 4 rows per workgroup' },
  { rows: 5, C: 200, eps: 1e-5, scale: 1, label: '64 threads per row, 2 rows per workgroup' },
  { rows: 3, C: 2048, eps: 1e-5, scale: 1, label: '128 threads per row, 16 values each (a 1B-class width)' },
];

/** Rows the kernel must loop over: more than MAX_ROW_WORKGROUPS blocks of 128 / threadsPerRow rows. */
const LOOP_CASES: Record<KernelFamily, Case> = {
  // One row per thread: 128 rows per workgroup.
  cpu: { rows: MAX_ROW_WORKGROUPS * 128 + 3, C: 3, eps: 1e-5, scale: 1, label: '' },
  // 2 threads per row: 64 rows per workgroup.
  gpu: { rows: MAX_ROW_WORKGROUPS * 64 + 3, C: 5, eps: 1e-5, scale: 1, label: '' },
};

const FAMILIES: KernelFamily[] = ['cpu', 'gpu'];

describe('rmsnorm threads per row', () => {
  it('on the GPU family, gives each thread about 4 values: the power of two at or above C / 4, at most the 128-thread workgroup', () => {
    const widths = [1, 4, 5, 8, 9, 16, 20, 64, 100, 200, 256, 257, 576, 1009, 2048];
    expect(widths.map((C) => threadsPerRow(C, 'gpu'))).toEqual([1, 1, 2, 2, 4, 4, 8, 16, 32, 64, 64, 128, 128, 128, 128]);
  });

  it('on the CPU family (SwiftShader), gives each row one thread, so no barrier runs', () => {
    expect([1, 64, 576, 2048].map((C) => threadsPerRow(C, 'cpu'))).toEqual([1, 1, 1, 1]);
  });
});

/** Every input of a case, drawn afresh from one seed: a case sees the same values whichever tests run before it. */
function caseInputs({ rows, C, scale }: Case) {
  const random = Random.fromSeed(29);
  const values = (count: number, low: number, high: number): Float32Array => random.fillUniform(new Float32Array(count), low, high);
  return {
    x: values(rows * C, -scale, scale),
    w: values(C, 0.5, 1.5),
    dy: values(rows * C, -1, 1),
    dx0: values(rows * C, -1, 1),
    dw0: values(C, -1, 1),
  };
}

for (const family of FAMILIES) {
  describe(`rmsnorm forward on the ${family} kernel family (forced): y = w ⊙ x / sqrt(mean(x²) + eps), rstd saved per row`, () => {
    beforeAll(() => setKernelFamily(gpu.ctx, family));
    afterAll(() => setKernelFamily(gpu.ctx, 'auto'));

    for (const c of CASES) {
      it(`matches the Float64 reference to 1e-5 of the output scale for rows=${c.rows} C=${c.C} eps=${c.eps}: ${c.label}`, async () => {
        const { x, w } = caseInputs(c);
        const y = upload('y', [c.rows, c.C]);
        const rstd = upload('rstd', [c.rows]);
        const inputs = { x: upload('x', [c.rows, c.C], x), w: upload('w', [c.C], w), eps: c.eps };
        await submit((encoder) => encodeRmsnorm(gpu.ctx, encoder, inputs, y, rstd));
        const want = rmsnormForwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps });
        // A sum of C squares in f32 and one inverseSqrt: relative error ~C·2⁻²⁴, inside 1e-5 for these widths.
        expect(relativeError(await readTensor(gpu.ctx.device, y), want.y)).toBeLessThan(1e-5);
        expect(relativeError(await readTensor(gpu.ctx.device, rstd), want.rstd)).toBeLessThan(1e-5);
      });
    }

    it('writes y alone when no rstd tensor is given (generation)', async () => {
      const c = CASES[0]!;
      const { x, w } = caseInputs(c);
      const y = upload('y', [c.rows, c.C]);
      await submit((encoder) => encodeRmsnorm(gpu.ctx, encoder, { x: upload('x', [c.rows, c.C], x), w: upload('w', [c.C], w), eps: c.eps }, y));
      expect(relativeError(await readTensor(gpu.ctx.device, y), rmsnormForwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps }).y)).toBeLessThan(1e-5);
    });

    it('normalises every row when there are more rows than the 4096 workgroups dispatched', async () => {
      const c = LOOP_CASES[family];
      const { x, w } = caseInputs(c);
      const y = upload('y', [c.rows, c.C]);
      await submit((encoder) => encodeRmsnorm(gpu.ctx, encoder, { x: upload('x', [c.rows, c.C], x), w: upload('w', [c.C], w), eps: c.eps }, y));
      expect(relativeError(await readTensor(gpu.ctx.device, y), rmsnormForwardReference({ ...c, x, w }).y)).toBeLessThan(1e-5);
    });
  });

  describe(`rmsnorm backward on the ${family} kernel family (forced): dx += (∂y/∂x)ᵀ·dy from the saved rstd; dw += Σ dy ⊙ x̂ when asked`, () => {
    beforeAll(() => setKernelFamily(gpu.ctx, family));
    afterAll(() => setKernelFamily(gpu.ctx, 'auto'));

    for (const c of CASES) {
      it(`accumulates dx and dw onto existing values, matching the Float64 reference for rows=${c.rows} C=${c.C} eps=${c.eps}: ${c.label}`, async () => {
        const { x, w, dy, dx0, dw0 } = caseInputs(c);
        const { rstd } = rmsnormForwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps });
        const inputs = {
          dy: upload('dy', [c.rows, c.C], dy),
          x: upload('x', [c.rows, c.C], x),
          w: upload('w', [c.C], w),
          rstd: upload('rstd', [c.rows], Float32Array.from(rstd)),
        };
        const dx = upload('dx', [c.rows, c.C], dx0);
        const dw = upload('dw', [c.C], dw0);
        await submit((encoder) => encodeRmsnormBackward(gpu.ctx, encoder, inputs, dx, dw));
        const want = rmsnormBackwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps, dy });
        // The gradients are at the scale of rstd·dy, which the ±1 initial values may not dominate:
        // compare each increment against the gradient's own scale.
        expect(relativeError(minus(await readTensor(gpu.ctx.device, dx), dx0), want.dx)).toBeLessThan(1e-4);
        expect(relativeError(minus(await readTensor(gpu.ctx.device, dw), dw0), want.dw)).toBeLessThan(1e-4);
      });
    }

    it('accumulates dx for every row when there are more rows than the 4096 workgroups dispatched', async () => {
      const c = LOOP_CASES[family];
      const { x, w, dy, dx0 } = caseInputs(c);
      const { rstd } = rmsnormForwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps });
      const inputs = { dy: upload('dy', [c.rows, c.C], dy), x: upload('x', [c.rows, c.C], x), w: upload('w', [c.C], w), rstd: upload('rstd', [c.rows], Float32Array.from(rstd)) };
      const dx = upload('dx', [c.rows, c.C], dx0);
      await submit((encoder) => encodeRmsnormBackward(gpu.ctx, encoder, inputs, dx));
      expect(relativeError(minus(await readTensor(gpu.ctx.device, dx), dx0), rmsnormBackwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps, dy }).dx)).toBeLessThan(1e-4);
    });

    it('leaves dw out when the norm weight is frozen (LoRA)', async () => {
      const c = CASES[2]!;
      const { x, w, dy } = caseInputs(c);
      const { rstd } = rmsnormForwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps });
      const dx = upload('dx', [c.rows, c.C], new Float32Array(c.rows * c.C));
      const inputs = { dy: upload('dy', [c.rows, c.C], dy), x: upload('x', [c.rows, c.C], x), w: upload('w', [c.C], w), rstd: upload('rstd', [c.rows], Float32Array.from(rstd)) };
      await submit((encoder) => encodeRmsnormBackward(gpu.ctx, encoder, inputs, dx));
      expect(relativeError(await readTensor(gpu.ctx.device, dx), rmsnormBackwardReference({ rows: c.rows, C: c.C, x, w, eps: c.eps, dy }).dx)).toBeLessThan(1e-4);
    });
  });
}

describe('rmsnorm refuses bad calls before dispatch', () => {
  it('names the tensor and both shapes when w does not match C', () => {
    const call = () => encodeRmsnorm(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { x: upload('x', [4, 64]), w: upload('w', [63]), eps: 1e-5 }, upload('y', [4, 64]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "w" has shape \[63\], expected \[C\] = \[64\]/);
  });

  it('names rstd when it is not one value per row', () => {
    const inputs = { dy: upload('dy', [4, 8]), x: upload('x', [4, 8]), w: upload('w', [8]), rstd: upload('rstd', [8]) };
    expect(() => encodeRmsnormBackward(gpu.ctx, gpu.ctx.device.createCommandEncoder(), inputs, upload('dx', [4, 8]))).toThrow(/"rstd" has shape \[8\], expected \[rows\] = \[4\]/);
  });

  it('refuses a non-finite eps', () => {
    const call = () => encodeRmsnorm(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { x: upload('x', [4, 8]), w: upload('w', [8]), eps: NaN }, upload('y', [4, 8]));
    expect(call).toThrow(/eps must be a finite number/);
  });
});

function minus(values: Float32Array, initial: Float32Array): Float64Array {
  return Float64Array.from(values, (value, i) => value - initial[i]!);
}
