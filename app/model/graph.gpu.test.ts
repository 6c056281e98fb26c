import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { relativeError } from '../util/numeric.ts';
import { Generator } from './generate.ts';
import { sequenceLogits } from './logits.ts';
import { verifyEngine } from './verify.ts';
import { filesFromDirectory } from './node-source.ts';
import { loadTokenizer } from './tokenizer.ts';
import { uploadModel, type GpuModel } from './gpu-model.ts';
import { initLoraAdapter, loraScale, type LoraAdapter } from './lora.ts';
import { uploadLora } from './lora-gpu.ts';
import { referenceLogits, type ReferenceWeights } from './reference.ts';
import { Random } from '../util/random.ts';

let ctx: GpuContext;
let model: GpuModel;
let reference: ReferenceWeights;
let fixtureDir: string;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  const fixture = await loadFixtureModel();
  reference = fixture.reference;
  fixtureDir = fixture.dir;
  model = await uploadModel(ctx, fixture.config, fixture.weights);
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});

/** Logits [T, V] of one sequence through the GPU graph. */
async function gpuLogits(ids: number[], lora?: LoraAdapter): Promise<Float32Array> {
  const gpuLora = lora ? uploadLora(ctx, lora, { training: false }) : undefined;
  try {
    return await sequenceLogits(ctx, model, ids, gpuLora);
  } finally {
    gpuLora?.destroy();
  }
}

const PROMPT = [1, 319, 459, 355, 260, 275, 429, 339, 315, 42, 7, 100, 200, 300, 400, 500, 3];

describe('decoder graph on the real aidreams260K model', () => {
  it('gives the Float64 reference’s logits to 1e-4 of their scale', async () => {
    expect(relativeError(await gpuLogits(PROMPT), referenceLogits(reference, PROMPT))).toBeLessThan(1e-4);
  });

  it('leaves the logits unchanged with a fresh LoRA adapter (B = 0)', async () => {
    const adapter = initLoraAdapter(model.config, { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], rslora: false }, 1);
    expect(Array.from(await gpuLogits(PROMPT, adapter))).toEqual(Array.from(await gpuLogits(PROMPT)));
  });

  it('matches the reference with a trained-looking LoRA adapter on every projection', async () => {
    const config = { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const, rslora: false };
    const adapter = initLoraAdapter(model.config, { ...config, targets: [...config.targets] }, 2);
    const random = Random.fromSeed(9);
    for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.05, 0.05);
    const want = referenceLogits(reference, PROMPT, { scale: loraScale(adapter.config), r: 4, pairs: adapter.pairs });
    expect(relativeError(await gpuLogits(PROMPT, adapter), want)).toBeLessThan(1e-4);
    expect(relativeError(want, referenceLogits(reference, PROMPT))).toBeGreaterThan(1e-3);
  });
});

describe('generation with a KV cache on the real model', () => {
  it('decodes greedily from BOS the ids the fixture README lists', async () => {
    const generator = new Generator(ctx, model);
    const result = await generator.generate([1], { maxNewTokens: 8 });
    generator.destroy();
    expect(result.ids).toEqual([319, 459, 355, 260, 275, 429, 339, 315]);
    expect(result.stopReason).toBe('max-new-tokens');
  });

  it('gives the same tokens as the Float64 reference, step by step, for 24 tokens after a prompt', async () => {
    const prompt = [1, 319, 459, 355];
    const generator = new Generator(ctx, model);
    const { ids } = await generator.generate(prompt, { maxNewTokens: 24 });
    generator.destroy();
    const sequence = [...prompt];
    const V = model.config.vocabSize;
    for (let i = 0; i < 24; i++) {
      const logits = referenceLogits(reference, sequence).subarray((sequence.length - 1) * V);
      sequence.push(logits.indexOf(Math.max(...logits)));
    }
    expect(ids).toEqual(sequence.slice(prompt.length));
  });

  it('reproduces a sampled generation from its seed, streams text, and stops at EOS or at a stop string', async () => {
    const generator = new Generator(ctx, model);
    const first = await generator.generate([1], { maxNewTokens: 12, temperature: 0.9, topP: 0.9, seed: 5 });
    const again = await generator.generate([1], { maxNewTokens: 12, temperature: 0.9, topP: 0.9, seed: 5 });
    expect(again.ids).toEqual(first.ids);
    const stopped = await generator.generate([1], { maxNewTokens: 12, eosIds: [459] });
    expect(stopped).toMatchObject({ ids: [319], stopReason: 'eos' });
    const tokenizer = await loadTokenizer(await filesFromDirectory(fixtureDir), model.config);
    const deltas: string[] = [];
    const byString = await generator.generate([1], { maxNewTokens: 12, stopStrings: [' of'], decode: (ids) => tokenizer.decode(ids), onToken: (_, delta) => deltas.push(delta) });
    expect(byString).toMatchObject({ text: '"Echoes', stopReason: 'stop-string' });
    expect(deltas.join('')).toBe('"Echoes of');
    generator.destroy();
  });
});

describe('verify engine against ONNX Runtime', () => {
  it('finds our logits within 1e-4 of ONNX Runtime on onnx/model.onnx, with the same top tokens', async () => {
    const onnx = new Uint8Array(await readFile(`${fixtureDir}/onnx/model.onnx`));
    const check = await verifyEngine(ctx, model, onnx, PROMPT);
    expect(check).toMatchObject({ tokens: PROMPT.length, argmaxDisagreements: 0, passed: true });
    expect(check.relativeDifference).toBeLessThan(1e-4);
  });
});
