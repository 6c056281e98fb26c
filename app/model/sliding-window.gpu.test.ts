import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { LLAMA_TINY, randomModel, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { Generator } from './generate.ts';
import { createKvCache, DecoderGraph } from './graph.ts';

let ctx: GpuContext;
let model: RandomModel;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, { ...LLAMA_TINY, architectures: ['MistralForCausalLM'], sliding_window: 8 }, 'f32');
});
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

describe("Mistral's sliding window", () => {
  it('runs sequences that fit the window, where whole-prefix attention is the same thing', () => {
    expect(model.config.slidingWindow).toBe(8);
    const graph = new DecoderGraph(ctx, model.gpu, { B: 2, T: 8 }, { training: true, loraRank: 0 });
    graph.destroy();
  });

  it('refuses a longer batch or KV cache with the window, the length and what to change', () => {
    expect(() => new DecoderGraph(ctx, model.gpu, { B: 1, T: 9 }, { training: false, loraRank: 0 })).toThrow(
      /sliding window of 8 positions, and this engine applies no window: a sequence of 9 positions would be computed differently from the model\. Keep max_length .* at 8 or less/,
    );
    expect(() => createKvCache(ctx, model.config, 12)).toThrow(expect.objectContaining({ code: 'MODEL_SLIDING_WINDOW', details: { slidingWindow: 8, length: 12 } }));
  });

  it('a generator without a capacity stops at the window rather than being refused', async () => {
    const generator = new Generator(ctx, model.gpu);
    const result = await generator.generate([1, 2, 3], { maxNewTokens: 20 });
    generator.destroy();
    expect(result.stopReason).toBe('context-full');
    expect(result.ids.length).toBe(8 - 3 + 1);
  });
});
