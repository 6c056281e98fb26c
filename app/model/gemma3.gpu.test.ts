import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { randomModel, randomTask, randomLora, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import { exportPeftAdapter } from '../train/peft.ts';
import { relativeError } from '../util/numeric.ts';
import { attentionWindowOf, parameterCount, parseModelConfig, type LoraTarget } from './config.ts';
import { Generator } from './generate.ts';
import { sequenceLogits } from './logits.ts';
import { loraPairKey, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, referenceLoss, type ReferenceLora } from './reference.ts';
import { readSafetensorsHeader } from './safetensors.ts';

/**
 * Gemma 3 (text) on the engine, against the Float64 reference, which follows modeling_gemma3.py:
 * embeddings × √hidden, RMSNorm x·(1 + w), four norms a layer, GeGLU with the tanh GELU, q/k norms,
 * query_pre_attn_scalar^−½, local RoPE base and a sliding window in sliding layers. The model here is
 * gemma-3-270m's published config (head_dim 256, 4 query heads and 1 kv head, hidden 640, MLP 2048)
 * with two layers (one sliding, one full), a 256-token vocabulary (of 262,144: the table is only
 * indexed and multiplied) and a sliding window of 4 positions (of 512), so that the prompts and
 * batches here reach well past it.
 */
const readConfig = async (name: string) => JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')) as Record<string, unknown>;
const GEMMA_270M = await readConfig('gemma-3-270m');
const GEMMA_1B = await readConfig('gemma-3-1b-it');
const WINDOW = 4;
const CUT = { ...GEMMA_270M, num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'], vocab_size: 256, sliding_window: WINDOW };
const TARGETS: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

let ctx: GpuContext;
let model: RandomModel;
let adapter: LoraAdapter;
let float64: ReferenceLora;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, CUT, 'f32', 51, { initializerRange: 0.02 });
  ({ adapter, float64 } = randomLora(model.config, TARGETS, { adapter: 52, b: 53 }, 0.05));
}, 120_000);
afterAll(() => {
  model?.gpu.destroy();
  ctx?.destroy();
});

describe('Gemma 3 configs', () => {
  it('reads gemma-3-270m as published (head_dim 256): layer_types, GeGLU, tied head by default, query_pre_attn_scalar, the 512 window', () => {
    const config = parseModelConfig(GEMMA_270M);
    expect(config).toMatchObject({ architecture: 'Gemma3ForCausalLM', mlpActivation: 'gelu_tanh', tieWordEmbeddings: true, qkNorm: true, headDim: 256, slidingWindow: 512 });
    expect(config.gemma).toMatchObject({ embeddingScale: Math.sqrt(640), attentionScale: 1 / 16, ropeLocalTheta: 10000 });
    expect(config.gemma!.slidingLayers.map((sliding) => (sliding ? 's' : 'F')).join('')).toBe('sssssFsssssFsssssF');
    expect(attentionWindowOf(config, 0)).toBe(512);
    expect(attentionWindowOf(config, 5)).toBeNull();
    // 268M, the 262,144 × 640 embedding 167.8M of them.
    expect(parameterCount(config)).toBe(268_098_176);
  });

  it('reads gemma-3-1b-it as published (head_dim 256): every sixth layer full from sliding_window_pattern', () => {
    const config = parseModelConfig(GEMMA_1B);
    expect(config.headDim).toBe(256);
    expect(config.gemma!.slidingLayers.flatMap((sliding, i) => (sliding ? [] : [i]))).toEqual([5, 11, 17, 23]);
  });

  it('refuses attention-logit soft-capping, a bad final cap and other activations by their keys, before any weight is read', () => {
    const field = (raw: object) => {
      try {
        parseModelConfig(raw);
      } catch (error) {
        return (error as { details?: { field?: string } }).details?.field;
      }
      return undefined;
    };
    expect(field({ ...CUT, final_logit_softcapping: -30 })).toBe('final_logit_softcapping');
    expect(parseModelConfig({ ...CUT, final_logit_softcapping: 30 }).finalLogitSoftcapping).toBe(30);
    expect(field({ ...CUT, attn_logit_softcapping: 50 })).toBe('attn_logit_softcapping');
    expect(field({ ...CUT, hidden_activation: 'gelu' })).toBe('hidden_activation');
    expect(field({ ...CUT, layer_types: ['full_attention'] })).toBe('layer_types');
  });
});

describe('Gemma 3 (a sliding and a full layer) against the Float64 reference', () => {
  const prompt = [2, 17, 201, 42, 99, 250, 7];

  it('gives the reference logits with LoRA on every projection', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    try {
      expect(relativeError(await sequenceLogits(ctx, model.gpu, prompt, lora), referenceLogits(model.reference, prompt, float64))).toBeLessThan(1e-4);
    } finally {
      lora.destroy();
    }
  });

  it('decodes greedily with the KV cache the tokens that full forwards of the reference choose', async () => {
    const lora = uploadLora(ctx, adapter, { training: false });
    const generator = new Generator(ctx, model.gpu, { capacity: 16, lora });
    try {
      // Positions 7 .. 12: the cache holds them all; the sliding layer sees the last 4, the full one all.
      const { ids } = await generator.generate(prompt, { maxNewTokens: 6 });
      const sequence = [...prompt];
      for (let i = 0; i < 6; i++) {
        const last = referenceLogits(model.reference, sequence, float64).subarray((sequence.length - 1) * 256);
        sequence.push(last.indexOf(Math.max(...last)));
      }
      expect(ids).toEqual(sequence.slice(prompt.length));
    } finally {
      generator.destroy();
      lora.destroy();
    }
  });

  it(`windows the sliding layer only: past its ${WINDOW} positions the logits are not those of whole-prefix attention`, () => {
    expect([attentionWindowOf(model.config, 0), attentionWindowOf(model.config, 1)]).toEqual([WINDOW, null]);
    const unwindowed = referenceLogits({ ...model.reference, config: { ...model.config, slidingWindow: null } }, prompt, float64);
    expect(relativeError(unwindowed, referenceLogits(model.reference, prompt, float64))).toBeGreaterThan(1e-3);
  });

  it('writes the PEFT keys and shapes PEFT gives Gemma 3 modules', async () => {
    // Module paths from transformers' modeling_gemma3.py (Gemma3Attention.q_proj … o_proj, Gemma3MLP.gate_proj …
    // down_proj, under model.layers.<i>); PEFT prefixes base_model.model. and writes lora_A [r, in], lora_B [out, r].
    const header = await readSafetensorsHeader(exportPeftAdapter(adapter, model.config, 'google/gemma-3-270m').weights, 'adapter_model.safetensors');
    const shape = (name: string) => header.tensors.get(`base_model.model.model.layers.1.${name}`)?.shape;
    expect(shape('self_attn.q_proj.lora_B.weight')).toEqual([4 * 256, 2]);
    expect(shape('self_attn.k_proj.lora_B.weight')).toEqual([256, 2]);
    expect(shape('self_attn.o_proj.lora_A.weight')).toEqual([2, 4 * 256]);
    expect(shape('mlp.down_proj.lora_A.weight')).toEqual([2, 2048]);
    expect(header.tensors.size).toBe(28);
  });
});

describe('Gemma 3 LoRA gradients against finite differences of the reference', () => {
  let batch: HostBatch;
  let gpu: GraphStep;
  beforeAll(async () => {
    const task = randomTask('t', 256, [5, 7], 54);
    batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 32, false);
    gpu = await graphStep(ctx, model.gpu, adapter, batch);
  }, 120_000);

  const referenceBatchLoss = (): number => {
    let total = 0;
    for (const span of batch.spans) {
      const from = span.row * batch.T + span.start;
      const targets = Array.from(batch.targets.subarray(from, from + span.length));
      total += referenceLoss(model.reference, Array.from(batch.ids.subarray(from, from + span.length)), targets, float64) * targets.filter((t) => t !== IGNORE_INDEX).length;
    }
    return total / batch.labelCount;
  };

  it('the GPU loss equals the reference loss, and recomputation gives the same gradients bit for bit', async () => {
    expect(Math.abs(gpu.loss - referenceBatchLoss()) / referenceBatchLoss()).toBeLessThan(1e-5);
    const recomputed = await graphStep(ctx, model.gpu, adapter, batch, { recompute: true });
    for (const [key, pair] of gpu.gradients) {
      expect(Array.from(recomputed.gradients.get(key)!.a)).toEqual(Array.from(pair.a));
      expect(Array.from(recomputed.gradients.get(key)!.b)).toEqual(Array.from(pair.b));
    }
  });

  // q_proj in the sliding layer (q norm, local RoPE), o_proj in the full one (post-attention norm),
  // gate_proj (GeGLU) and down_proj (post-feed-forward norm).
  for (const [layer, target] of [[0, 'q_proj'], [1, 'o_proj'], [1, 'gate_proj'], [0, 'down_proj']] as const) {
    it(`dA and dB of layer ${layer} ${target} match central finite differences`, () => {
      const key = loraPairKey(layer, target);
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
