import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { adamwReferenceStep, type AdamwReferenceTensor } from '../reference/adamw.ts';
import { byteOffset, createTensor, holdsViews, readTensor, VIEW_ALIGNMENT, viewAt, type GpuTensor } from '../tensor.ts';
import { ADAMW_FLAGS, TORCH_ADAMW_DEFAULTS, adamw, adamwPartialCount, readAdamwStatus, type AdamwStep, type AdamwTensor } from './adamw.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

/** Parameter tensors on the GPU and their Float64 twins, with fresh gradients written to both each step. */
class Problem {
  readonly gpu: AdamwTensor[];
  readonly cpu: AdamwReferenceTensor[];
  readonly initial: Float32Array[];
  private readonly random: Random;

  constructor(shapes: number[][], seed: number, weightDecays: (number | undefined)[] = []) {
    this.random = Random.fromSeed(seed);
    this.initial = shapes.map((shape) => this.random.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1));
    this.gpu = shapes.map((shape, i) => ({
      param: createTensor(ctx.device, `param${i}`, shape, 'f32', this.initial[i]),
      grad: createTensor(ctx.device, `grad${i}`, shape, 'f32'),
      m: createTensor(ctx.device, `m${i}`, shape, 'f32'),
      v: createTensor(ctx.device, `v${i}`, shape, 'f32'),
      ...(weightDecays[i] === undefined ? {} : { weightDecay: weightDecays[i] }),
    }));
    this.cpu = this.initial.map((values, i) => ({
      param: Float64Array.from(values),
      grad: new Float32Array(values.length),
      m: new Float64Array(values.length),
      v: new Float64Array(values.length),
      ...(weightDecays[i] === undefined ? {} : { weightDecay: weightDecays[i] }),
    }));
  }

  /** New gradients in [-scale, scale); `poison` puts one value at one element of one tensor. */
  setGradients(scale: number, poison?: { tensor: number; index: number; value: number }): void {
    this.cpu.forEach(({ grad }, i) => {
      const values = new Float32Array(grad.length);
      this.random.fillUniform(values, -scale, scale);
      if (poison?.tensor === i) values[poison.index] = poison.value;
      (grad as Float32Array).set(values);
      ctx.device.queue.writeBuffer(this.gpu[i]!.grad.buffer, 0, values);
    });
  }

  async read(pick: (t: AdamwTensor) => GpuTensor): Promise<Float32Array[]> {
    return Promise.all(this.gpu.map((t) => readTensor(ctx.device, pick(t))));
  }

  /** Worst relative error over tensors of the total update (param − initial), m and v. */
  async compare(): Promise<{ update: number; m: number; v: number }> {
    const [params, ms, vs] = await Promise.all([this.read((t) => t.param), this.read((t) => t.m), this.read((t) => t.v)]);
    const worst = (errors: number[]) => Math.max(...errors);
    return {
      update: worst(
        this.cpu.map((t, i) =>
          relativeError(
            params[i]!.map((p, j) => p - this.initial[i]![j]!),
            t.param.map((p, j) => p - this.initial[i]![j]!),
          ),
        ),
      ),
      m: worst(this.cpu.map((t, i) => relativeError(ms[i]!, t.m))),
      v: worst(this.cpu.map((t, i) => relativeError(vs[i]!, t.v))),
    };
  }

  destroy(): void {
    for (const t of this.gpu) for (const tensor of [t.param, t.grad, t.m, t.v]) tensor.buffer.destroy();
  }
}

// Sizes that are not multiples of the 256-wide workgroup, including a single element.
const SHAPES = [[1], [7], [257], [1000], [3, 333]];
// A large lr makes the updates big enough that a relative error of their sum is a sharp test.
const BASE: Omit<AdamwStep, 'step'> = { ...TORCH_ADAMW_DEFAULTS, lr: 0.05, weightDecay: 0 };

async function runSteps(problem: Problem, hyper: Omit<AdamwStep, 'step'>, steps: number, gradScale = 1) {
  let last = { gradNorm: 0, clipCoefficient: 0, skipped: false };
  let status = { gradNorm: 0, clipCoefficient: 0, skipped: false, flags: 0 };
  for (let step = 1; step <= steps; step++) {
    problem.setGradients(gradScale);
    const statusTensor = adamw(ctx, problem.gpu, { ...hyper, step });
    status = await readAdamwStatus(ctx.device, statusTensor);
    statusTensor.buffer.destroy();
    last = adamwReferenceStep(problem.cpu, { ...hyper, step });
  }
  return { status, reference: last };
}

describe('adamw against the Float64 reference of torch.optim.AdamW over several steps', () => {
  it('matches over 5 steps with clipping inactive and weight decay 0, for tensors of 1, 7, 257, 1000 and 3×333 elements', async () => {
    const problem = new Problem(SHAPES, 1);
    try {
      const { status, reference } = await runSteps(problem, BASE, 5);
      const errors = await problem.compare();
      expect(errors.update).toBeLessThan(1e-4);
      expect(errors.m).toBeLessThan(1e-4);
      expect(errors.v).toBeLessThan(1e-4);
      expect(status.skipped).toBe(false);
      expect(status.clipCoefficient).toBe(1);
      expect(relativeError([status.gradNorm], [reference.gradNorm])).toBeLessThan(1e-5);
    } finally {
      problem.destroy();
    }
  });

  it('matches over 5 steps with clipping active (max norm a tenth of the norm) and weight decay 0.01', async () => {
    const problem = new Problem(SHAPES, 2);
    try {
      const { status, reference } = await runSteps(problem, { ...BASE, weightDecay: 0.01, maxGradNorm: 1 }, 5);
      expect(reference.clipCoefficient).toBeLessThan(0.2);
      expect(relativeError([status.clipCoefficient], [reference.clipCoefficient])).toBeLessThan(1e-5);
      const errors = await problem.compare();
      expect(errors.update).toBeLessThan(1e-4);
      expect(errors.m).toBeLessThan(1e-4);
      expect(errors.v).toBeLessThan(1e-4);
    } finally {
      problem.destroy();
    }
  });

  it('matches with weight decay 0.01 and clipping configured but inactive (norm below max)', async () => {
    const problem = new Problem(SHAPES, 3);
    try {
      const { status } = await runSteps(problem, { ...BASE, weightDecay: 0.01, maxGradNorm: 1e3 }, 3);
      expect(status.clipCoefficient).toBe(1);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
    } finally {
      problem.destroy();
    }
  });

  it('applies a per-tensor weight decay override (0 for one tensor, 0.5 for another)', async () => {
    const problem = new Problem([[5], [300]], 4, [0, 0.5]);
    try {
      await runSteps(problem, { ...BASE, weightDecay: 0.01 }, 3, 1e-3);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
    } finally {
      problem.destroy();
    }
  });

  it('matches for a tensor larger than 1024 workgroups of 256 (grid-stride loops)', async () => {
    const problem = new Problem([[270_001], [3]], 5);
    try {
      const { status, reference } = await runSteps(problem, { ...BASE, maxGradNorm: 10 }, 2);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
      expect(relativeError([status.gradNorm], [reference.gradNorm])).toBeLessThan(1e-5);
    } finally {
      problem.destroy();
    }
  });
});

/**
 * The same tensors as aligned views of four flat buffers (the LoRA layout of app/model/lora-gpu.ts),
 * beside `problem`'s one buffer per tensor; each step copies problem's gradients into the views.
 */
class FlatTwin {
  readonly chunk: AdamwTensor;
  readonly views: AdamwTensor[];

  constructor(private readonly problem: Problem) {
    const offsets: number[] = [];
    let bytes = 0;
    for (const { param } of problem.gpu) {
      offsets.push(bytes);
      bytes += Math.ceil((4 * param.shape.reduce((a, b) => a * b, 1)) / VIEW_ALIGNMENT) * VIEW_ALIGNMENT;
    }
    const whole = (name: string): GpuTensor => {
      const tensor = createTensor(ctx.device, `flat ${name}`, [bytes / 4], 'f32');
      holdsViews(tensor.buffer);
      return viewAt(tensor.buffer, tensor.name, tensor.shape, 'f32', 0);
    };
    this.chunk = { param: whole('param'), grad: whole('grad'), m: whole('m'), v: whole('v') };
    this.views = problem.gpu.map(({ param }, i) => {
      const at = (flat: GpuTensor, part: string) => viewAt(flat.buffer, `${part}${i}`, param.shape, 'f32', offsets[i]!);
      return { param: at(this.chunk.param, 'param'), grad: at(this.chunk.grad, 'grad'), m: at(this.chunk.m, 'm'), v: at(this.chunk.v, 'v') };
    });
    this.views.forEach((view, i) => ctx.device.queue.writeBuffer(view.param.buffer, byteOffset(view.param), problem.initial[i]! as Float32Array<ArrayBuffer>));
  }

  copyGradients(): void {
    const encoder = ctx.device.createCommandEncoder();
    this.problem.gpu.forEach(({ grad }, i) => encoder.copyBufferToBuffer(grad.buffer, 0, this.views[i]!.grad.buffer, byteOffset(this.views[i]!.grad), 4 * grad.shape.reduce((a, b) => a * b, 1)));
    ctx.device.queue.submit([encoder.finish()]);
  }

  async bits(pick: (t: AdamwTensor) => GpuTensor): Promise<number[][]> {
    return Promise.all(this.views.map(async (t) => [...new Uint32Array((await readTensor(ctx.device, pick(t))).buffer)]));
  }

  destroy(): void {
    for (const tensor of Object.values(this.chunk)) tensor.buffer.destroy();
  }
}

describe('adamw over one flat buffer (tensors as aligned views, one dispatch pair for all)', () => {
  async function both(hyper: Omit<AdamwStep, 'step'>, steps: number) {
    const problem = new Problem(SHAPES, 12);
    const flat = new FlatTwin(problem);
    const statuses: { separate: number; flat: number }[] = [];
    for (let step = 1; step <= steps; step++) {
      problem.setGradients(1);
      flat.copyGradients();
      const separate = adamw(ctx, problem.gpu, { ...hyper, step });
      const whole = adamw(ctx, [flat.chunk], { ...hyper, step });
      statuses.push({ separate: (await readAdamwStatus(ctx.device, separate)).gradNorm, flat: (await readAdamwStatus(ctx.device, whole)).gradNorm });
      separate.buffer.destroy();
      whole.buffer.destroy();
      adamwReferenceStep(problem.cpu, { ...hyper, step });
    }
    const bitsOf = async (pick: (t: AdamwTensor) => GpuTensor) => Promise.all(problem.gpu.map(async (t) => [...new Uint32Array((await readTensor(ctx.device, pick(t))).buffer)]));
    return { problem, flat, statuses, separateBits: { param: await bitsOf((t) => t.param), m: await bitsOf((t) => t.m), v: await bitsOf((t) => t.v) } };
  }

  it('equals one dispatch per tensor bit for bit without clipping, and the Float64 reference, over 4 steps with weight decay', async () => {
    const { problem, flat, statuses, separateBits } = await both({ ...BASE, weightDecay: 0.01 }, 4);
    try {
      expect(await flat.bits((t) => t.param)).toEqual(separateBits.param);
      expect(await flat.bits((t) => t.m)).toEqual(separateBits.m);
      expect(await flat.bits((t) => t.v)).toEqual(separateBits.v);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
      // The padding between views holds zero gradients: the norm is the same sum in another order.
      for (const { separate, flat: whole } of statuses) expect(relativeError([whole], [separate])).toBeLessThan(1e-6);
    } finally {
      problem.destroy();
      flat.destroy();
    }
  });

  it('matches one dispatch per tensor with clipping active (the norm summed in another order)', async () => {
    const { problem, flat, separateBits } = await both({ ...BASE, maxGradNorm: 1 }, 3);
    try {
      const params = await flat.bits((t) => t.param);
      const asFloats = (bits: number[][]) => bits.map((b) => new Float32Array(Uint32Array.from(b).buffer));
      const update = (p: Float32Array[]) => p.map((values, i) => values.map((x, j) => x - problem.initial[i]![j]!));
      const [flatUpdate, separateUpdate] = [update(asFloats(params)), update(asFloats(separateBits.param))];
      for (const [i, values] of flatUpdate.entries()) expect(relativeError(values, separateUpdate[i]!)).toBeLessThan(1e-5);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
    } finally {
      problem.destroy();
      flat.destroy();
    }
  });

  it('refuses to bind a buffer that holds views as a whole tensor (it would read every view from byte 0)', () => {
    const problem = new Problem([[5]], 13);
    const flat = new FlatTwin(problem);
    try {
      const wholeBuffer = (t: GpuTensor): GpuTensor => ({ name: t.name, shape: t.shape, dtype: t.dtype, buffer: t.buffer });
      const chunk = flat.chunk;
      expect(() => adamw(ctx, [{ param: wholeBuffer(chunk.param), grad: chunk.grad, m: chunk.m, v: chunk.v }], { ...BASE, step: 1 })).toThrow(/holds several tensors; bind the tensor/);
    } finally {
      problem.destroy();
      flat.destroy();
    }
  });
});

describe('adamw skips a step on the GPU when a gradient is not finite', () => {
  async function poisonedStep(value: number) {
    const problem = new Problem(SHAPES, 6);
    try {
      await runSteps(problem, { ...BASE, weightDecay: 0.01 }, 2);
      const before = await Promise.all([problem.read((t) => t.param), problem.read((t) => t.m), problem.read((t) => t.v)]);
      problem.setGradients(1, { tensor: 3, index: 517, value });
      const statusTensor = adamw(ctx, problem.gpu, { ...BASE, weightDecay: 0.01, step: 3 });
      const status = await readAdamwStatus(ctx.device, statusTensor);
      statusTensor.buffer.destroy();
      const after = await Promise.all([problem.read((t) => t.param), problem.read((t) => t.m), problem.read((t) => t.v)]);
      return { status, before, after };
    } finally {
      problem.destroy();
    }
  }

  for (const [name, value] of [['NaN', NaN], ['+Inf', Infinity], ['-Inf', -Infinity]] as const) {
    it(`raises NONFINITE_GRADIENT and leaves weights and moments bit-identical for a ${name} in one gradient`, async () => {
      const { status, before, after } = await poisonedStep(value);
      expect(status.flags & ADAMW_FLAGS.NONFINITE_GRADIENT).toBe(ADAMW_FLAGS.NONFINITE_GRADIENT);
      expect(status.skipped).toBe(true);
      expect(after).toEqual(before);
    });
  }

  it('raises NONFINITE_NORM and skips when finite gradients overflow the sum of squares', async () => {
    const problem = new Problem([[300]], 7);
    try {
      problem.setGradients(1e25);
      const statusTensor = adamw(ctx, problem.gpu, { ...BASE, step: 1 });
      const status = await readAdamwStatus(ctx.device, statusTensor);
      statusTensor.buffer.destroy();
      expect(status.flags).toBe(ADAMW_FLAGS.NONFINITE_NORM);
      expect(await readTensor(ctx.device, problem.gpu[0]!.param)).toEqual(problem.initial[0]);
    } finally {
      problem.destroy();
    }
  });

  it('clears the flag for the next step, which updates normally', async () => {
    const problem = new Problem(SHAPES, 8);
    try {
      problem.setGradients(1, { tensor: 0, index: 0, value: NaN });
      const bad = adamw(ctx, problem.gpu, { ...BASE, step: 1 });
      expect((await readAdamwStatus(ctx.device, bad)).skipped).toBe(true);
      bad.buffer.destroy();
      const { status } = await runSteps(problem, BASE, 1);
      expect(status.flags).toBe(0);
      const errors = await problem.compare();
      expect(Math.max(errors.update, errors.m, errors.v)).toBeLessThan(1e-4);
    } finally {
      problem.destroy();
    }
  });
});

describe('adamw refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[]) => createTensor(ctx.device, name, shape, 'f32');
  const one = (shape = [4]): AdamwTensor => ({ param: tensor('lora_A', shape), grad: tensor('grad', shape), m: tensor('m', shape), v: tensor('v', shape) });

  it('names the gradient whose shape differs from its parameter', () => {
    const call = () => adamw(ctx, [{ ...one(), grad: tensor('lora_A.grad', [5]) }], { ...BASE, step: 1 });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/"lora_A.grad" has shape \[5\], expected \[shape of "lora_A"\] = \[4\]/);
  });

  it('refuses step 0: t counts from 1 as in PyTorch', () => {
    expect(() => adamw(ctx, [one()], { ...BASE, step: 0 })).toThrow(/step must be an integer >= 1/);
  });

  it('refuses beta2 = 1 and a non-positive max norm', () => {
    expect(() => adamw(ctx, [one()], { ...BASE, beta2: 1, step: 1 })).toThrow(/beta2 must be in \[0, 1\)/);
    expect(() => adamw(ctx, [one()], { ...BASE, maxGradNorm: 0, step: 1 })).toThrow(/maxGradNorm must be finite and > 0/);
  });

  it('sizes the partials scratch from the tensors: min(ceil(n / 256), 1024) each', () => {
    expect(adamwPartialCount([{ param: tensor('a', [1]) }, { param: tensor('b', [257]) }, { param: tensor('c', [300_000]) }])).toBe(1 + 2 + 1024);
  });
});
