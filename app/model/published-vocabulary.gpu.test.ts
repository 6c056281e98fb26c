import { afterAll, beforeAll, describe } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { checkPublishedStep, publishedLora, publishedModel, readPublishedConfig, type PublishedLora, type PublishedModel } from '../../test/published-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { LoraTarget } from './config.ts';

/**
 * Qwen3-0.6B and gemma-3-270m with every dimension as published, their whole vocabularies included (151,936 and
 * 262,144 rows: tied bf16 tables of 311 MB and 336 MB, held in vocabulary shards where one binding cannot hold
 * them), layers cut down: the loss of one training step and the LoRA gradient along a random direction on each of
 * the seven projections against the Float64 reference and its central differences (test/published-model.ts).
 * qwen3.gpu.test.ts and gemma3.gpu.test.ts check the rest (decoding, PEFT keys) on cut vocabularies.
 */
const SEVEN: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('Qwen3-0.6B at its published dimensions (one layer of 28, vocabulary 151,936)', () => {
  let model: PublishedModel | undefined;
  let lora: PublishedLora;
  beforeAll(async () => {
    model = await publishedModel(ctx, { ...(await readPublishedConfig('Qwen3-0.6B')), num_hidden_layers: 1 }, 61);
    lora = publishedLora(model.config, SEVEN, 62);
  }, 360_000);
  // Dropped, not only destroyed: the next model is as large.
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkPublishedStep(() => ctx, () => model!, () => lora, 2, 0);
});

/** Two layers of 18, a sliding one and a full one as the published layer_types begin; positions 0..3 sit inside the 512 window. */
describe('gemma-3-270m at its published dimensions (two layers of 18, head_dim 256, vocabulary 262,144)', () => {
  let model: PublishedModel | undefined;
  let lora: PublishedLora;
  beforeAll(async () => {
    model = await publishedModel(ctx, { ...(await readPublishedConfig('gemma-3-270m')), num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'] }, 71);
    lora = publishedLora(model.config, SEVEN, 72);
  }, 360_000);
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkPublishedStep(() => ctx, () => model!, () => lora, 2, 0);
});
