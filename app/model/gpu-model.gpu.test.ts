import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { encodeTensorData } from '../gpu/dtype.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { uploadModel } from './gpu-model.ts';
import { readWeightFloat64 } from './weights.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

/** A tensor's buffer word for word, whatever its dtype (packed halves included). */
async function rawWords(tensor: GpuTensor): Promise<Uint32Array> {
  const staging = ctx.device.createBuffer({ size: tensor.buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = ctx.device.createCommandEncoder();
  encoder.copyBufferToBuffer(tensor.buffer, 0, staging, 0, tensor.buffer.size);
  ctx.device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const words = new Uint32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return words;
}

describe('uploading a model’s frozen weights', () => {
  it('narrows stored F32 weights to bf16 on the GPU exactly as encodeTensorData rounds them', async () => {
    const { config, weights } = await loadFixtureModel();
    const model = await uploadModel(ctx, config, weights, { dtype: 'bf16' });
    try {
      expect(model.weightDtype).toBe('bf16');
      const embedding = weights.refs.get('model.embed_tokens.weight')!;
      expect(model.embedding).toHaveLength(1);
      expect(await rawWords(model.embedding[0]!)).toEqual(encodeTensorData('bf16', await readWeightFloat64(embedding)));
      const q = weights.refs.get('model.layers.1.self_attn.q_proj.weight')!;
      expect(await rawWords(model.layers[1]!.projections.q_proj!.weight)).toEqual(encodeTensorData('bf16', await readWeightFloat64(q)));
    } finally {
      model.destroy();
    }
  });

  it('uploads weights kept in their stored dtype byte for byte', async () => {
    const { config, weights } = await loadFixtureModel();
    const model = await uploadModel(ctx, config, weights);
    try {
      expect(model.weightDtype).toBe('f32');
      const down = weights.refs.get('model.layers.0.mlp.down_proj.weight')!;
      expect(await rawWords(model.layers[0]!.projections.down_proj!.weight)).toEqual(encodeTensorData('f32', await readWeightFloat64(down)));
    } finally {
      model.destroy();
    }
  });
});
