import { afterAll, beforeAll, describe } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { checkPublishedStep, publishedLora, publishedModel, readPublishedConfig, type PublishedLora, type PublishedModel } from '../../test/published-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { LoraTarget } from './config.ts';

/**
 * Phi-3-mini-4k-instruct and Phi-4-mini-instruct at their published dimensions (one layer of 32; every other
 * size as published: hidden 3072, MLP 8192, head_dim 96 / 128, GQA 32/32 and 24/8, partial rotary, Phi-3's
 * vocabulary of 32,064; Phi-4-mini's 200,064 cut to 32,064, see below) with LoRA on qkv_proj, o_proj, gate_up_proj
 * and down_proj: the loss and the LoRA gradients of one training step against the Float64 reference, the gradients
 * along a random direction per target against central finite differences of the reference loss
 * (test/published-model.ts). Phi-4-mini also past its original_max_position_embeddings (positions 5000..), where
 * LongRoPE's long factors and attention factor apply.
 */
const TARGETS: LoraTarget[] = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'];

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('Phi-3-mini-4k-instruct at its published dimensions (one layer, vocabulary 32,064)', () => {
  let model: PublishedModel | undefined;
  let lora: PublishedLora;
  beforeAll(async () => {
    model = await publishedModel(ctx, { ...(await readPublishedConfig('Phi-3-mini-4k-instruct')), num_hidden_layers: 1 }, 81);
    lora = publishedLora(model.config, TARGETS, 82);
  }, 360_000);
  // Dropped, not only destroyed: the next model is as large.
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkPublishedStep(() => ctx, () => model!, () => lora, 1, 0);
});

/**
 * Phi-4-mini's vocabulary is cut to Phi-3's 32,064 rows: whole, its tied 200,064 × 3072 bf16 table is 1.2 GB,
 * held three times on a CPU adapter (the test's bits, the safetensors file, SwiftShader's device memory), and
 * each probe's head pass is 615M multiply-adds in the reference; the table is only indexed and multiplied, and
 * the 32,064-row product is the one the Phi-3 check runs (published-vocabulary.gpu.test.ts runs whole
 * vocabularies of 151,936 and 262,144 rows). Every other dimension is as published.
 */
describe('Phi-4-mini-instruct at its published dimensions (one layer, vocabulary cut to 32,064, LongRoPE)', () => {
  let model: PublishedModel | undefined;
  let lora: PublishedLora;
  beforeAll(async () => {
    model = await publishedModel(ctx, { ...(await readPublishedConfig('Phi-4-mini-instruct')), num_hidden_layers: 1, vocab_size: 32064 }, 83);
    lora = publishedLora(model.config, TARGETS, 84);
  }, 360_000);
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkPublishedStep(() => ctx, () => model!, () => lora, 1, 0);
  checkPublishedStep(() => ctx, () => model!, () => lora, 1, 5000);
});
