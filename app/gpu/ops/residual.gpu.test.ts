import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { residualAccumulateReference, residualAddReference, residualScaleReference } from '../reference/residual.ts';
import { readTensor } from '../tensor.ts';
import { encodeResidualAccumulate, encodeResidualAdd, encodeResidualScale } from './residual.ts';

const gpu = setUpTestGpu();
const { submit, upload } = gpu;

const random = Random.fromSeed(17);
const randomValues = (count: number): Float32Array => random.fillUniform(new Float32Array(count), -1, 1);
const product = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

// [BT, C] of the fixture model and of SmolLM2-135M, a single element, an odd prime-sized row, and a
// tensor larger than the 2048 × 256 invocations of the capped grid (the grid-stride loop runs twice).
const SHAPES = [[37, 64], [5, 576], [1], [3, 1009], [1031, 513]];

describe('residual add: y = a + b', () => {
  for (const shape of SHAPES) {
    it(`equals the f32-rounded sum exactly for shape [${shape.join(', ')}]`, async () => {
      const n = product(shape);
      const [a, b] = [randomValues(n), randomValues(n)];
      const y = upload('y', shape);
      await submit((encoder) => encodeResidualAdd(gpu.ctx, encoder, upload('a', shape, a), upload('b', shape, b), y));
      expect(relativeError(await readTensor(gpu.ctx.device, y), Float32Array.from(residualAddReference(a, b)))).toBe(0);
    });
  }
});

describe('residual accumulate: x += addend', () => {
  for (const shape of SHAPES) {
    it(`adds in place, exactly as f32 rounds, for shape [${shape.join(', ')}]`, async () => {
      const n = product(shape);
      const [x, addend] = [randomValues(n), randomValues(n)];
      const xTensor = upload('x', shape, x);
      await submit((encoder) => encodeResidualAccumulate(gpu.ctx, encoder, xTensor, upload('addend', shape, addend)));
      const want = Float64Array.from(x);
      residualAccumulateReference(want, addend);
      expect(relativeError(await readTensor(gpu.ctx.device, xTensor), Float32Array.from(want))).toBe(0);
    });
  }

  it('sums several gradients into one tensor across dispatches in one encoder', async () => {
    const parts = [randomValues(100), randomValues(100), randomValues(100)];
    const sum = upload('dX', [100], new Float32Array(100));
    await submit((encoder) => {
      for (const part of parts) encodeResidualAccumulate(gpu.ctx, encoder, sum, upload('part', [100], part));
    });
    const want = new Float32Array(100);
    for (const part of parts) for (let i = 0; i < 100; i++) want[i]! += part[i]!;
    expect(await readTensor(gpu.ctx.device, sum)).toEqual(want);
  });
});

describe('residual refuses bad calls before dispatch', () => {
  it('names the tensor and both shapes when b does not match a', () => {
    const call = () => encodeResidualAdd(gpu.ctx, gpu.ctx.device.createCommandEncoder(), upload('a', [4, 8]), upload('b', [4, 9]), upload('y', [4, 8]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "b" has shape \[4, 9\], expected \[the shape of "a"\] = \[4, 8\]/);
  });

  it('refuses y sharing a buffer with a: use the in-place accumulate instead', () => {
    const a = upload('hidden', [4, 8]);
    const call = () => encodeResidualAdd(gpu.ctx, gpu.ctx.device.createCommandEncoder(), a, upload('b', [4, 8]), { ...a, name: 'out' });
    expect(call).toThrow(/"out" is written and shares its buffer with "hidden"/);
  });

  it('refuses a half-precision addend', () => {
    const half = upload('addend', [4], undefined, 'bf16');
    expect(() => encodeResidualAccumulate(gpu.ctx, gpu.ctx.device.createCommandEncoder(), upload('x', [4]), half)).toThrow(/"addend" is bf16; this op takes f32/);
  });
});

describe('residual scale: x *= scale', () => {
  for (const shape of SHAPES) {
    it(`scales in place, exactly as f32 rounds, for shape [${shape.join(', ')}]`, async () => {
      const x = randomValues(product(shape));
      const tensor = upload('x', shape, x);
      // √640 in f32: Gemma 3 270M's embedding scale.
      const scale = Math.fround(Math.sqrt(640));
      await submit((encoder) => encodeResidualScale(gpu.ctx, encoder, tensor, scale));
      expect(relativeError(await readTensor(gpu.ctx.device, tensor), Float32Array.from(residualScaleReference(x, scale)))).toBe(0);
    });
  }
});
