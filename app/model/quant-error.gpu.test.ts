import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { QWEN2_TINY } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { bf16BitsToF32, f32ToBf16Bits } from '../gpu/dtype.ts';
import { dequantize, quantize } from '../gpu/quant.ts';
import { matmulNTReference } from '../gpu/reference/matmul.ts';
import { rmsnormForwardReference } from '../gpu/reference/rmsnorm.ts';
import { parseModelConfig } from './config.ts';
import { uploadModel } from './gpu-model.ts';
import { modelWeightBytes, ropeTableBytes } from './memory.ts';
import { filesFromDirectory } from './node-source.ts';
import { CALIBRATION_TEXT, frobeniusError, measureQuantizationError } from './quant-error.ts';
import { weightFormat } from './quantization.ts';
import { randomModelTensors } from './random-model.ts';
import { writeSafetensors } from './safetensors.ts';
import type { ModelFiles } from './source.ts';
import { loadTokenizer } from './tokenizer.ts';
import { locateWeights } from './weights.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('the planner counts quantized weights as uploadModel allocates them', () => {
  // Qwen2 with an MLP of 64, so groups of 32 divide every row; an untied head and q/k/v biases.
  const config = parseModelConfig({ ...QWEN2_TINY, intermediate_size: 64 });
  for (const dtype of ['int8', 'int4'] as const) {
    it(`${dtype}: the planned frozen-weight bytes equal the live model's, byte for byte`, async () => {
      const blob = writeSafetensors(randomModelTensors(config, { dtype: 'f32', seed: 4 }), { format: 'pt' });
      const files: ModelFiles = { label: 'random model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
      const weights = await locateWeights(files, config);
      const int4 = { group: 32, symmetric: false } as const;
      const model = await uploadModel(ctx, config, weights, { dtype, int4 });
      try {
        expect(model.layers[0]!.projections.down_proj!.weight.dtype).toBe(dtype);
        expect(model.embedding[0]!.dtype).toBe('bf16');
        expect(modelWeightBytes(config, weightFormat('f32', dtype, int4), ctx.device.limits) + ropeTableBytes(config)).toBe(model.bytes);
      } finally {
        model.destroy();
      }
    });
  }
});

describe('the measured quantization error of the real aidreams260K', { timeout: 300_000 }, () => {
  it('measures every projection of every layer on the calibration text, and layer 0’s q, k, v equal a Float64 computation of the same error', async () => {
    const fixture = await loadFixtureModel();
    const tokenizer = await loadTokenizer(await filesFromDirectory(fixture.dir), fixture.config);
    const ids = tokenizer.encode(CALIBRATION_TEXT);
    const model = await uploadModel(ctx, fixture.config, fixture.weights, { dtype: 'int8' });
    try {
      const measured = await measureQuantizationError(ctx, model, fixture.weights, ids);
      expect(measured.rows).toBe(ids.length);
      expect(measured.projections).toHaveLength(fixture.config.numLayers * 7);
      // int8 keeps each weight within half a step of max|row|/127: outputs within a few tenths of a percent.
      for (const projection of measured.projections) {
        expect(projection.relativeError, `${projection.layer} ${projection.target}`).toBeGreaterThan(0);
        expect(projection.relativeError, `${projection.layer} ${projection.target}`).toBeLessThan(0.02);
      }
      expect(measured.worst.relativeError).toBe(Math.max(...measured.projections.map((p) => p.relativeError)));

      // Independently: layer 0's q/k/v read rmsnorm(embedding rows), the embedding in bf16 (an f32 checkpoint's tables).
      const { hiddenSize: C, rmsNormEps: eps } = fixture.config;
      const table = fixture.reference.tensors.get('model.embed_tokens.weight')!;
      const x = Float64Array.from({ length: ids.length * C }, (_, i) => bf16BitsToF32(f32ToBf16Bits(table[ids[Math.floor(i / C)]! * C + (i % C)]!)));
      const n1 = rmsnormForwardReference({ rows: ids.length, C, x, w: fixture.reference.tensors.get('model.layers.0.input_layernorm.weight')!, eps }).y;
      for (const target of ['q_proj', 'k_proj', 'v_proj'] as const) {
        const w = fixture.reference.tensors.get(`model.layers.0.self_attn.${target}.weight`)!;
        const N = w.length / C;
        const quantized = dequantize({ dtype: 'int8' }, quantize(target, { dtype: 'int8' }, w, N, C), N, C);
        const dims = { M: ids.length, N, K: C };
        const want = frobeniusError(matmulNTReference(dims, n1, quantized), matmulNTReference(dims, n1, w));
        const got = measured.projections.find((p) => p.layer === 0 && p.target === target)!.relativeError;
        expect(Math.abs(got - want) / want, target).toBeLessThan(0.01);
      }
    } finally {
      model.destroy();
    }
  });
});
