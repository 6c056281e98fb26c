import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { QWEN2_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import { ThroughputEstimate, type SubmitBudget } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { parseRecipe } from './recipe.ts';
import { Trainer } from './trainer.ts';

let ctx: GpuContext;
let model: RandomModel;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'bf16', 12);
});
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

const tasks = () => [randomTask('a', QWEN2_TINY.vocab_size, [5, 9, 7, 4, 8, 6], 31), randomTask('b', QWEN2_TINY.vocab_size, [6, 3, 9, 5], 32)];
const recipe = parseRecipe({
  model: { source: 'random' },
  tasks: [
    { name: 'a', source: { file: 'a.jsonl' }, format: 'text' },
    { name: 'b', source: { file: 'b.jsonl' }, format: 'text' },
  ],
  lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'] },
  optimizer: { lr: 1e-2 },
  batch_size: 2,
  grad_accum: 2,
  max_length: 16,
  recompute: true,
  steps: 3,
  seed: 8,
});

async function train(budget: SubmitBudget): Promise<{ losses: number[]; bits: number[]; submits: number[] }> {
  const trainer = await Trainer.create(ctx, model.gpu, tasks(), recipe, { runId: 'submits', submitBudget: budget });
  const losses: number[] = [];
  const submits: number[] = [];
  while (!trainer.done) {
    losses.push((await trainer.trainStep()).loss);
    submits.push(trainer.submitsOfLastStep);
  }
  const adapter = (await trainer.adaptersNow()).get('shared')!;
  trainer.destroy();
  return { losses, bits: [...adapter.pairs.values()].flatMap((pair) => [...new Uint32Array(pair.a.buffer), ...new Uint32Array(pair.b.buffer)]), submits };
}

describe('bounded submits', { timeout: 120_000 }, () => {
  it('cut at every layer by a tiny budget, training gives bit-identical losses and adapters', async () => {
    const whole = await train({ seconds: Infinity });
    const cut = await train({ seconds: 1e-12 });
    // Unsplit: one submit per micro-batch and the update. Split: every layer of the forward, the LM
    // head, every layer of the backward, and the row-loss copy, per micro-batch; then the update.
    const L = model.config.numLayers;
    expect(whole.submits).toEqual([3, 3, 3]);
    expect(cut.submits).toEqual(Array(3).fill(2 * (2 * L + 2) + 1));
    expect(cut.losses).toEqual(whole.losses);
    expect(cut.bits).toEqual(whole.bits);
  });

  it('follows a slower measurement at once and a faster one gradually', () => {
    const estimate = new ThroughputEstimate(1e9);
    estimate.measured(1e9, 10);
    expect(estimate.value).toBe(1e8);
    estimate.measured(1e9, 1);
    expect(estimate.value).toBeCloseTo(0.8 * 1e8 + 0.2 * 1e9, 0);
  });
});
