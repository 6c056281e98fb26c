import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { expectedWeights, parameterCount, parseModelConfig } from './config.ts';
import { ropeInverseFrequencies } from '../gpu/reference/rope.ts';

const readConfig = async (path: string) => JSON.parse(await readFile(fixturePath(path), 'utf8')) as Record<string, unknown>;

describe('model configs', () => {
  it('reads the real tiny Llama: 4 layers, 4 heads of 16, tied embeddings', async () => {
    const config = parseModelConfig(await readConfig('models/aidreams260K/config.json'));
    expect(config).toMatchObject({ architecture: 'LlamaForCausalLM', hiddenSize: 64, numLayers: 4, numHeads: 4, numKvHeads: 4, headDim: 16, tieWordEmbeddings: true, qkvBias: false, eosTokenIds: [2] });
  });

  it('counts SmolLM2-135M at its published 134,515,008 parameters', async () => {
    expect(parameterCount(parseModelConfig(await readConfig('configs/SmolLM2-135M.config.json')))).toBe(134_515_008);
  });

  it('gives Qwen2 q/k/v biases and counts Qwen2.5-0.5B at 494,032,768 parameters', async () => {
    const config = parseModelConfig(await readConfig('configs/Qwen2.5-0.5B.config.json'));
    expect(config.qkvBias).toBe(true);
    expect(config.oBias).toBe(false);
    expect(expectedWeights(config).some((w) => w.name === 'model.layers.0.self_attn.k_proj.bias' && w.shape[0] === 128)).toBe(true);
    expect(parameterCount(config)).toBe(494_032_768);
  });

  it('counts Qwen3-0.6B at its published 0.44B non-embedding parameters (0.6B with the tied embedding)', async () => {
    const config = parseModelConfig(await readConfig('configs/Qwen3-0.6B.config.json'));
    expect(expectedWeights(config).find((w) => w.name === 'model.layers.0.self_attn.q_norm.weight')!.shape).toEqual([128]);
    expect(parameterCount(config)).toBe(596_049_920);
    expect(parameterCount(config) - 151_936 * 1024).toBe(440_467_456);
  });

  it('refuses an unsupported architecture, listing the supported ones', () => {
    expect(() => parseModelConfig({ architectures: ['GPT2LMHeadModel'] })).toThrow(/"GPT2LMHeadModel" is not supported\. Supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM/);
  });

  it('names the field when a required number is missing', () => {
    expect(() => parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 64 }, 'my/config.json')).toThrow(/my\/config\.json: "num_attention_heads" must be a positive integer, got undefined/);
  });

  it('takes head_dim from the config when it is given', () => {
    const config = parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 64, num_attention_heads: 2, head_dim: 48, intermediate_size: 8, num_hidden_layers: 1, vocab_size: 10 });
    expect(config.headDim).toBe(48);
    expect(expectedWeights(config).find((w) => w.name.endsWith('q_proj.weight'))!.shape).toEqual([96, 64]);
  });

  it('reads Llama 3 rope_scaling', () => {
    const config = parseModelConfig({
      architectures: ['LlamaForCausalLM'], hidden_size: 2048, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 8192, num_hidden_layers: 16, vocab_size: 128256,
      rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    expect(config.ropeScaling).toEqual({ ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });
});

describe('RoPE inverse frequencies', () => {
  it('are 1/theta^(2i/d) without scaling', () => {
    const inverse = ropeInverseFrequencies({ headDim: 8, partialRotaryFactor: 1, ropeTheta: 10000, ropeScaling: null });
    expect(Array.from(inverse)).toEqual([1, 10000 ** -0.25, 10000 ** -0.5, 10000 ** -0.75]);
  });

  it('rotate only the partial rotary dims', () => {
    expect(ropeInverseFrequencies({ headDim: 64, partialRotaryFactor: 0.5, ropeTheta: 10000, ropeScaling: null }).length).toBe(16);
  });

  it('follow Llama 3 scaling: high frequencies kept, low divided by factor, the middle interpolated', () => {
    const scaling = { ropeType: 'llama3' as const, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
    const inverse = ropeInverseFrequencies({ headDim: 64, partialRotaryFactor: 1, ropeTheta: 500000, ropeScaling: scaling });
    const plain = (i: number) => 1 / 500000 ** ((2 * i) / 64);
    // i = 0: wavelength 2π < 8192/4 → kept.
    expect(inverse[0]).toBe(plain(0));
    // i = 31: wavelength 2π·500000^(62/64) ≈ 2.1e6 > 8192 → divided by 32.
    expect(inverse[31]).toBeCloseTo(plain(31) / 32, 15);
    // i = 12: wavelength 2π·500000^(24/64) ≈ 855 < 2048 → kept; i = 16: ≈ 4 431, between 2048 and 8192 → smoothed.
    expect(inverse[12]).toBe(plain(12));
    const wavelength = (2 * Math.PI) / plain(16);
    const smooth = (8192 / wavelength - 1) / (4 - 1);
    expect(inverse[16]).toBeCloseTo((1 - smooth) * (plain(16) / 32) + smooth * plain(16), 15);
    expect(wavelength).toBeGreaterThan(2048);
    expect(wavelength).toBeLessThan(8192);
  });
});
