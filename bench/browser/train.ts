/**
 * The browser half of `npm run bench:train`: one optimizer step (forward, loss, backward, AdamW) of a
 * random-weight model with LoRA on all seven projections, by our engine (the studio's Trainer, bf16
 * frozen weights) and by the same LoRA step written with TF.js's WebGPU backend (frozen weights as f32
 * tensors, TF.js has no bf16; LoRA A and B as variables; the same mean cross-entropy over labelled
 * positions; global-norm clipping and AdamW with decoupled weight decay), both on ONE GPUDevice in this
 * page. Each engine runs a warm-up step (pipelines compiled, buffers allocated), then `runs` timed
 * steps; the median is kept. Our step is counted by bench/browser/gpu-counters.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
// Tensor methods (x.add(y), x.reshape(...)) and their types.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
// Gradients of every op, for tf.variableGrads.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { acquireGpu, type GpuContext } from '../../app/gpu/device.ts';
import { loraTargetsOf, parseModelConfig, type LoraTarget, type ModelConfig } from '../../app/model/config.ts';
import { uploadModel } from '../../app/model/gpu-model.ts';
import { projectionShape } from '../../app/model/lora.ts';
import { randomModelTensors } from '../../app/model/random-model.ts';
import { writeSafetensors } from '../../app/model/safetensors.ts';
import type { ModelFiles } from '../../app/model/source.ts';
import { locateWeights } from '../../app/model/weights.ts';
import { parseRecipe } from '../../app/train/recipe.ts';
import type { PreparedTask } from '../../app/train/task-data.ts';
import { Trainer } from '../../app/train/trainer.ts';
import { Random } from '../../app/util/random.ts';
import { median } from '../kernel-products.ts';
import { installGpuCounter, type GpuCounts } from './gpu-counters.ts';

export interface TrainBenchOptions {
  /** The model's config.json, parsed by the studio's rules. */
  config: unknown;
  B: number;
  T: number;
  runs: number;
  rank: number;
}

export interface EngineStep {
  /** Median ms of the timed steps. */
  ms: number;
  /** Loss of the first step (about ln V for random weights). */
  firstLoss: number;
}

export interface TrainBenchResult {
  adapter: string;
  features: string[];
  isFallbackAdapter: boolean;
  tfjsVersion: string;
  /** counts: what one timed step of ours asked of WebGPU (one micro-batch: grad_accum 1). */
  ours: EngineStep & { counts: GpuCounts };
  tfjs: EngineStep;
}

declare global {
  interface Window {
    trainBench(options: TrainBenchOptions): Promise<TrainBenchResult>;
  }
}

const counter = installGpuCounter();
const LR = 1e-3;
const BETAS: [number, number] = [0.9, 0.999];
const EPS = 1e-8;
const WEIGHT_DECAY = 0.01;
const CLIP = 1;

/** B examples of T random token ids, every position after the first labelled with the next id. */
function randomExamples(config: ModelConfig, B: number, T: number): PreparedTask['train'] {
  const random = Random.fromSeed(7);
  return Array.from({ length: B }, (_, row) => {
    const ids = Int32Array.from({ length: T }, () => Math.floor(random.next() * config.vocabSize));
    const labels = ids.map((id, t) => (t === 0 ? -100 : id));
    return { source: { row: row + 1 }, inputIds: ids, labels, turnIndex: new Int32Array(T).fill(-1), roles: [], truncatedTokens: 0 };
  });
}

async function oursSteps(gpu: GpuContext, config: ModelConfig, options: TrainBenchOptions, examples: PreparedTask['train']): Promise<TrainBenchResult['ours']> {
  const blob = writeSafetensors(randomModelTensors(config, { dtype: 'bf16', seed: 0 }), { format: 'pt' });
  const files: ModelFiles = { label: 'random model', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  const model = await uploadModel(gpu, config, await locateWeights(files, config));
  const task: PreparedTask = { name: 'random', role: 'task', metric: 'loss', train: examples, validation: examples.slice(0, 1), validationPrompts: [], meanTokens: options.T };
  const recipe = parseRecipe({
    model: { source: 'random SmolLM2-135M' },
    tasks: [{ name: 'random', source: { file: 'random.jsonl' }, format: 'text' }],
    lora: { r: options.rank, alpha: 2 * options.rank, dropout: 0, targets: loraTargetsOf(config) },
    optimizer: { lr: LR, betas: BETAS, eps: EPS, weight_decay: WEIGHT_DECAY },
    schedule: { kind: 'constant', warmup_steps: 0 },
    batch_size: options.B,
    grad_accum: 1,
    max_length: options.T,
    clip: CLIP,
    recompute: false,
    steps: 1 + options.runs,
    seed: 1,
  });
  const trainer = await Trainer.create(gpu, model, [task], recipe, { runId: 'bench' });
  try {
    const firstLoss = (await trainer.trainStep()).loss;
    const times: number[] = [];
    let counts: GpuCounts | undefined;
    for (let run = 0; run < options.runs; run++) {
      counter.start();
      const start = performance.now();
      await trainer.trainStep();
      times.push(performance.now() - start);
      const measured = await counter.stop(gpu.device);
      // The median run's counts would need all of them kept; the step's work is the same every run.
      counts ??= measured;
    }
    return { ms: median(times), firstLoss, counts: counts! };
  } finally {
    trainer.destroy();
    model.destroy();
  }
}

/** The same LoRA step in TF.js: a Llama decoder (RMSNorm, RoPE, grouped-query causal attention, SwiGLU), tied LM head. */
async function tfjsSteps(config: ModelConfig, options: TrainBenchOptions, examples: PreparedTask['train']): Promise<TrainBenchResult['tfjs']> {
  const { B, T, rank } = options;
  const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, numLayers: L, vocabSize: V, rmsNormEps, ropeTheta } = config;
  const N = B * T;
  // The Llama layout (separate q/k/v/o, gate/up/down) that SmolLM2 has.
  const TARGETS = loraTargetsOf(config);
  if (TARGETS.includes('qkv_proj')) throw new Error('the TF.js step is written for separate q/k/v and gate/up projections');
  const scale = 2; // lora_alpha / r with alpha = 2r, as ours
  const frozen = (shape: [number, number]): tf.Tensor2D => tf.randomNormal(shape, 0, 0.02, 'float32') as tf.Tensor2D;
  const embed = frozen([V, C]);
  const layers = Array.from({ length: L }, () => ({
    inputNorm: tf.ones([C]) as tf.Tensor1D,
    postNorm: tf.ones([C]) as tf.Tensor1D,
    weights: Object.fromEntries(TARGETS.map((target) => [target, frozen([projectionShape(config, target).outFeatures, projectionShape(config, target).inFeatures])])) as Record<LoraTarget, tf.Tensor2D>,
    lora: Object.fromEntries(
      TARGETS.map((target) => {
        const { inFeatures, outFeatures } = projectionShape(config, target);
        const bound = Math.sqrt(6 / ((1 + 5) * inFeatures)) * Math.sqrt(5 / 3);
        // PEFT's init (A Kaiming-uniform, B zero) would leave B's gradient the only nonzero one at step 1; small B keeps every product live.
        return [target, { a: tf.variable(tf.randomUniform([rank, inFeatures], -bound, bound)), b: tf.variable(tf.randomUniform([outFeatures, rank], -1e-3, 1e-3)) }];
      }),
    ) as Record<LoraTarget, { a: tf.Variable; b: tf.Variable }>,
  }));
  const finalNorm = tf.ones([C]) as tf.Tensor1D;
  const variables = layers.flatMap((layer) => TARGETS.flatMap((target) => [layer.lora[target].a, layer.lora[target].b]));
  const moments = variables.map((v) => ({ m: tf.variable(tf.zerosLike(v), false), v: tf.variable(tf.zerosLike(v), false) }));
  const ids = tf.tensor1d(examples.flatMap((e) => [...e.inputIds]), 'int32');
  // Position t predicts the label at t + 1; the last position of each row predicts nothing.
  const nextLabels = examples.flatMap((e) => [...e.labels.slice(1), -100]);
  const labelMask = tf.tensor1d(nextLabels.map((label) => (label >= 0 ? 1 : 0)), 'float32');
  const labelIds = tf.tensor1d(nextLabels.map((label) => Math.max(label, 0)), 'int32');
  const labelCount = nextLabels.filter((label) => label >= 0).length;
  const inverseFrequencies = Array.from({ length: D / 2 }, (_, i) => 1 / ropeTheta ** ((2 * i) / D));
  const angles = tf.tensor2d(Array.from({ length: T }, (_, t) => inverseFrequencies.map((f) => t * f)), [T, D / 2]);
  const cos = tf.concat([tf.cos(angles), tf.cos(angles)], 1).reshape([1, 1, T, D]);
  const sin = tf.concat([tf.sin(angles), tf.sin(angles)], 1).reshape([1, 1, T, D]);
  const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0).sub(1).mul(1e9).reshape([1, 1, T, T]);

  const rmsNorm = (x: tf.Tensor2D, weight: tf.Tensor1D): tf.Tensor2D => x.mul(tf.rsqrt(x.square().mean(1, true).add(rmsNormEps))).mul(weight) as tf.Tensor2D;
  const linear = (x: tf.Tensor2D, layer: (typeof layers)[number], target: LoraTarget): tf.Tensor2D => {
    const { a, b } = layer.lora[target];
    return tf.matMul(x, layer.weights[target], false, true).add(tf.matMul(tf.matMul(x, a, false, true), b, false, true).mul(scale)) as tf.Tensor2D;
  };
  const heads = (x: tf.Tensor2D, count: number): tf.Tensor4D => x.reshape([B, T, count, D]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const rope = (x: tf.Tensor4D): tf.Tensor4D => {
    const [x1, x2] = tf.split(x, 2, 3);
    return x.mul(cos).add(tf.concat([x2!.neg(), x1!], 3).mul(sin)) as tf.Tensor4D;
  };
  // Query head h reads key/value head floor(h / (H / Hkv)), as Llama's repeat_kv.
  const kvHeadOf = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / Hkv))), 'int32');
  const repeatKv = (x: tf.Tensor4D): tf.Tensor4D => (H === Hkv ? x : (tf.gather(x, kvHeadOf, 1) as tf.Tensor4D));
  const loss = (): tf.Scalar => {
    let x = tf.gather(embed, ids) as tf.Tensor2D;
    for (const layer of layers) {
      const h = rmsNorm(x, layer.inputNorm);
      const q = rope(heads(linear(h, layer, 'q_proj'), H));
      const k = repeatKv(rope(heads(linear(h, layer, 'k_proj'), Hkv)));
      const v = repeatKv(heads(linear(h, layer, 'v_proj'), Hkv));
      const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(D)).add(causal);
      const attended = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([N, H * D]) as tf.Tensor2D;
      x = x.add(linear(attended, layer, 'o_proj'));
      const h2 = rmsNorm(x, layer.postNorm);
      const gate = linear(h2, layer, 'gate_proj');
      x = x.add(linear(gate.mul(tf.sigmoid(gate)).mul(linear(h2, layer, 'up_proj')) as tf.Tensor2D, layer, 'down_proj'));
    }
    const logits = tf.matMul(rmsNorm(x, finalNorm), embed, false, true);
    const logProbabilities = tf.logSoftmax(logits);
    const picked = logProbabilities.mul(tf.oneHot(labelIds, V)).sum(1);
    return picked.mul(labelMask).sum().neg().div(labelCount) as tf.Scalar;
  };
  let t = 0;
  const step = async (): Promise<number> => {
    t++;
    const value = tf.tidy(() => {
      const { value: lossValue, grads } = tf.variableGrads(loss, variables);
      const gradients = variables.map((variable) => grads[variable.name]!);
      // One sum at a time: tf.addN binds every input at once, past the 10 storage buffers a stage may have.
      const norm = tf.sqrt(gradients.map((g) => g.square().sum()).reduce((sum, term) => sum.add(term)));
      const clip = tf.minimum(tf.scalar(1), tf.scalar(CLIP).div(norm.add(1e-6)));
      const [beta1, beta2] = BETAS;
      for (const [i, variable] of variables.entries()) {
        const g = gradients[i]!.mul(clip);
        const { m, v } = moments[i]!;
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
        const update = m.div(1 - beta1 ** t).div(v.div(1 - beta2 ** t).sqrt().add(EPS));
        variable.assign(variable.sub(update.add(variable.mul(WEIGHT_DECAY)).mul(LR)));
      }
      return lossValue;
    });
    // Reading the loss waits for the whole step, as reading ours does.
    const result = (await value.data())[0]!;
    value.dispose();
    return result;
  };
  try {
    const firstLoss = await step();
    const times: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const start = performance.now();
      await step();
      times.push(performance.now() - start);
    }
    return { ms: median(times), firstLoss };
  } finally {
    tf.dispose([embed, finalNorm, kvHeadOf, ids, labelMask, labelIds, angles, cos, sin, causal, ...variables, ...moments.flatMap((x) => [x.m, x.v])]);
    for (const layer of layers) tf.dispose([layer.inputNorm, layer.postNorm, ...Object.values(layer.weights)]);
  }
}

async function trainBench(options: TrainBenchOptions): Promise<TrainBenchResult> {
  const gpu = await acquireGpu(navigator.gpu, { label: 'bench train' });
  const { adapter } = gpu.info;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, { vendor: adapter.vendor, architecture: adapter.architecture } as GPUAdapterInfo));
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend on our device');
  const config = parseModelConfig(options.config);
  const examples = randomExamples(config, options.B, options.T);
  const ours = await oursSteps(gpu, config, options, examples);
  const tfjs = await tfjsSteps(config, options, examples);
  return {
    adapter: [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' '),
    features: gpu.info.features,
    isFallbackAdapter: adapter.isFallbackAdapter,
    tfjsVersion: tf.version_core,
    ours,
    tfjs,
  };
}

window.trainBench = trainBench;
