import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { relativeError } from '../../test/numeric.ts';
import { textTasks } from '../../test/tasks.ts';
import type { GpuContext } from '../gpu/device.ts';
import { setKernelFamily } from '../gpu/kernel-family.ts';
import { adamwReferenceStep, type AdamwReferenceTensor } from '../gpu/reference/adamw.ts';
import { readTensors } from '../gpu/readback.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { initLoraAdapter, type LoraAdapter } from '../model/lora.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { parseRecipe, type Recipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';
import { Trainer, type StepRecord, type TrainerOptions } from './trainer.ts';

/**
 * The structure of one training step on the real aidreams260K model: the optimizer over the adapter's
 * flat buffers against the Float64 AdamW of every tensor, and what a step asks of WebGPU (submits,
 * readbacks, bind groups, writes), counted by wrapping the device's own methods.
 */
let ctx: GpuContext;
let model: GpuModel;
let tasks: PreparedTask[];
let start: LoraAdapter;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  model = await uploadModel(ctx, fixture.config, fixture.weights);
  // Every example as long as the next, so every step has the same label count (and the same uniforms).
  tasks = await textTasks(await loadTokenizer(await filesFromDirectory(fixture.dir), fixture.config), { count: 16, maxTokens: 16 });
  start = initLoraAdapter(fixture.config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], rslora: false }, 5);
  // PEFT starts B at zero, which would leave A without a gradient: give B values.
  for (const pair of start.pairs.values()) pair.b.forEach((_, i, b) => (b[i] = Math.sin(i + 1) * 0.05));
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});

const recipe = (overrides: Record<string, unknown> = {}): Recipe =>
  parseRecipe({
    model: { source: 'aidreams260K' },
    tasks: [{ name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' }],
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
    optimizer: { lr: 2e-2, weight_decay: 0.05 },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: 2,
    grad_accum: 2,
    max_length: 16,
    steps: 3,
    seed: 3,
    ...overrides,
  });

function trainer(r: Recipe, options: Partial<TrainerOptions> = {}): Promise<Trainer> {
  return Trainer.create(ctx, model, [tasks[0]!], r, { runId: 'structure', initialAdapters: [start], ...options });
}

/** Counts calls of `name` on `target` (an instance, or a prototype every instance shares) while `during` runs. */
async function counting<T>(targets: { target: object; name: string }[], during: () => Promise<T>): Promise<{ value: T; counts: number[] }> {
  const counts = targets.map(() => 0);
  const originals = targets.map(({ target, name }, i) => {
    const own = Object.prototype.hasOwnProperty.call(target, name);
    const original = (target as Record<string, (...args: unknown[]) => unknown>)[name]!;
    (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      counts[i]!++;
      return original.apply(this, args);
    };
    return { own, original };
  });
  try {
    return { value: await during(), counts };
  } finally {
    targets.forEach(({ target, name }, i) => {
      if (originals[i]!.own) (target as Record<string, unknown>)[name] = originals[i]!.original;
      else delete (target as Record<string, unknown>)[name];
    });
  }
}

/** The step's losses and optimizer status in one map, and where the adapter has timestamp queries, the GPU times the submits were sized by. */
function readbacksPerStep(): number {
  return 1 + (ctx.device.features.has('timestamp-query') ? 1 : 0);
}

describe('one training step on the real aidreams260K model', { timeout: 300_000 }, () => {
  /** The first step of a run on `family`'s kernels: its record, and every tensor's gradient and value after it, in pair order. */
  const firstSteps = new Map<string, Promise<{ record: StepRecord; parts: { key: string; part: 'a' | 'b' }[]; grads: Float32Array[]; after: Float32Array[] }>>();
  function firstStep(family: 'cpu' | 'gpu', r: Recipe) {
    let step = firstSteps.get(family);
    if (!step) {
      step = (async () => {
        setKernelFamily(ctx, family);
        const run = await trainer(r);
        try {
          const record = await run.trainStep();
          const gpu = run.gpuAdapters()[0]!;
          const parts = [...gpu.pairs.keys()].flatMap((key) => (['a', 'b'] as const).map((part) => ({ key, part })));
          const grads = await readTensors(ctx.device, parts.map(({ key, part }) => gpu.training!.grads.get(key)![part]));
          const after = await readTensors(ctx.device, parts.map(({ key, part }) => gpu.pairs.get(key)![part]));
          return { record, parts, grads, after };
        } finally {
          run.destroy();
          setKernelFamily(ctx, 'auto');
        }
      })();
      firstSteps.set(family, step);
    }
    return step;
  }
  const clipped = recipe({ clip: 0.05 });

  it.each(['cpu', 'gpu'] as const)('updates every LoRA tensor as the Float64 AdamW of its gradient, with the global norm clipped, over the flat buffers (%s kernel family)', async (family) => {
    const { record, parts, grads, after } = await firstStep(family, clipped);
    const reference: AdamwReferenceTensor[] = parts.map(({ key, part }, i) => {
      const initial = start.pairs.get(key)![part];
      return { param: Float64Array.from(initial), grad: grads[i]!, m: new Float64Array(initial.length), v: new Float64Array(initial.length) };
    });
    const { optimizer } = clipped;
    const result = adamwReferenceStep(reference, { step: 1, lr: optimizer.lr, beta1: optimizer.betas[0], beta2: optimizer.betas[1], eps: optimizer.eps, weightDecay: optimizer.weight_decay, maxGradNorm: clipped.clip });
    expect(result.clipCoefficient).toBeLessThan(0.5);
    expect(relativeError([record.gradNorm], [result.gradNorm])).toBeLessThan(1e-5);
    parts.forEach(({ key, part }, i) => {
      const initial = start.pairs.get(key)![part];
      const update = after[i]!.map((p, j) => p - initial[j]!);
      const expected = reference[i]!.param.map((p, j) => p - initial[j]!);
      expect(relativeError(update, expected), `${key} ${part}`).toBeLessThan(1e-4);
    });
  });

  // The GPU family binds LoRA B and its gradient (views of the flat buffers) through its GEMM core; the CPU
  // family's gradients are those backward.gpu.test checks against finite differences of the Float64 loss.
  it('gives every LoRA gradient the same on both kernel families', async () => {
    const [cpu, gpu] = [await firstStep('cpu', clipped), await firstStep('gpu', clipped)];
    expect(Math.abs(gpu.record.loss - cpu.record.loss) / cpu.record.loss).toBeLessThan(1e-5);
    cpu.parts.forEach(({ key, part }, i) => {
      expect(Math.max(...cpu.grads[i]!.map(Math.abs)), `${key} ${part}`).toBeGreaterThan(0);
      expect(relativeError(gpu.grads[i]!, cpu.grads[i]!), `${key} ${part}`).toBeLessThan(1e-4);
    });
  });

  it('on a fast adapter is one submit per micro-batch plus the optimizer’s, read back only at the end', async () => {
    // Forced fast: at 10^15 FLOP/s no micro-batch reaches the 1 s budget, so none is cut.
    const run = await trainer(recipe(), { submitBudget: { seconds: 1, flopsPerSecond: 1e15 } });
    try {
      const probe = ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
      const bufferPrototype = Object.getPrototypeOf(probe) as object;
      probe.destroy();
      const { counts } = await counting(
        [
          { target: ctx.device.queue, name: 'submit' },
          { target: bufferPrototype, name: 'mapAsync' },
        ],
        () => run.trainStep(),
      );
      const [submits, maps] = counts;
      expect(submits).toBe(run.recipe.grad_accum + 1);
      expect(run.submitsOfLastStep).toBe(run.recipe.grad_accum + 1);
      expect(maps).toBe(readbacksPerStep());
    } finally {
      run.destroy();
    }
  });

  // With LoRA dropout the mask's seed and step go into one uniform written per micro-batch beside the
  // token batch: the layers' uniforms and bind groups stay those of the first step.
  it.each([0, 0.1])('makes its bind groups in the first step only, and then writes only the token batch (and the optimizer’s step uniform), LoRA dropout %s', async (dropout) => {
    // An earlier run's optimizer uniforms (the same t and lr) would otherwise be found in the cache, unwritten.
    ctx.uniforms.clear();
    const run = await trainer(recipe({ lora: { r: 4, alpha: 8, dropout, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] } }), { submitBudget: { seconds: Infinity } });
    try {
      const probe = ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
      const bufferPrototype = Object.getPrototypeOf(probe) as object;
      probe.destroy();
      const perStep: number[][] = [];
      for (let step = 0; step < 3; step++) {
        const { counts } = await counting(
          [
            { target: ctx.device, name: 'createBindGroup' },
            { target: ctx.device.queue, name: 'submit' },
            { target: bufferPrototype, name: 'mapAsync' },
            { target: ctx.device.queue, name: 'writeBuffer' },
          ],
          () => run.trainStep(),
        );
        perStep.push(counts);
      }
      const { grad_accum: micro } = run.recipe;
      // The first step makes a bind group for every distinct dispatch: several per layer and projection.
      expect(perStep[0]![0]).toBeGreaterThan(model.config.numLayers * 7 * 4);
      for (const [createBindGroup, submits, maps, writes] of perStep.slice(1)) {
        // AdamW's per-step uniform (t and the bias corrections) is new each step: the norm's finalize
        // and the update bind it; nothing else changes between steps.
        expect(createBindGroup).toBe(2);
        expect(submits).toBe(micro + 1);
        expect(maps).toBe(readbacksPerStep());
        // ids, positions, segments and targets per micro-batch (and dropout's seed and step), and that one uniform.
        expect(writes).toBe((dropout > 0 ? 5 : 4) * micro + 1);
      }
    } finally {
      run.destroy();
    }
  });
});
