import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { CocktailError } from '../errors.ts';
import { parseRecipe } from '../train/recipe.ts';
import { checkRecipeQuantization, planRecipe, recipeLoadOptions, recipeTrainingShape, withCheckpointWeights } from '../train/plan.ts';
import { parseModelConfig } from './config.ts';
import { estimateTrainingMemory, modelWeightBytes, type TrainingShape } from './memory.ts';
import { prequantizedFormatOf } from './prequantized.ts';
import { checkModelQuantization, weightFormat } from './quantization.ts';
import { LLAMA_TINY } from '../../test/random-model.ts';
import { randomModelTensors } from './random-model.ts';
import { writeSafetensors } from './safetensors.ts';
import type { ModelFiles } from './source.ts';
import { locateWeights } from './weights.ts';

const config = async (name: string) => parseModelConfig(JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')));
const LIMITS = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };
const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

describe('which weights a quantized model quantizes', () => {
  it('quantizes the projections and keeps the vocabulary tables 16-bit (bf16 for an f32 checkpoint)', () => {
    expect(weightFormat('f32', 'int4')).toEqual({ dtype: 'int4', tables: 'bf16', spec: { dtype: 'int4', group: 64, symmetric: false } });
    expect(weightFormat('f16', 'int8')).toEqual({ dtype: 'int8', tables: 'f16', spec: { dtype: 'int8' } });
    expect(weightFormat('bf16')).toEqual({ dtype: 'bf16', tables: 'bf16' });
  });

  it('refuses int4 groups of 128 on SmolLM2-360M before any download, naming the first tensor whose 960-wide rows they do not divide', async () => {
    const smol = await config('SmolLM2-360M-Instruct');
    const call = () => checkModelQuantization(smol, { dtype: 'int4', group: 128, symmetric: false });
    expect(call).toThrow(CocktailError);
    expect(call).toThrow(/tensor "model\.layers\.0\.self_attn\.q_proj\.weight" \[960, 960\] has rows of 960 elements, which int4 group size 128 does not divide: choose group size 32 or 64, or int8/);
    expect(() => checkModelQuantization(smol, { dtype: 'int4', group: 64, symmetric: false })).not.toThrow();
  });
});

describe('the planner with quantized weights', () => {
  it('counts int4 projections as 4-bit codes, an f32 scale per group and 4-bit zero points, and the tables in bf16 (Qwen3-0.6B)', async () => {
    const qwen = await config('Qwen3-0.6B');
    const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D, numLayers: L, vocabSize: V } = qwen;
    // Counted here independently of quantLayout: [N, K] in groups of 64 along K.
    const int4 = (N: number, K: number) => (N * K) / 2 + ((N * K) / 64) * 4 + Math.ceil((N * K) / 64 / 8) * 4;
    const projections = int4(H * D, C) + 2 * int4(Hkv * D, C) + int4(C, H * D) + 2 * int4(I, C) + int4(C, I);
    const norms = (2 * C + 2 * D) * 4; // input and post-attention norms, q_norm and k_norm, f32
    const tied = qwen.tieWordEmbeddings;
    const expected = L * (projections + norms) + C * 4 + (tied ? 1 : 2) * V * C * 2;
    expect(modelWeightBytes(qwen, weightFormat('bf16', 'int4'), LIMITS)).toBe(expected);
  });

  it('shows what int4 and int8 save of Llama-3.2-1B’s 16-bit weights (its bf16 embedding, a fifth of them, stays)', async () => {
    const model = await config('Llama-3.2-1B-Instruct');
    const shape: TrainingShape = { batchSize: 1, seqLength: 256, weightDtype: 'bf16', lora: { r: 16, targets: [...ALL] }, recompute: true };
    const sixteen = estimateTrainingMemory(model, shape, LIMITS, Infinity);
    const int4 = estimateTrainingMemory(model, { ...shape, weightDtype: 'int4', tableDtype: 'bf16' }, LIMITS, Infinity);
    const int8 = estimateTrainingMemory(model, { ...shape, weightDtype: 'int8', tableDtype: 'bf16' }, LIMITS, Infinity);
    expect(sixteen.quantization).toBeUndefined();
    expect(int4.quantization!.sixteenBitBytes).toBe(sixteen.lines[0]!.bytes);
    expect(int4.quantization!.bytes).toBe(int4.lines[0]!.bytes);
    expect(int4.lines[0]!.what).toBe('frozen weights (int4 (group 64), bf16 vocabulary tables)');
    // Projections at 4.5625 bits instead of 16; the bf16 tables stay.
    expect(int4.quantization!.bytes).toBeLessThan(0.5 * sixteen.lines[0]!.bytes);
    expect(int8.quantization!.bytes).toBeLessThan(0.65 * sixteen.lines[0]!.bytes);
    expect(int8.quantization!.bytes).toBeGreaterThan(int4.quantization!.bytes);
  });

  it('suggests int4 when 16-bit weights do not fit the budget', async () => {
    const model = await config('Llama-3.2-1B-Instruct');
    const shape: TrainingShape = { batchSize: 1, seqLength: 128, weightDtype: 'bf16', lora: { r: 8, targets: [...ALL] }, recompute: true };
    const sixteen = estimateTrainingMemory(model, shape, LIMITS, Infinity).totalBytes;
    const estimate = estimateTrainingMemory(model, shape, LIMITS, sixteen - 2 ** 28);
    expect(estimate.fits).toBe(false);
    expect(estimate.advice.join(' ')).toMatch(/quantize the frozen projections to int4 \(model\.dtype "int4"/);
    expect(estimate.advice.join(' ')).toMatch(/Would fit: .*int4 \(group 64\) weights/);
  });
});

describe('the recipe chooses int8 or int4', () => {
  const minimal = { model: { source: 'HuggingFaceTB/SmolLM2-360M-Instruct' }, tasks: [{ name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' }], steps: 10 };

  it('takes model.dtype "int4" with a group size and symmetry, and loads and plans with them', async () => {
    const recipe = parseRecipe({ ...minimal, model: { ...minimal.model, dtype: 'int4', group_size: 32, symmetric: true } });
    expect(recipeLoadOptions(recipe)).toEqual({ dtype: 'int4', int4: { group: 32, symmetric: true } });
    expect(recipeTrainingShape(recipe, 'bf16')).toMatchObject({ weightDtype: 'int4', tableDtype: 'bf16', int4: { group: 32, symmetric: true } });
    const smol = await config('SmolLM2-360M-Instruct');
    expect(planRecipe(recipe, smol, 'bf16', LIMITS).lines[0]!.what).toBe('frozen weights (int4 (group 32, symmetric), bf16 vocabulary tables)');
  });

  it('takes int8 with no int4 settings', () => {
    expect(recipeLoadOptions(parseRecipe({ ...minimal, model: { ...minimal.model, dtype: 'int8' } }))).toEqual({ dtype: 'int8' });
  });

  it('refuses group_size without int4, with its path', () => {
    expect(() => parseRecipe({ ...minimal, model: { ...minimal.model, dtype: 'int8', group_size: 64 } })).toThrow(/model\.group_size: applies to int4 weights only/);
    expect(() => parseRecipe({ ...minimal, model: { ...minimal.model, dtype: 'int4', group_size: 48 } })).toThrow(/model\.group_size/);
  });

  it('refuses, from config.json alone, a group size the model’s rows cannot take', async () => {
    const recipe = parseRecipe({ ...minimal, model: { ...minimal.model, dtype: 'int4', group_size: 128 } });
    const smol = await config('SmolLM2-360M-Instruct');
    expect(() => checkRecipeQuantization(recipe, smol, 'bf16')).toThrow(/q_proj\.weight" \[960, 960\].*group size 128 does not divide/);
  });
});

describe('pre-quantized checkpoints: what is refused, saying what is supported', () => {
  it('refuses a config.json with a bitsandbytes quantization_config before any weight is read, naming the key and the method', () => {
    const raw = { ...LLAMA_TINY, quantization_config: { quant_method: 'bitsandbytes', load_in_4bit: true } };
    const call = () => prequantizedFormatOf(raw, 'someone/Llama-bnb-4bit/config.json');
    expect(call).toThrow(CocktailError);
    expect(call).toThrow(/someone\/Llama-bnb-4bit\/config\.json: quantization_config\.quant_method "bitsandbytes": this pre-quantized format is not supported; supported: "gptq", "awq" \(4-bit\).*model\.dtype "int4"/);
    expect(prequantizedFormatOf(LLAMA_TINY, 'config.json')).toBeNull();
  });

  it('plans a GPTQ checkpoint as int4 in its own group and symmetry, whatever of that the recipe leaves out, and refuses other weights before any download', () => {
    const raw = { ...LLAMA_TINY, quantization_config: { quant_method: 'gptq', bits: 4, group_size: 128, desc_act: false, sym: true } };
    const recipe = (model: object) => parseRecipe({ model: { source: 'q', ...model }, tasks: [{ name: 'fpb', source: { file: 'fpb.txt' }, format: 'text' }], steps: 10 });
    const checkpointWeights = { source: 'q', dtype: 'int4', group_size: 128, symmetric: true };
    expect(withCheckpointWeights(recipe({}), raw, 'q/config.json').model).toMatchObject(checkpointWeights);
    expect(withCheckpointWeights(recipe({ dtype: 'int4' }), raw, 'q/config.json').model).toMatchObject(checkpointWeights);
    expect(withCheckpointWeights(recipe({ dtype: 'int4', group_size: 128, symmetric: false }), raw, 'q/config.json').model).toMatchObject(checkpointWeights);
    // The plan then counts int4 projections in groups of 128, as the load holds them.
    expect(recipeTrainingShape(withCheckpointWeights(recipe({}), raw, 'q/config.json'), 'f16')).toMatchObject({ weightDtype: 'int4', int4: { group: 128, symmetric: true } });
    expect(() => withCheckpointWeights(recipe({ dtype: 'bf16' }), raw, 'q/config.json')).toThrow(/q\/config\.json: a gptq int4 checkpoint \(group 128\), recipe model: dtype "bf16" was asked of a gptq int4 checkpoint, whose projections load as int4 \(group 128\); ask for "int4" or leave the dtype out/);
    expect(() => withCheckpointWeights(recipe({ dtype: 'int4', group_size: 64 }), raw, 'q/config.json')).toThrow(/int4 group size 64 was asked of a gptq checkpoint quantized in groups of 128; ask for 128 or leave it out/);
    const plain = recipe({ dtype: 'bf16' });
    expect(withCheckpointWeights(plain, LLAMA_TINY, 'q/config.json')).toBe(plain);
  });

  it('names a packed qweight tensor found where a projection weight should be', async () => {
    const config = parseModelConfig(LLAMA_TINY);
    const tensors = randomModelTensors(config, { dtype: 'f32', seed: 1 }).map((tensor) =>
      tensor.name === 'model.layers.0.self_attn.q_proj.weight' ? { name: 'model.layers.0.self_attn.q_proj.qweight', dtype: 'I32' as const, shape: [4, 32], data: new Uint8Array(4 * 32 * 4) } : tensor,
    );
    const blob = writeSafetensors(tensors, { format: 'pt' });
    const files: ModelFiles = { label: 'gptq model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
    await expect(locateWeights(files, config)).rejects.toThrow(/tensor "model\.layers\.0\.self_attn\.q_proj\.qweight" \(I32\) is a GPTQ\/AWQ packed weight, but config\.json has no quantization_config saying how it is packed/);
  });
});
