import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { headLinearBackwardReference, headLinearReference, headSoftmaxReference } from '../reference/router_head.ts';
import { readTensor } from '../tensor.ts';
import { encodeHeadLinear, encodeHeadLinearBackward, encodeHeadSoftmax } from './router_head.ts';

const gpu = setUpTestGpu();
const { submit, upload } = gpu;

const random = Random.fromSeed(77);
const randomValues = (count: number, scale: number): Float32Array => random.fillUniform(new Float32Array(count), -scale, scale);

const SHAPES = [
  { N: 96, I: 64, O: 3, label: 'aidreams260K features to three experts' },
  { N: 37, I: 576, O: 5, label: 'SmolLM2 features (C = 576), odd N' },
  { N: 1, I: 1, O: 1, label: 'one of everything' },
  { N: 130, I: 64, O: 65, label: 'a hidden layer wider than a workgroup' },
];

describe('router head linear layer', () => {
  for (const { N, I, O, label } of SHAPES) {
    for (const relu of [false, true]) {
      it(`forward matches the Float64 reference for N=${N} I=${I} O=${O}${relu ? ' with relu' : ''}: ${label}`, async () => {
        const [x, w, b] = [randomValues(N * I, 2), randomValues(O * I, 0.5), randomValues(O, 0.5)];
        const y = upload('y', [N, O]);
        await submit((encoder) => encodeHeadLinear(gpu.ctx, encoder, upload('x', [N, I], x), { w: upload('w', [O, I], w), b: upload('b', [O], b) }, y, { relu }));
        const want = headLinearReference(x, N, { w, b, inFeatures: I, outFeatures: O }, relu);
        expect(relativeError(await readTensor(gpu.ctx.device, y), want)).toBeLessThan(1e-5);
      });
    }

    it(`backward gives dW, db and dx (plain and relu-masked) of the Float64 reference for N=${N} I=${I} O=${O}`, async () => {
      const [x, w, b, dy] = [randomValues(N * I, 2), randomValues(O * I, 0.5), randomValues(O, 0.5), randomValues(N * O, 1)];
      const mask = randomValues(N * I, 1).map((value) => Math.max(value, 0));
      const layer = { w: upload('w', [O, I], w), b: upload('b', [O], b) };
      const inputs = { x: upload('x', [N, I], x), layer, dy: upload('dy', [N, O], dy) };
      // Stale values in the outputs must be overwritten, not added to.
      const [dw, db, dx, dxMasked] = [upload('dw', [O, I], randomValues(O * I, 9)), upload('db', [O], randomValues(O, 9)), upload('dx', [N, I], randomValues(N * I, 9)), upload('dx masked', [N, I])];
      await submit((encoder) => {
        encodeHeadLinearBackward(gpu.ctx, encoder, inputs, { dw, db, dx });
        encodeHeadLinearBackward(gpu.ctx, encoder, { ...inputs, mask: upload('mask', [N, I], mask) }, { dw: upload('dw2', [O, I]), db: upload('db2', [O]), dx: dxMasked });
      });
      const reference = { w, b, inFeatures: I, outFeatures: O };
      const want = headLinearBackwardReference(x, N, reference, dy);
      expect(relativeError(await readTensor(gpu.ctx.device, dw), want.dw)).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(gpu.ctx.device, db), want.db)).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(gpu.ctx.device, dx), want.dx)).toBeLessThan(1e-5);
      const masked = await readTensor(gpu.ctx.device, dxMasked);
      expect(relativeError(masked, headLinearBackwardReference(x, N, reference, dy, mask).dx)).toBeLessThan(1e-5);
      expect(masked.filter((value, e) => mask[e] === 0 && value !== 0)).toHaveLength(0);
    });
  }
});

describe('router head softmax with temperature and cross-entropy', () => {
  for (const { N, K, temperature, scale } of [
    { N: 96, K: 3, temperature: 1, scale: 3 },
    { N: 33, K: 7, temperature: 0.25, scale: 3 },
    { N: 5, K: 2, temperature: 4, scale: 3 },
    // exp of such logits overflows f32: the kernel must subtract the row's maximum first.
    { N: 8, K: 4, temperature: 1, scale: 400 },
  ]) {
    it(`gives the probabilities, row losses and dz of the Float64 reference for N=${N} K=${K} τ=${temperature} logits ±${scale}`, async () => {
      const z = randomValues(N * K, scale);
      const labels = Int32Array.from({ length: N }, (_, n) => (n % 5 === 4 ? -1 : n % K));
      const gradScale = 1 / labels.filter((label) => label >= 0).length;
      const outputs = { probs: upload('probs', [N, K]), rowLoss: upload('row loss', [N]), dz: upload('dz', [N, K]) };
      await submit((encoder) => encodeHeadSoftmax(gpu.ctx, encoder, { z: upload('z', [N, K], z), labels: upload('labels', [N], labels, 'i32'), temperature, gradScale }, outputs));
      const want = headSoftmaxReference(z, N, K, labels, temperature, gradScale);
      const read = (tensor: typeof outputs.probs) => readTensor(gpu.ctx.device, tensor);
      expect(relativeError(await read(outputs.probs), want.probs)).toBeLessThan(1e-5);
      expect(relativeError(await read(outputs.rowLoss), want.rowLoss)).toBeLessThan(1e-5);
      expect(relativeError(await read(outputs.dz), want.dz)).toBeLessThan(1e-5);
      expect((await read(outputs.rowLoss)).every(Number.isFinite)).toBe(true);
    });
  }
});

describe('router head refuses bad calls before dispatch', () => {
  it('names the bias whose length does not match W', () => {
    const call = () => encodeHeadLinear(gpu.ctx, gpu.ctx.device.createCommandEncoder(), upload('x', [4, 8]), { w: upload('w', [3, 8]), b: upload('b', [2]) }, upload('y', [4, 3]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "b" has shape \[2\], expected \[O\] = \[3\]/);
  });

  it('refuses a temperature of 0', () => {
    const call = () =>
      encodeHeadSoftmax(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { z: upload('z', [2, 3]), labels: upload('labels', [2], undefined, 'i32'), temperature: 0, gradScale: 1 }, { probs: upload('p', [2, 3]), rowLoss: upload('l', [2]), dz: upload('dz', [2, 3]) });
    expect(call).toThrow(/temperature must be a finite number > 0, got 0/);
  });
});
