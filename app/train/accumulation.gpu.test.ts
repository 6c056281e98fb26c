import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { QWEN2_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { readTensor } from '../gpu/tensor.ts';
import { referenceLoss } from '../model/reference.ts';
import { IGNORE_INDEX } from './batch.ts';
import { parseRecipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';
import { Trainer } from './trainer.ts';

/**
 * A step's numbers where the trainer makes them: four examples (one epoch of a four-example task, so
 * every layout draws the same four) as one micro-batch of 4 or two of 2, on a random Qwen2-shaped
 * model in bf16 (GQA, biases, untied head), checked against each other and the Float64 reference.
 */
let ctx: GpuContext;
let model: RandomModel;
let task: PreparedTask;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'bf16', 9);
  task = randomTask('t', model.config.vocabSize, [7, 4, 9, 5], 10);
});
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

const recipe = (batchSize: number, gradAccum: number) =>
  parseRecipe({
    model: { source: 'random' },
    tasks: [{ name: 't', source: { file: 't.jsonl' }, format: 'text' }],
    lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'down_proj'] },
    optimizer: { lr: 1e-2 },
    batch_size: batchSize,
    grad_accum: gradAccum,
    max_length: 16,
    steps: 1,
    seed: 4,
  });

/** The first step's loss, and every gradient it left in the adapter. */
async function firstStep(batchSize: number, gradAccum: number): Promise<{ loss: number; gradients: Float32Array[] }> {
  const trainer = await Trainer.create(ctx, model.gpu, [task], recipe(batchSize, gradAccum), { runId: `accumulate-${batchSize}x${gradAccum}` });
  try {
    const { loss } = await trainer.trainStep();
    const grads = trainer.gpuAdapters()[0]!.training!.grads;
    const gradients: Float32Array[] = [];
    for (const pair of grads.values()) gradients.push(await readTensor(ctx.device, pair.a), await readTensor(ctx.device, pair.b));
    return { loss, gradients };
  } finally {
    trainer.destroy();
  }
}

describe('gradient accumulation and the first step', { timeout: 120_000 }, () => {
  it('grad_accum 2 × batch 2 gives the loss and gradients of grad_accum 1 × batch 4', async () => {
    const [whole, accumulated] = [await firstStep(4, 1), await firstStep(2, 2)];
    expect(Math.abs(accumulated.loss - whole.loss) / whole.loss).toBeLessThan(1e-6);
    let difference = 0;
    let scale = 0;
    whole.gradients.forEach((want, i) => want.forEach((value, j) => {
      difference = Math.max(difference, Math.abs(accumulated.gradients[i]![j]! - value));
      scale = Math.max(scale, Math.abs(value));
    }));
    expect(scale).toBeGreaterThan(0);
    expect(difference / scale).toBeLessThan(1e-5);
  });

  it('the first step’s loss is the Float64 reference loss of its four examples (a fresh adapter changes nothing)', async () => {
    const { loss } = await firstStep(4, 1);
    let total = 0;
    let labels = 0;
    for (const example of task.train) {
      // The loss at position t predicts labels[t + 1].
      const targets = Array.from(example.labels, (_, t) => (t + 1 < example.labels.length ? example.labels[t + 1]! : IGNORE_INDEX));
      const count = targets.filter((target) => target !== IGNORE_INDEX).length;
      total += referenceLoss(model.reference, Array.from(example.inputIds), targets) * count;
      labels += count;
    }
    expect(Math.abs(loss - total / labels) / (total / labels)).toBeLessThan(1e-5);
  });
});
