/**
 * Random-weight models of any supported config, in Hugging Face layout, for benchmarks at the shapes
 * of real models whose weights cannot be downloaded here. Weights are drawn as transformers
 * initialises a fresh LlamaForCausalLM: normal(0, initializer_range) for linear layers and
 * embeddings, zeros for biases, ones for RMSNorm weights. Seeded, so two runs write the same bytes.
 */
import { encodeTensorData, type DType } from '../gpu/dtype.ts';
import { Random } from '../util/random.ts';
import { expectedWeights, type ModelConfig } from './config.ts';
import type { SafetensorsDType, TensorToWrite } from './safetensors.ts';

const SAFETENSORS_DTYPE: Record<DType, SafetensorsDType> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

export function randomModelTensors(config: ModelConfig, options: { dtype: DType; seed: number; initializerRange?: number }): TensorToWrite[] {
  const random = Random.fromSeed(options.seed);
  const std = options.initializerRange ?? 0.02;
  return expectedWeights(config).map(({ name, shape }) => {
    const count = shape.reduce((n, d) => n * d, 1);
    const values = new Float32Array(count);
    if (name.endsWith('norm.weight')) values.fill(1);
    else if (!name.endsWith('.bias')) fillNormal(random, values, std);
    const packed = encodeTensorData(options.dtype, values);
    return { name, dtype: SAFETENSORS_DTYPE[options.dtype], shape, data: new Uint8Array(packed.buffer, 0, count * (options.dtype === 'f32' ? 4 : 2)) };
  });
}

/** Box–Muller: two uniforms give two independent standard normals. */
function fillNormal(random: Random, out: Float32Array, std: number): void {
  for (let i = 0; i < out.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random.next())) * std;
    const angle = 2 * Math.PI * random.next();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
  }
}
