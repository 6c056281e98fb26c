import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig } from './config.ts';
import { estimateTrainingMemory, type TrainingShape } from './memory.ts';

const smol = async () => parseModelConfig(JSON.parse(await readFile(fixturePath('configs/SmolLM2-135M.config.json'), 'utf8')));
const LIMITS = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };
const SHAPE: TrainingShape = { batchSize: 8, seqLength: 256, weightDtype: 'bf16', lora: { r: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, recompute: false };

describe('memory estimator', () => {
  it('counts SmolLM2-135M’s bf16 weights at 2 bytes per parameter', async () => {
    const estimate = estimateTrainingMemory(await smol(), SHAPE, LIMITS, 8 * 2 ** 30);
    expect(estimate.lines[0]!.bytes).toBe(134_515_008 * 2 - 2 * 576 * 30 * 2 - 576 * 2 + (2 * 576 * 30 + 576) * 4);
  });

  it('counts LoRA r=16 on all seven projections with gradients and both AdamW moments', async () => {
    const estimate = estimateTrainingMemory(await smol(), SHAPE, LIMITS, 8 * 2 ** 30);
    // Per layer: q, o: 16·(576+576); k, v: 16·(576+192); gate, up: 16·(576+1536); down: 16·(1536+576).
    const perLayer = 16 * (2 * 1152 + 2 * 768 + 3 * 2112);
    expect(estimate.lines[1]!.bytes).toBe(perLayer * 30 * 4 * 4);
  });

  it('fits a modest configuration in a generous budget', async () => {
    expect(estimateTrainingMemory(await smol(), SHAPE, LIMITS, 8 * 2 ** 30)).toMatchObject({ fits: true, advice: [] });
  });

  it('says by how much a configuration is over budget and suggests recomputation and a smaller batch', async () => {
    const estimate = estimateTrainingMemory(await smol(), { ...SHAPE, batchSize: 32, seqLength: 1024 }, LIMITS, 2 ** 30);
    expect(estimate.fits).toBe(false);
    expect(estimate.advice.join(' ')).toMatch(/over the budget of 1\.00 GiB\. To fit: turn on recomputation.*lower the batch size \(32 → 16\)/);
  });

  it('shows that recomputation cuts activation memory', async () => {
    const saved = estimateTrainingMemory(await smol(), SHAPE, LIMITS, 2 ** 40).lines[2]!.bytes;
    const recomputed = estimateTrainingMemory(await smol(), { ...SHAPE, recompute: true }, LIMITS, 2 ** 40).lines[2]!.bytes;
    expect(recomputed).toBeLessThan(saved / 5);
  });

  it('names a tensor over the binding limit and what to change', async () => {
    const estimate = estimateTrainingMemory(await smol(), { ...SHAPE, batchSize: 64, seqLength: 2048 }, { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 }, 2 ** 40);
    expect(estimate.advice[0]).toMatch(/MLP activation \[tokens, intermediate\] needs .* over this GPU's limit of 128\.0 MiB: lower the batch size or max_length/);
  });

  it('says what would fit a tensor over the binding limit with no budget given, and that suggestion is within the limit', async () => {
    const config = await smol();
    const limits = { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 };
    const estimate = estimateTrainingMemory(config, { ...SHAPE, batchSize: 64, seqLength: 2048 }, limits, Infinity);
    expect(estimate.fits).toBe(false);
    expect(estimate.bindingLimitBytes).toBe(2 ** 27);
    const [, batch, length] = /Would fit: batch_size (\d+), max_length (\d+), recompute on/.exec(estimate.advice[0]!)!;
    // The MLP activation [tokens, 1536] f32, counted here: 64 × 2048 rows need 768 MiB; halving the batch until it fits gives 8.
    expect(Number(batch)).toBe(8);
    expect(Number(length)).toBe(2048);
    expect(8 * 2048 * config.intermediateSize * 4).toBeLessThanOrEqual(2 ** 27);
    expect(estimateTrainingMemory(config, { ...SHAPE, batchSize: 8, seqLength: 2048, recompute: true }, limits, Infinity).fits).toBe(true);
  });

  it('plans Gemma 3 270m and 1b as published (head_dim 256): bf16 weights at 2 bytes per parameter (norms in f32), within a laptop GPU', async () => {
    for (const [name, parameters] of [['gemma-3-270m', 268_098_176], ['gemma-3-1b-it', 999_885_952]] as const) {
      const config = parseModelConfig(JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')));
      const estimate = estimateTrainingMemory(config, { ...SHAPE, recompute: true }, LIMITS, 4 * 2 ** 30);
      // Four norms of hidden_size a layer, q and k norms of head_dim, and the final norm, kept in f32.
      const norms = config.numLayers * (4 * config.hiddenSize + 2 * config.headDim) + config.hiddenSize;
      expect(estimate.lines[0]!.bytes, name).toBe(2 * parameters + 2 * norms);
      expect(estimate.fits, name).toBe(true);
    }
  });
});
