import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { randomModel, randomTask, randomLora, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { exportPeftAdapter, importPeftAdapter } from '../train/peft.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import { readSafetensorsHeader } from './safetensors.ts';
import { relativeError } from '../util/numeric.ts';
import { parseModelConfig, type LoraTarget } from './config.ts';
import { Generator } from './generate.ts';
import { sequenceLogits } from './logits.ts';
import { loraPairKey, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, referenceLoss, type ReferenceLora } from './reference.ts';

/**
 * Qwen3 on the engine: a random-weight model of Qwen3-0.6B's published config (hidden 1024, 16 query
 * heads and 8 KV heads of head_dim 128 — so q_proj is 2048 wide, not hidden_size — MLP 3072,
 * rms_norm_eps 1e-6, rope_theta 1e6, tied head) with its 28 layers cut to one and its 151,936-token
 * vocabulary cut to 384: the embedding table is only indexed and the head only multiplied, so the
 * vocabulary changes no code path, while the full table would be 622 MB of f32 on a CPU device.
 * Checked against the Float64 reference, which follows modeling_qwen3.py (q_norm/k_norm over each
 * head after the projection, before RoPE).
 */
const QWEN3_CONFIG = JSON.parse(await readFile(fixturePath('configs/Qwen3-0.6B.config.json'), 'utf8')) as Record<string, unknown>;
const CUT = { ...QWEN3_CONFIG, num_hidden_layers: 1, vocab_size: 384 };
const TARGETS: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

let ctx: GpuContext;
let model: RandomModel;
let adapter: LoraAdapter;
let float64: ReferenceLora;

beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, CUT, 'f32', 11, { initializerRange: 0.02 });
  ({ adapter, float64 } = randomLora(model.config, TARGETS, { adapter: 12, b: 13 }, 0.05));
}, 120_000);
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

describe('Qwen3 config', () => {
  it('reads Qwen3-0.6B: head_dim 128 from the config, q/k norms, no attention bias, tied head', () => {
    const config = parseModelConfig(QWEN3_CONFIG);
    expect(config).toMatchObject({ architecture: 'Qwen3ForCausalLM', hiddenSize: 1024, numHeads: 16, numKvHeads: 8, headDim: 128, qkNorm: true, qkvBias: false, oBias: false, tieWordEmbeddings: true, ropeTheta: 1_000_000 });
  });

  it('refuses use_sliding_window: true by its key, before any weight is read', () => {
    expect(() => parseModelConfig({ ...QWEN3_CONFIG, use_sliding_window: true, sliding_window: 4096 })).toThrow(expect.objectContaining({ code: 'MODEL_CONFIG_INVALID', details: expect.objectContaining({ field: 'use_sliding_window' }) }));
  });
});

describe('Qwen3 forward and generation against the Float64 reference', () => {
  const prompt = [5, 17, 301, 42, 99, 250, 7];

  it('gives the reference logits with a LoRA adapter on every projection', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    try {
      const got = await sequenceLogits(ctx, model.gpu, prompt, lora);
      const want = referenceLogits(model.reference, prompt, float64);
      expect(relativeError(got, want)).toBeLessThan(1e-4);
      // The head norms matter: with them left out (unit weights) the logits are clearly different.
      const unitNorms = new Map(model.reference.tensors);
      for (const name of ['model.layers.0.self_attn.q_norm.weight', 'model.layers.0.self_attn.k_norm.weight']) unitNorms.set(name, new Float64Array(128).fill(1));
      expect(relativeError(referenceLogits({ ...model.reference, tensors: unitNorms }, prompt, float64), want)).toBeGreaterThan(1e-3);
    } finally {
      lora.destroy();
    }
  });

  it('decodes greedily with the KV cache the tokens that full forwards of the reference choose', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    const generator = new Generator(ctx, model.gpu, { capacity: 16, lora });
    try {
      const { ids } = await generator.generate(prompt, { maxNewTokens: 6 });
      const sequence = [...prompt];
      const V = model.config.vocabSize;
      for (let i = 0; i < 6; i++) {
        const last = referenceLogits(model.reference, sequence, float64).subarray((sequence.length - 1) * V);
        sequence.push(last.indexOf(Math.max(...last)));
      }
      expect(ids).toEqual(sequence.slice(prompt.length));
    } finally {
      generator.destroy();
      lora.destroy();
    }
  });
});

describe('Qwen3 LoRA gradients against finite differences of the reference', () => {
  let batch: HostBatch;
  let gpu: GraphStep;
  beforeAll(async () => {
    const task = randomTask('t', model.config.vocabSize, [4, 6], 14);
    batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 32, false);
    gpu = await graphStep(ctx, model.gpu, adapter, batch);
  }, 120_000);

  const referenceBatchLoss = (): number => {
    let total = 0;
    for (const span of batch.spans) {
      const from = span.row * batch.T + span.start;
      const ids = Array.from(batch.ids.subarray(from, from + span.length));
      const targets = Array.from(batch.targets.subarray(from, from + span.length));
      total += referenceLoss(model.reference, ids, targets, float64) * targets.filter((target) => target !== IGNORE_INDEX).length;
    }
    return total / batch.labelCount;
  };

  it('the GPU loss equals the reference loss', () => {
    expect(Math.abs(gpu.loss - referenceBatchLoss()) / referenceBatchLoss()).toBeLessThan(1e-5);
  });

  it('gives the same gradients, bit for bit, when each layer is recomputed in the backward', async () => {
    const recomputed = await graphStep(ctx, model.gpu, adapter, batch, { recompute: true });
    for (const [key, pair] of gpu.gradients) {
      expect(Array.from(recomputed.gradients.get(key)!.a)).toEqual(Array.from(pair.a));
      expect(Array.from(recomputed.gradients.get(key)!.b)).toEqual(Array.from(pair.b));
    }
  });

  // q_proj and k_proj reach the loss through the head norms; down_proj is a control outside attention.
  for (const target of ['q_proj', 'k_proj', 'down_proj'] as const) {
    it(`dA and dB of ${target} match central finite differences`, () => {
      const key = loraPairKey(0, target);
      for (const matrix of ['a', 'b'] as const) {
        const values = float64.pairs.get(key)![matrix] as Float64Array;
        const probe = [3, values.length - 2];
        const numeric = finiteDifferenceGradient(referenceBatchLoss, values, 1e-5, probe);
        const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
        expect(scale, `${matrix} has a gradient to compare`).toBeGreaterThan(1e-7);
        for (const i of probe) expect(Math.abs(gpu.gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${matrix}[${i}]`).toBeLessThan(2e-3);
      }
    });
  }
});

describe('Qwen3 PEFT adapter files', () => {
  it('writes and reads back the keys and shapes PEFT gives Qwen3 modules', async () => {
    // Module paths from transformers' modeling_qwen3.py (Qwen3Attention.q_proj … o_proj, Qwen3MLP.gate_proj …
    // down_proj, under model.layers.<i>); PEFT prefixes base_model.model. and writes lora_A [r, in],
    // lora_B [out, r] (ENGINEERING.md §6). q_proj's out is heads × head_dim = 2048, not hidden_size.
    const files = exportPeftAdapter(adapter, model.config, 'Qwen/Qwen3-0.6B');
    const header = await readSafetensorsHeader(files.weights, 'adapter_model.safetensors');
    const shape = (name: string) => header.tensors.get(`base_model.model.model.layers.0.self_attn.${name}`)?.shape;
    expect(shape('q_proj.lora_A.weight')).toEqual([2, 1024]);
    expect(shape('q_proj.lora_B.weight')).toEqual([2048, 2]);
    expect(shape('k_proj.lora_B.weight')).toEqual([1024, 2]);
    expect(shape('o_proj.lora_A.weight')).toEqual([2, 2048]);
    expect(header.tensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')?.shape).toEqual([2, 3072]);
    expect(header.tensors.size).toBe(14);
    const back = await importPeftAdapter(files, model.config);
    expect(Array.from(back.pairs.get(loraPairKey(0, 'q_proj'))!.b)).toEqual(Array.from(adapter.pairs.get(loraPairKey(0, 'q_proj'))!.b));
  });
});
