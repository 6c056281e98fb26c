import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { graphStep, type GraphStep } from '../../test/graph-step.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../train/batch.ts';
import { Random } from '../util/random.ts';
import { expectedWeights, parseModelConfig, type LoraTarget, type ModelConfig } from './config.ts';
import { uploadModel, type GpuModel } from './gpu-model.ts';
import { initLoraAdapter, loraPairKey, loraScale, type LoraAdapter } from './lora.ts';
import { referenceHiddenStates, type ReferenceLora } from './reference.ts';
import { writeSafetensors, type TensorToWrite } from './safetensors.ts';
import type { ModelFiles } from './source.ts';
import { locateWeights } from './weights.ts';

/**
 * Phi-3-mini-4k-instruct and Phi-4-mini-instruct at their published dimensions (one layer of 32; every other
 * size as published: hidden 3072, MLP 8192, head_dim 96 / 128, GQA 32/32 and 24/8, partial rotary, Phi-3's
 * vocabulary of 32,064; Phi-4-mini's 200,064 cut to 32,064, see below) with LoRA on qkv_proj, o_proj, gate_up_proj and down_proj: the loss and the LoRA
 * gradients of one training step against the Float64 reference, the gradients along a random direction per
 * target against central finite differences of the reference loss. Phi-4-mini also past its
 * original_max_position_embeddings (positions 5000..), where LongRoPE's long factors and attention factor apply.
 *
 * Sized for CI on SwiftShader: frozen weights bf16 as published; random values are slices of one pool of 2^20 normal draws at random offsets (each row
 * is a different slice), so no Float32 copy of a table is ever made; the reference keeps the layer's weights
 * as Float32 (exact for bf16), the vocabulary table as its bf16 bits, and reads only the embedding rows the
 * tokens use; few tokens, one or two labelled; every probe's final hidden states are projected onto the
 * vocabulary in one pass over the table.
 */
const readConfig = async (name: string) => JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')) as Record<string, unknown>;
const TARGETS: LoraTarget[] = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'];
const STD = 0.02;

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

/** bf16 bits of every weight: norms 1, the rest slices of a pool of normal(0, STD) draws. */
function publishedWeights(config: ModelConfig, seed: number): Map<string, { shape: number[]; bits: Uint16Array }> {
  const random = Random.fromSeed(seed);
  const POOL = 1 << 20;
  const SLICE = 4096;
  const pool = new Uint16Array(POOL);
  const wide = new Float32Array(1);
  const wideBits = new Uint32Array(wide.buffer);
  for (let i = 0; i < POOL; i++) {
    wide[0] = Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next()) * STD;
    // Round to nearest even into bf16.
    pool[i] = (wideBits[0]! + 0x7fff + ((wideBits[0]! >>> 16) & 1)) >>> 16;
  }
  const weights = new Map<string, { shape: number[]; bits: Uint16Array }>();
  for (const { name, shape } of expectedWeights(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(count);
    if (name.endsWith('norm.weight')) bits.fill(0x3f80);
    else for (let at = 0; at < count; at += SLICE) {
      const start = random.int(POOL - SLICE);
      bits.set(pool.subarray(start, start + Math.min(SLICE, count - at)), at);
    }
    weights.set(name, { shape, bits });
  }
  return weights;
}

const bf16ToFloat32 = (bits: Uint16Array): Float32Array => {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16;
  return out;
};

interface Published {
  config: ModelConfig;
  gpu: GpuModel;
  weights: Map<string, { shape: number[]; bits: Uint16Array }>;
  /** The layer's weights, norms and biases as Float32 (exact), for referenceHiddenStates. */
  layerTensors: Map<string, Float32Array>;
}

async function published(raw: Record<string, unknown>, seed: number): Promise<Published> {
  const config = parseModelConfig({ ...raw, num_hidden_layers: 1 });
  const weights = publishedWeights(config, seed);
  const tensors: TensorToWrite[] = [...weights].map(([name, { shape, bits }]) => ({ name, dtype: 'BF16', shape, data: new Uint8Array(bits.buffer as ArrayBuffer) }));
  const blob = writeSafetensors(tensors, { format: 'pt' });
  const files: ModelFiles = { label: 'published-size model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  const gpu = await uploadModel(ctx, config, await locateWeights(files, config));
  const layerTensors = new Map<string, Float32Array>();
  for (const [name, { bits }] of weights) if (name.startsWith('model.layers.') || name === 'model.norm.weight') layerTensors.set(name, bf16ToFloat32(bits));
  return { config, gpu, weights, layerTensors };
}

/** One example of `length` random tokens whose last `labelled` tokens carry a label. */
function example(V: number, length: number, labelled: number, seed: number): TokenizedExample {
  const random = Random.fromSeed(seed);
  const ids = Int32Array.from({ length }, () => random.int(V));
  return { source: { row: 1 }, inputIds: ids, labels: Int32Array.from(ids, (id, t) => (t >= length - labelled ? id : IGNORE_INDEX)), turnIndex: new Int32Array(length).fill(-1), roles: [], truncatedTokens: 0 };
}

/**
 * The Float64 reference's mean loss of the batch's one sequence at each LoRA in `loras`: hidden states from
 * referenceHiddenStates (the embedding rows the tokens use, ids renumbered into them), then every probe's
 * labelled rows against the whole bf16 vocabulary table in one pass.
 */
function referenceLosses(model: Published, batch: HostBatch, loras: ReferenceLora[], startPosition: number): number[] {
  const { hiddenSize: C, vocabSize: V } = model.config;
  const T = batch.spans[0]!.length;
  const ids = Array.from(batch.ids.subarray(0, T));
  const used = [...new Set(ids)];
  const table = model.weights.get('model.embed_tokens.weight')!.bits;
  const rows = new Float32Array(used.length * C);
  used.forEach((id, i) => rows.set(bf16ToFloat32(table.subarray(id * C, (id + 1) * C)), i * C));
  const reference = { config: model.config, tensors: new Map<string, Float64Array | Float32Array>([...model.layerTensors, ['model.embed_tokens.weight', rows]]) };
  const labelled = Array.from(batch.targets.subarray(0, T)).flatMap((label, t) => (label === IGNORE_INDEX ? [] : [{ t, label }]));
  const finals = loras.map((lora) => referenceHiddenStates(reference, ids.map((id) => used.indexOf(id)), lora, startPosition).at(-1)!);
  const head = model.config.tieWordEmbeddings ? table : model.weights.get('lm_head.weight')!.bits;
  // logits[probe][row][v], one pass over the table.
  const logits = loras.map(() => labelled.map(() => new Float64Array(V)));
  const row = new Float32Array(C);
  const rowWords = new Uint32Array(row.buffer);
  for (let v = 0; v < V; v++) {
    for (let c = 0; c < C; c++) rowWords[c] = head[v * C + c]! << 16;
    finals.forEach((final, p) =>
      labelled.forEach(({ t }, r) => {
        let sum = 0;
        for (let c = 0; c < C; c++) sum += final[t * C + c]! * row[c]!;
        logits[p]![r]![v] = sum;
      }),
    );
  }
  return logits.map((probe) =>
    probe.reduce((total, values, r) => {
      const max = values.reduce((m, value) => Math.max(m, value), -Infinity);
      const lse = max + Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0));
      return total + (lse - values[labelled[r]!.label]!) / labelled.length;
    }, 0),
  );
}

/** A rank-2 LoRA on the four fused targets with B uniform in ±0.05 (PEFT's zero B would leave A without a gradient). */
function randomPhiLora(config: ModelConfig, seed: number): { adapter: LoraAdapter; float64: ReferenceLora } {
  const adapter = initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets: TARGETS, rslora: false }, seed);
  const random = Random.fromSeed(seed + 1);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.05, 0.05);
  const pairs = new Map([...adapter.pairs].map(([key, pair]) => [key, { a: Float64Array.from(pair.a), b: Float64Array.from(pair.b) }]));
  return { adapter, float64: { scale: loraScale(adapter.config), r: 2, pairs } };
}

/** The LoRA moved by h along a unit random direction over one target's A and B; the direction, for g·d. */
function probe(lora: ReferenceLora, key: string, seed: number): { direction: { a: Float64Array; b: Float64Array }; at: (h: number) => ReferenceLora } {
  const random = Random.fromSeed(seed);
  const pair = lora.pairs.get(key)!;
  const normal = (n: number) => Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next()));
  const a = normal(pair.a.length);
  const b = normal(pair.b.length);
  const norm = Math.sqrt([...a, ...b].reduce((sum, x) => sum + x * x, 0));
  for (const values of [a, b]) for (let i = 0; i < values.length; i++) values[i]! /= norm;
  const at = (h: number): ReferenceLora => ({
    ...lora,
    pairs: new Map([...lora.pairs, [key, { a: pair.a.map((x, i) => x + h * a[i]!), b: pair.b.map((x, i) => x + h * b[i]!) }]]),
  });
  return { direction: { a, b }, at };
}

function checkStep(model: () => Published, lora: () => { adapter: LoraAdapter; float64: ReferenceLora }, labelled: number, startPosition: number): void {
  const H = 1e-3;
  it(`loss and LoRA gradients along a random direction per target equal the Float64 reference and its central differences (positions ${startPosition}..)`, async () => {
    const { config, gpu } = model();
    const { adapter, float64 } = lora();
    const batch = buildTrainingBatch([{ task: 0, example: example(config.vocabSize, 4, labelled, 91 + startPosition) }], 4, false);
    const step: GraphStep = await graphStep(ctx, gpu, adapter, batch, { positionOffset: startPosition });
    const keys = TARGETS.map((target) => loraPairKey(0, target));
    const probes = keys.map((key, i) => probe(float64, key, 101 + i));
    const losses = referenceLosses(model(), batch, [float64, ...probes.flatMap((p) => [p.at(H), p.at(-H)])], startPosition);
    expect(Math.abs(step.loss - losses[0]!) / losses[0]!, 'loss').toBeLessThan(1e-5);
    probes.forEach(({ direction }, i) => {
      const numeric = (losses[1 + 2 * i]! - losses[2 + 2 * i]!) / (2 * H);
      const gradient = step.gradients.get(keys[i]!)!;
      let analytic = 0;
      for (const part of ['a', 'b'] as const) for (let j = 0; j < direction[part].length; j++) analytic += gradient[part][j]! * direction[part][j]!;
      expect(Math.abs(numeric), `${keys[i]} has a directional derivative to compare`).toBeGreaterThan(1e-7);
      expect(Math.abs(analytic - numeric) / Math.abs(numeric), `${keys[i]}: GPU ${analytic}, finite differences ${numeric}`).toBeLessThan(5e-3);
    });
    // Tens of seconds on an idle 2-core CI runner; the limit leaves room for a machine shared with other jobs.
  }, 360_000);
}

describe('Phi-3-mini-4k-instruct at its published dimensions (one layer, vocabulary 32,064)', () => {
  let model: Published | undefined;
  let lora: { adapter: LoraAdapter; float64: ReferenceLora };
  beforeAll(async () => {
    model = await published(await readConfig('Phi-3-mini-4k-instruct'), 81);
    lora = randomPhiLora(model.config, 82);
  }, 360_000);
  // Dropped, not only destroyed: the next model is as large.
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkStep(() => model!, () => lora, 1, 0);
});

/**
 * Phi-4-mini's vocabulary is cut to Phi-3's 32,064 rows: whole, its tied 200,064 × 3072 bf16 table is 1.2 GB,
 * held three times on a CPU adapter (the test's bits, the safetensors file, SwiftShader's device memory), and
 * each probe's head pass is 615M multiply-adds in the reference; the table is only indexed and multiplied, and
 * the 32,064-row product is the one the Phi-3 check runs. Every other dimension is as published.
 */
describe('Phi-4-mini-instruct at its published dimensions (one layer, vocabulary cut to 32,064, LongRoPE)', () => {
  let model: Published | undefined;
  let lora: { adapter: LoraAdapter; float64: ReferenceLora };
  beforeAll(async () => {
    model = await published({ ...(await readConfig('Phi-4-mini-instruct')), vocab_size: 32064 }, 83);
    lora = randomPhiLora(model.config, 84);
  }, 360_000);
  afterAll(() => {
    model?.gpu.destroy();
    model = undefined;
  });

  checkStep(() => model!, () => lora, 1, 0);
  checkStep(() => model!, () => lora, 1, 5000);
});
