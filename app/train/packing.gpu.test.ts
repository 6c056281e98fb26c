import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { gradientDifference, graphStep } from '../../test/graph-step.ts';
import { QWEN2_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { initLoraAdapter, type LoraAdapter } from '../model/lora.ts';
import { Random } from '../util/random.ts';
import { buildTrainingBatch, type HostBatch } from './batch.ts';
import { parseRecipe } from './recipe.ts';
import { Trainer } from './trainer.ts';

let ctx: GpuContext;
let model: RandomModel;
let adapter: LoraAdapter;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'f32', 7);
  adapter = initLoraAdapter(model.config, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'o_proj', 'up_proj', 'down_proj'], rslora: false }, 3);
  // B = 0 would leave every gradient but B's at zero; weights of a trained-looking adapter reach A too.
  const random = Random.fromSeed(4);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.3, 0.3);
});
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

/** Each example's summed loss, read from the positions of its span. */
function exampleLosses(batch: HostBatch, rowLoss: Float32Array): number[] {
  return batch.spans.map((span) => rowLoss.slice(span.row * batch.T + span.start, span.row * batch.T + span.start + span.length).reduce((a, b) => a + b, 0));
}

describe('packing short examples into rows (recipe.packing)', { timeout: 180_000 }, () => {
  const task = randomTask('t', QWEN2_TINY.vocab_size, [5, 3, 7, 4, 6, 2], 11);
  const draws = task.train.map((example) => ({ task: 0, example }));

  it('gives every example the same loss, and the batch the same gradients, packed and unpacked', async () => {
    const unpacked = buildTrainingBatch(draws, 16, false);
    const packed = buildTrainingBatch(draws, 16, true);
    expect([unpacked.B, unpacked.T]).toEqual([6, 7]);
    expect(packed.B).toBeLessThan(unpacked.B);
    const [one, other] = [await graphStep(ctx, model.gpu, adapter, unpacked), await graphStep(ctx, model.gpu, adapter, packed)];
    expect(other.labelCount).toBe(one.labelCount);
    const want = exampleLosses(unpacked, one.rowLoss);
    const got = exampleLosses(packed, other.rowLoss);
    for (const [i, loss] of want.entries()) expect(Math.abs(got[i]! - loss) / loss, `example ${i}`).toBeLessThan(1e-5);
    expect(Math.abs(other.loss - one.loss) / one.loss).toBeLessThan(1e-6);
    expect(gradientDifference(other.gradients, one.gradients)).toBeLessThan(1e-5);
  });

  it('the trainer reads recipe.packing: the same losses per step, per task, packed or not', async () => {
    const tasks = [randomTask('a', QWEN2_TINY.vocab_size, [5, 3, 7, 4, 6, 2, 5, 3], 21), randomTask('b', QWEN2_TINY.vocab_size, [4, 8, 2, 6, 3, 5], 22)];
    const recipe = (packing: boolean) =>
      parseRecipe({
        model: { source: 'random' },
        tasks: tasks.map((t) => ({ name: t.name, source: { file: `${t.name}.jsonl` }, format: 'text' })),
        lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] },
        optimizer: { lr: 1e-2 },
        batch_size: 4,
        grad_accum: 2,
        max_length: 16,
        packing,
        steps: 3,
        seed: 5,
      });
    const run = async (packing: boolean) => {
      const trainer = await Trainer.create(ctx, model.gpu, tasks, recipe(packing), { runId: `packing-${packing}` });
      const records = [];
      while (!trainer.done) records.push(await trainer.trainStep());
      trainer.destroy();
      return records;
    };
    const [plain, packed] = [await run(false), await run(true)];
    for (const [i, record] of plain.entries()) {
      expect(Math.abs(packed[i]!.loss - record.loss) / record.loss, `step ${i + 1}`).toBeLessThan(1e-4);
      expect(packed[i]!.tokens).toBe(record.tokens);
      record.taskLosses.forEach((loss, task) => (loss === null ? expect(packed[i]!.taskLosses[task]).toBeNull() : expect(Math.abs(packed[i]!.taskLosses[task]! - loss) / loss).toBeLessThan(1e-4)));
    }
  });
});
