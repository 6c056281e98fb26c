import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { swigluBackwardReference, swigluForwardReference } from '../reference/swiglu.ts';
import { readTensor } from '../tensor.ts';
import { encodeSwiglu, encodeSwigluBackward } from './swiglu.ts';

const gpu = setUpTestGpu();
const { submit, upload } = gpu;

const random = Random.fromSeed(23);
const randomValues = (count: number, scale: number): Float32Array => random.fillUniform(new Float32Array(count), -scale, scale);

interface Case {
  BT: number;
  I: number;
  /** Gates are uniform in ±gateScale. */
  gateScale: number;
  label: string;
}

const CASES: Case[] = [
  { BT: 37, I: 172, gateScale: 4, label: 'the fixture model (I = 172), odd BT' },
  { BT: 5, I: 1536, gateScale: 4, label: 'SmolLM2-135M (I = 1536)' },
  { BT: 1, I: 1, gateScale: 4, label: 'a single element' },
  { BT: 3, I: 1009, gateScale: 4, label: 'a prime width' },
  // exp(−g) of such gates overflows f32: the kernel must only ever take exp of −|g|.
  { BT: 4, I: 172, gateScale: 120, label: 'gates up to ±120' },
];

describe('swiglu forward: h = silu(gate) ⊙ up', () => {
  for (const c of CASES) {
    it(`matches the Float64 reference to 1e-5 of the output scale for BT=${c.BT} I=${c.I}: ${c.label}`, async () => {
      const [gate, up] = [randomValues(c.BT * c.I, c.gateScale), randomValues(c.BT * c.I, 2)];
      const h = upload('h', [c.BT, c.I]);
      await submit((encoder) => encodeSwiglu(gpu.ctx, encoder, { gate: upload('gate', [c.BT, c.I], gate), up: upload('up', [c.BT, c.I], up) }, h));
      // Elementwise f32 with one exp: a few ulp, well inside 1e-5.
      expect(relativeError(await readTensor(gpu.ctx.device, h), swigluForwardReference(gate, up))).toBeLessThan(1e-5);
    });
  }
});

describe('swiglu backward: dgate += dh·up·silu′(gate), dup += dh·silu(gate)', () => {
  for (const c of CASES) {
    it(`accumulates onto existing gradients, matching the Float64 reference for BT=${c.BT} I=${c.I}: ${c.label}`, async () => {
      const n = c.BT * c.I;
      const shape = [c.BT, c.I];
      const [gate, up, dh] = [randomValues(n, c.gateScale), randomValues(n, 2), randomValues(n, 1)];
      const [dgate0, dup0] = [randomValues(n, 1), randomValues(n, 1)];
      const dgate = upload('dgate', shape, dgate0);
      const dup = upload('dup', shape, dup0);
      const inputs = { gate: upload('gate', shape, gate), up: upload('up', shape, up), dh: upload('dh', shape, dh) };
      await submit((encoder) => encodeSwigluBackward(gpu.ctx, encoder, inputs, dgate, dup));
      const want = swigluBackwardReference(gate, up, dh);
      const plus = (initial: Float32Array, delta: Float64Array) => delta.map((value, i) => value + initial[i]!);
      expect(relativeError(await readTensor(gpu.ctx.device, dgate), plus(dgate0, want.dgate))).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(gpu.ctx.device, dup), plus(dup0, want.dup))).toBeLessThan(1e-5);
    });
  }
});

describe("GeGLU (Gemma 3's gelu_pytorch_tanh gate)", () => {
  for (const c of [CASES[0]!, CASES[3]!, CASES[4]!]) {
    it(`forward and accumulating backward match the Float64 reference for BT=${c.BT} I=${c.I}: ${c.label}`, async () => {
      const n = c.BT * c.I;
      const shape = [c.BT, c.I];
      const [gate, up, dh] = [randomValues(n, c.gateScale), randomValues(n, 2), randomValues(n, 1)];
      const [dgate0, dup0] = [randomValues(n, 1), randomValues(n, 1)];
      const inputs = { gate: upload('gate', shape, gate), up: upload('up', shape, up), activation: 'gelu_tanh' as const };
      const h = upload('h', shape);
      const dgate = upload('dgate', shape, dgate0);
      const dup = upload('dup', shape, dup0);
      await submit((encoder) => {
        encodeSwiglu(gpu.ctx, encoder, inputs, h);
        encodeSwigluBackward(gpu.ctx, encoder, { ...inputs, dh: upload('dh', shape, dh) }, dgate, dup);
      });
      expect(relativeError(await readTensor(gpu.ctx.device, h), swigluForwardReference(gate, up, 'gelu_tanh'))).toBeLessThan(1e-5);
      const want = swigluBackwardReference(gate, up, dh, 'gelu_tanh');
      const plus = (initial: Float32Array, delta: Float64Array) => delta.map((value, i) => value + initial[i]!);
      expect(relativeError(await readTensor(gpu.ctx.device, dgate), plus(dgate0, want.dgate))).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(gpu.ctx.device, dup), plus(dup0, want.dup))).toBeLessThan(1e-5);
    });
  }
});

describe('swiglu refuses bad calls before dispatch', () => {
  it('names the tensor and both shapes when up does not match gate', () => {
    const call = () => encodeSwiglu(gpu.ctx, gpu.ctx.device.createCommandEncoder(), { gate: upload('gate', [5, 172]), up: upload('up', [5, 171]) }, upload('h', [5, 172]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "up" has shape \[5, 171\], expected \[BT, I\] = \[5, 172\]/);
  });

  it('refuses dgate and dup sharing one buffer', () => {
    const shape = [2, 3];
    const dgate = upload('dgate', shape);
    const inputs = { gate: upload('gate', shape), up: upload('up', shape), dh: upload('dh', shape) };
    const call = () => encodeSwigluBackward(gpu.ctx, gpu.ctx.device.createCommandEncoder(), inputs, dgate, { ...dgate, name: 'dup' });
    expect(call).toThrow(/"dgate" is written and shares its buffer with "dup"/);
  });
});
