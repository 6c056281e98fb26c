/**
 * The merged model: every adapted projection's weight becomes W + s·B·A (what PEFT's
 * merge_and_unload computes), written in the weights' own dtype as one model.safetensors, so the
 * result loads anywhere a plain Hugging Face checkpoint does. Computed in Float64, rounded once.
 */
import { encodeTensorData, type DType } from '../gpu/dtype.ts';
import { LORA_TARGETS, type LoraTarget, type ModelConfig } from '../model/config.ts';
import { loraPairKey, loraScale, type LoraAdapter } from '../model/lora.ts';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import { readWeightFloat64, type ModelWeights } from '../model/weights.ts';

const GPU_DTYPE = { F32: 'f32', BF16: 'bf16', F16: 'f16' } as const satisfies Record<string, DType>;

export async function mergeAdapter(config: ModelConfig, weights: ModelWeights, adapter: LoraAdapter): Promise<Blob> {
  const scale = loraScale(adapter.config);
  const r = adapter.config.r;
  const adapted = new Map<string, { layer: number; target: LoraTarget }>();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of adapter.config.targets) adapted.set(`model.layers.${layer}.${LORA_TARGETS[target]}.weight`, { layer, target });
  }
  const tensors: TensorToWrite[] = [];
  for (const ref of weights.refs.values()) {
    const values = await readWeightFloat64(ref);
    const lora = adapted.get(ref.name);
    const pair = lora && adapter.pairs.get(loraPairKey(lora.layer, lora.target));
    if (pair) {
      const [rows, columns] = ref.shape as [number, number];
      for (let o = 0; o < rows; o++) {
        for (let i = 0; i < columns; i++) {
          let sum = 0;
          for (let k = 0; k < r; k++) sum += pair.b[o * r + k]! * pair.a[k * columns + i]!;
          values[o * columns + i]! += scale * sum;
        }
      }
    }
    const encoded = encodeTensorData(GPU_DTYPE[ref.dtype], values);
    const bytes = values.length * (ref.dtype === 'F32' ? 4 : 2);
    tensors.push({ name: ref.name, dtype: ref.dtype, shape: ref.shape, data: new Uint8Array(encoded.buffer, 0, bytes) });
  }
  return writeSafetensors(tensors, { format: 'pt' });
}
