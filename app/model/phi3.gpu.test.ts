import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep } from '../../test/graph-step.ts';
import { finiteDifferenceGradient } from '../../test/numeric.ts';
import { PHI3_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { buildTrainingBatch, IGNORE_INDEX } from '../train/batch.ts';
import { exportPeftAdapter, importPeftAdapter } from '../train/peft.ts';
import { relativeError } from '../util/numeric.ts';
import { Random } from '../util/random.ts';
import { expectedWeights, parameterCount, parseModelConfig, type LoraTarget } from './config.ts';
import { Generator } from './generate.ts';
import { DecoderGraph } from './graph.ts';
import { sequenceLogits } from './logits.ts';
import { initLoraAdapter, loraPairKey, loraScale, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, referenceLoss, type ReferenceLora } from './reference.ts';
import { readSafetensorsHeader } from './safetensors.ts';

/**
 * Phi-3 and Phi-4-mini on the engine, against the Float64 reference (which follows modeling_phi3.py:
 * qkv_proj's output split as [Q | K | V], gate_up_proj's as [gate | up], partial rotary, LongRoPE).
 */
const readConfig = async (name: string) => JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')) as Record<string, unknown>;
const PHI_4_MINI = await readConfig('Phi-4-mini-instruct');
const PHI_3_MINI = await readConfig('Phi-3-mini-4k-instruct');
const FUSED: LoraTarget[] = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'];

const withLora = (model: RandomModel, r: number, seed: number, spread: number): { adapter: LoraAdapter; float64: ReferenceLora } => {
  const adapter = initLoraAdapter(model.config, { r, alpha: 2 * r, dropout: 0, targets: FUSED, rslora: false }, seed);
  const random = Random.fromSeed(seed + 1);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -spread, spread);
  const float64 = { scale: loraScale(adapter.config), r, pairs: new Map([...adapter.pairs].map(([key, pair]) => [key, { a: Float64Array.from(pair.a), b: Float64Array.from(pair.b) }])) };
  return { adapter, float64 };
};

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('Phi-3 configs', () => {
  it('reads Phi-4-mini-instruct: fused projections, 96 of 128 dims rotary, LongRoPE with √(1 + ln 32 / ln 4096), tied head, 3.84B parameters', () => {
    const config = parseModelConfig(PHI_4_MINI);
    expect(config).toMatchObject({ architecture: 'Phi3ForCausalLM', fusedProjections: true, headDim: 128, partialRotaryFactor: 0.75, tieWordEmbeddings: true, qkvBias: false, slidingWindow: null });
    expect(config.ropeScaling).toMatchObject({ ropeType: 'longrope', originalMaxPositionEmbeddings: 4096 });
    expect(config.ropeScaling?.ropeType === 'longrope' && config.ropeScaling.attentionFactor).toBeCloseTo(Math.sqrt(1 + Math.log(131072 / 4096) / Math.log(4096)), 15);
    const layer0 = expectedWeights(config).filter((w) => w.name.startsWith('model.layers.0.'));
    expect(layer0.map((w) => [w.name.slice('model.layers.0.'.length), w.shape])).toEqual([
      ['input_layernorm.weight', [3072]],
      ['self_attn.qkv_proj.weight', [(24 + 2 * 8) * 128, 3072]],
      ['self_attn.o_proj.weight', [3072, 3072]],
      ['post_attention_layernorm.weight', [3072]],
      ['mlp.gate_up_proj.weight', [2 * 8192, 3072]],
      ['mlp.down_proj.weight', [3072, 8192]],
    ]);
    expect(parameterCount(config)).toBe(3_836_021_760);
  });

  it('reads Phi-3-mini-4k-instruct: untied head, its 2047-position sliding window, 3.82B parameters', () => {
    const config = parseModelConfig(PHI_3_MINI);
    expect(config).toMatchObject({ fusedProjections: true, tieWordEmbeddings: false, slidingWindow: 2047, ropeScaling: null, headDim: 96 });
    expect(parameterCount(config)).toBe(3_821_079_552);
  });

  it('refuses what the engine does not compute by its key, before any weight is read', () => {
    const field = (raw: object) => {
      try {
        parseModelConfig(raw);
      } catch (error) {
        return (error as { details?: { field?: string } }).details?.field;
      }
      return undefined;
    };
    expect(field({ ...PHI_4_MINI, lm_head_bias: true })).toBe('lm_head_bias');
    expect(field({ ...PHI_4_MINI, full_attn_mod: 2 })).toBe('full_attn_mod');
    expect(field({ ...PHI_4_MINI, rope_scaling: { type: 'yarn', factor: 4 } })).toBe('rope_scaling.rope_type');
    expect(field({ ...PHI_4_MINI, rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [1, 2] } })).toBe('rope_scaling.short_factor');
  });

  it('refuses q_proj as a LoRA target and names the fused projections to use instead', () => {
    expect(() => initLoraAdapter(parseModelConfig(PHI_4_MINI), { r: 4, alpha: 8, dropout: 0, targets: ['q_proj'], rslora: false }, 1)).toThrow(
      expect.objectContaining({ code: 'LORA_TARGET_UNSUPPORTED', message: expect.stringMatching(/Phi3ForCausalLM has no q_proj; its projections are qkv_proj, o_proj, gate_up_proj, down_proj/) }),
    );
    expect(() => initLoraAdapter(parseModelConfig({ ...PHI_3_MINI, architectures: ['LlamaForCausalLM'] }), { r: 4, alpha: 8, dropout: 0, targets: ['qkv_proj'], rslora: false }, 1)).toThrow(/LlamaForCausalLM has no qkv_proj/);
  });
});

/**
 * A random-weight model of Phi-4-mini-instruct's published config, bf16 as published, with its 32 layers
 * cut to one and its 200,064-token vocabulary cut to 256 (the table is only indexed and multiplied;
 * whole it would be 1.2 GB on a CPU device). Every other dimension is as published.
 */
describe('Phi-4-mini (one layer) against the Float64 reference', () => {
  let model: RandomModel;
  let lora: { adapter: LoraAdapter; float64: ReferenceLora };
  beforeAll(async () => {
    model = await randomModel(ctx, { ...PHI_4_MINI, num_hidden_layers: 1, vocab_size: 256 }, 'bf16', 21, { initializerRange: 0.02 });
    lora = withLora(model, 2, 22, 0.05);
  }, 120_000);
  afterAll(() => model?.gpu.destroy());

  const logits = async (ids: number[], startPosition: number) => {
    const gpuLora = uploadLora(ctx, lora.adapter, { training: false });
    try {
      return await sequenceLogits(ctx, model.gpu, ids, gpuLora, startPosition);
    } finally {
      gpuLora.destroy();
    }
  };

  it('gives the reference logits with LoRA on qkv_proj, o_proj, gate_up_proj and down_proj', async () => {
    const ids = [3, 77, 150, 9, 201];
    const want = referenceLogits(model.reference, ids, lora.float64);
    expect(relativeError(await logits(ids, 0), want)).toBeLessThan(1e-4);
  });

  it('past original_max_position_embeddings (positions 5000..), switches to the long factors as the reference does', async () => {
    const ids = [3, 77, 150, 9, 201];
    const want = referenceLogits(model.reference, ids, lora.float64, 5000);
    expect(relativeError(await logits(ids, 5000), want)).toBeLessThan(1e-4);
    // The long factors matter there: the short ones would give other logits.
    const shortFactors = { ...model.reference, config: { ...model.config, ropeScaling: model.config.ropeScaling && { ...model.config.ropeScaling, longFactor: (model.config.ropeScaling as { shortFactor: number[] }).shortFactor } } };
    expect(relativeError(referenceLogits(shortFactors, ids, lora.float64, 5000), want)).toBeGreaterThan(1e-3);
  });

  it('decodes greedily with the KV cache the tokens full forwards choose', async () => {
    const prompt = [5, 17, 201, 42];
    const gpuLora = uploadLora(ctx, lora.adapter, { training: false });
    const generator = new Generator(ctx, model.gpu, { capacity: 12, lora: gpuLora });
    try {
      const { ids } = await generator.generate(prompt, { maxNewTokens: 3 });
      const sequence = [...prompt];
      for (let i = 0; i < 3; i++) {
        const full = await sequenceLogits(ctx, model.gpu, sequence, gpuLora);
        const last = Array.from(full.subarray((sequence.length - 1) * 256));
        sequence.push(last.indexOf(Math.max(...last)));
      }
      expect(ids).toEqual(sequence.slice(prompt.length));
    } finally {
      generator.destroy();
      gpuLora.destroy();
    }
  });

  it('writes the PEFT keys and shapes PEFT gives Phi-3 modules: one A/B pair spans each fused projection', async () => {
    // Module paths from transformers' modeling_phi3.py (Phi3Attention.qkv_proj and .o_proj, Phi3MLP.gate_up_proj
    // and .down_proj, under model.layers.<i>); PEFT prefixes base_model.model. and writes lora_A [r, in],
    // lora_B [out, r] for the whole nn.Linear (ENGINEERING.md §6), so qkv_proj's B spans Q, K and V.
    const files = exportPeftAdapter(lora.adapter, model.config, 'microsoft/Phi-4-mini-instruct');
    const header = await readSafetensorsHeader(files.weights, 'adapter_model.safetensors');
    const shape = (module: string, matrix: 'A' | 'B') => header.tensors.get(`base_model.model.model.layers.0.${module}.lora_${matrix}.weight`)?.shape;
    expect(shape('self_attn.qkv_proj', 'A')).toEqual([2, 3072]);
    expect(shape('self_attn.qkv_proj', 'B')).toEqual([5120, 2]);
    expect(shape('self_attn.o_proj', 'B')).toEqual([3072, 2]);
    expect(shape('mlp.gate_up_proj', 'B')).toEqual([16384, 2]);
    expect(shape('mlp.down_proj', 'A')).toEqual([2, 8192]);
    expect(header.tensors.size).toBe(8);
    expect(JSON.parse(files.config).target_modules).toEqual(['down_proj', 'gate_up_proj', 'o_proj', 'qkv_proj']);
    const back = await importPeftAdapter(files, model.config);
    expect(Array.from(back.pairs.get(loraPairKey(0, 'qkv_proj'))!.b)).toEqual(Array.from(lora.adapter.pairs.get(loraPairKey(0, 'qkv_proj'))!.b));
  });
});

/**
 * Gradients through the fused projections, partial rotary and LongRoPE on a tiny Phi-3 (original
 * context 16 positions): one batch within it (short factors) and one past it (long factors).
 */
describe('Phi-3 LoRA gradients against finite differences of the reference', () => {
  let model: RandomModel;
  let lora: { adapter: LoraAdapter; float64: ReferenceLora };
  beforeAll(async () => {
    model = await randomModel(ctx, PHI3_TINY, 'f32', 31);
    lora = withLora(model, 2, 32, 0.3);
  }, 120_000);
  afterAll(() => model?.gpu.destroy());

  for (const [what, lengths] of [['within original_max_position_embeddings (short factors)', [9, 12]], ['past it (long factors)', [20, 18]]] as const) {
    it(`dA and dB of every fused target match the reference ${what}, with and without recomputation`, async () => {
      const task = randomTask('t', model.config.vocabSize, lengths, 33);
      const batch = buildTrainingBatch(task.train.map((example) => ({ task: 0, example })), 32, false);
      const gpu = await graphStep(ctx, model.gpu, lora.adapter, batch);
      const recomputed = await graphStep(ctx, model.gpu, lora.adapter, batch, { recompute: true });
      const referenceBatchLoss = (): number => {
        let total = 0;
        for (const span of batch.spans) {
          const from = span.row * batch.T + span.start;
          const targets = Array.from(batch.targets.subarray(from, from + span.length));
          total += referenceLoss(model.reference, Array.from(batch.ids.subarray(from, from + span.length)), targets, lora.float64) * targets.filter((t) => t !== IGNORE_INDEX).length;
        }
        return total / batch.labelCount;
      };
      expect(Math.abs(gpu.loss - referenceBatchLoss()) / referenceBatchLoss()).toBeLessThan(1e-5);
      for (const [layer, target] of [[0, 'qkv_proj'], [1, 'o_proj'], [1, 'gate_up_proj'], [0, 'down_proj']] as const) {
        const key = loraPairKey(layer, target);
        for (const matrix of ['a', 'b'] as const) {
          const values = lora.float64.pairs.get(key)![matrix] as Float64Array;
          // For qkv_proj's B: a row of Q, one of K and one of V.
          const probe = target === 'qkv_proj' && matrix === 'b' ? [5, 2 * (4 * 8) + 3, 2 * (4 * 8 + 2 * 8) + 1] : [1, values.length - 1];
          const numeric = finiteDifferenceGradient(referenceBatchLoss, values, 1e-5, probe);
          const scale = Math.max(...probe.map((i) => Math.abs(numeric[i]!)));
          expect(scale, `${key} ${matrix} has a gradient to compare`).toBeGreaterThan(1e-6);
          for (const i of probe) expect(Math.abs(gpu.gradients.get(key)![matrix][i]! - numeric[i]!) / scale, `${key} ${matrix}[${i}]`).toBeLessThan(2e-3);
          expect(Array.from(recomputed.gradients.get(key)![matrix])).toEqual(Array.from(gpu.gradients.get(key)![matrix]));
        }
      }
    });
  }
});

describe("Phi-3-mini-4k's sliding window", () => {
  // Past the window the attention is computed with it: checked against the Float64 reference in sliding-window.gpu.test.ts.
  it('runs sequences up to the window and past it', async () => {
    const model = await randomModel(ctx, { ...PHI3_TINY, rope_scaling: null, sliding_window: 10 }, 'f32', 41);
    try {
      expect(model.config.slidingWindow).toBe(10);
      new DecoderGraph(ctx, model.gpu, { B: 1, T: 10 }, { training: false, loraRank: 0 }).destroy();
      new DecoderGraph(ctx, model.gpu, { B: 1, T: 11 }, { training: false, loraRank: 0 }).destroy();
    } finally {
      model.gpu.destroy();
    }
  });
});
