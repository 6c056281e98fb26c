import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import type { TokenizedExample } from '../app/data/tokenize/types.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { expectedWeights, parseModelConfig, type LoraTarget, type ModelConfig } from '../app/model/config.ts';
import { uploadModel, type GpuModel } from '../app/model/gpu-model.ts';
import { initLoraAdapter, loraPairKey, loraScale, type LoraAdapter } from '../app/model/lora.ts';
import { referenceHiddenStates, type ReferenceLora } from '../app/model/reference.ts';
import { writeSafetensors, type TensorToWrite } from '../app/model/safetensors.ts';
import type { ModelFiles } from '../app/model/source.ts';
import { locateWeights } from '../app/model/weights.ts';
import { buildTrainingBatch, IGNORE_INDEX, type HostBatch } from '../app/train/batch.ts';
import { Random } from '../app/util/random.ts';
import { fixturePath } from './fixtures.ts';
import { graphStep, type GraphStep } from './graph-step.ts';

/**
 * Random-weight models at a published config's dimensions (layers cut down, every other size as published), and
 * the check of one training step against the Float64 reference: the loss, and the LoRA gradient along a random
 * direction per target against central finite differences of the reference loss.
 *
 * Sized for CI on SwiftShader: frozen weights bf16 as published; random values are slices of one pool of 2^20
 * normal draws at random offsets (each row is a different slice), so no Float32 copy of a table is ever made; the
 * reference keeps the layers' weights as Float32 (exact for bf16), the vocabulary table as its bf16 bits, and reads
 * only the embedding rows the tokens use; few tokens, one or two labelled; every probe's final hidden states are
 * projected onto the vocabulary in one pass over the table.
 */
export const readPublishedConfig = async (name: string) => JSON.parse(await readFile(fixturePath(`configs/${name}.config.json`), 'utf8')) as Record<string, unknown>;

const STD = 0.02;

type Bits = Map<string, { shape: number[]; bits: Uint16Array }>;

/** bf16 bits of every weight: norms 1 (Gemma's x·(1 + w) norms 0, the same scale), the rest slices of a pool of normal(0, STD) draws. */
function publishedWeights(config: ModelConfig, seed: number): Bits {
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
  const unitNorm = config.gemma ? 0 : 0x3f80;
  const weights: Bits = new Map();
  for (const { name, shape } of expectedWeights(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(count);
    if (name.endsWith('norm.weight')) bits.fill(unitNorm);
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

export interface PublishedModel {
  config: ModelConfig;
  gpu: GpuModel;
  weights: Bits;
  /** The layers' weights, norms and biases as Float32 (exact), for referenceHiddenStates. */
  layerTensors: Map<string, Float32Array>;
}

/** A random bf16 model of `raw` (a published config.json, already cut down by the caller), uploaded as the engine loads a checkpoint. */
export async function publishedModel(ctx: GpuContext, raw: Record<string, unknown>, seed: number): Promise<PublishedModel> {
  const config = parseModelConfig(raw);
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
 * The config the reference runs for a bf16 checkpoint: Gemma's embedding scale √C rounded to bf16, as
 * transformers' Gemma3TextScaledWordEmbedding multiplies by `embed_scale.to(self.weight.dtype)` (√640 = 25.298
 * becomes 25.25). The exact scale would differ from the model by 0.2% in the residual stream.
 */
function asStoredInBf16(config: ModelConfig): ModelConfig {
  if (!config.gemma) return config;
  const wide = new Float32Array([config.gemma.embeddingScale]);
  const bits = new Uint32Array(wide.buffer);
  bits[0] = ((bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) >>> 16) << 16;
  return { ...config, gemma: { ...config.gemma, embeddingScale: wide[0]! } };
}

/**
 * The Float64 reference's mean loss of the batch's one sequence at each LoRA in `loras`: hidden states from
 * referenceHiddenStates (the embedding rows the tokens use, ids renumbered into them), then every probe's
 * labelled rows against the whole bf16 vocabulary table in one pass (soft-capped when the config says so).
 */
function referenceLosses(model: PublishedModel, batch: HostBatch, loras: ReferenceLora[], startPosition: number): number[] {
  const { hiddenSize: C, vocabSize: V, finalLogitSoftcapping: cap } = model.config;
  const T = batch.spans[0]!.length;
  const ids = Array.from(batch.ids.subarray(0, T));
  const used = [...new Set(ids)];
  const table = model.weights.get('model.embed_tokens.weight')!.bits;
  const rows = new Float32Array(used.length * C);
  used.forEach((id, i) => rows.set(bf16ToFloat32(table.subarray(id * C, (id + 1) * C)), i * C));
  const reference = { config: asStoredInBf16(model.config), tensors: new Map<string, Float64Array | Float32Array>([...model.layerTensors, ['model.embed_tokens.weight', rows]]) };
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
        logits[p]![r]![v] = cap ? cap * Math.tanh(sum / cap) : sum;
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

export interface PublishedLora {
  targets: LoraTarget[];
  adapter: LoraAdapter;
  float64: ReferenceLora;
}

/** A rank-2 LoRA on `targets` with B uniform in ±0.05 (PEFT's zero B would leave A without a gradient). */
export function publishedLora(config: ModelConfig, targets: LoraTarget[], seed: number): PublishedLora {
  const adapter = initLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, targets, rslora: false }, seed);
  const random = Random.fromSeed(seed + 1);
  for (const pair of adapter.pairs.values()) random.fillUniform(pair.b, -0.05, 0.05);
  const pairs = new Map([...adapter.pairs].map(([key, pair]) => [key, { a: Float64Array.from(pair.a), b: Float64Array.from(pair.b) }]));
  return { targets, adapter, float64: { scale: loraScale(adapter.config), r: 2, pairs } };
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

/** Declares the step check of `model` with `lora` (first layer's targets), `labelled` of 4 tokens labelled, from `startPosition`. */
export function checkPublishedStep(ctx: () => GpuContext, model: () => PublishedModel, lora: () => PublishedLora, labelled: number, startPosition: number): void {
  const H = 1e-3;
  it(`loss and LoRA gradients along a random direction per target equal the Float64 reference and its central differences (positions ${startPosition}..)`, async () => {
    const { config, gpu } = model();
    const { targets, adapter, float64 } = lora();
    const batch = buildTrainingBatch([{ task: 0, example: example(config.vocabSize, 4, labelled, 91 + startPosition) }], 4, false);
    const step: GraphStep = await graphStep(ctx(), gpu, adapter, batch, { positionOffset: startPosition });
    const keys = targets.map((target) => loraPairKey(0, target));
    const probes = keys.map((key, i) => probe(float64, key, 101 + i));
    const losses = referenceLosses(model(), batch, [float64, ...probes.flatMap((p) => [p.at(H), p.at(-H)])], startPosition);
    expect(Math.abs(step.loss - losses[0]!) / losses[0]!, 'loss').toBeLessThan(1e-5);
    const compared = probes.map(({ direction }, i) => {
      const numeric = (losses[1 + 2 * i]! - losses[2 + 2 * i]!) / (2 * H);
      const gradient = step.gradients.get(keys[i]!)!;
      let analytic = 0;
      for (const part of ['a', 'b'] as const) for (let j = 0; j < direction[part].length; j++) analytic += gradient[part][j]! * direction[part][j]!;
      return { key: keys[i]!, analytic, numeric };
    });
    const report = compared.map(({ key, analytic, numeric }) => `${key}: GPU ${analytic}, finite differences ${numeric}`).join('; ');
    for (const { numeric } of compared) expect(Math.abs(numeric), `a directional derivative to compare (${report})`).toBeGreaterThan(1e-7);
    for (const { analytic, numeric } of compared) expect(Math.abs(analytic - numeric) / Math.abs(numeric), report).toBeLessThan(5e-3);
    // Tens of seconds on an idle 2-core CI runner; the limit leaves room for a machine shared with other jobs.
  }, 360_000);
}
