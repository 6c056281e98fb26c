/**
 * The router's head and its training on the GPU. Features are standardized with the training set's
 * mean and standard deviation (kept in the head), then a linear layer to the K experts, or a relu
 * hidden layer and a linear one; probabilities are softmax(logits / τ). Trained on the whole
 * balanced set at every step (it is a few thousand rows at most): forward, cross-entropy, backward on
 * the router_head kernels, AdamW on the adamw kernel; every `evalEvery` steps the held-out slice is
 * scored, and training stops once its loss has not improved for `patience` evaluations, keeping the
 * best evaluation's weights.
 */
import { CocktailError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { encodeAdamw, adamwPartialCount, TORCH_ADAMW_DEFAULTS, type AdamwTensor } from '../gpu/ops/adamw.ts';
import { encodeHeadLinear, encodeHeadLinearBackward, encodeHeadSoftmax, type HeadLinear } from '../gpu/ops/router_head.ts';
import { readTensors } from '../gpu/readback.ts';
import { throwGpuErrors, withinErrorScopes } from '../gpu/scope.ts';
import { createIndexTensor, createTensor, type GpuTensor } from '../gpu/tensor.ts';
import { Random } from '../util/random.ts';

export interface HeadLayerWeights {
  /** [outFeatures, inFeatures] */
  w: Float32Array;
  /** [outFeatures] */
  b: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface RouterHead {
  /** Standardization: x' = (x − featureMean) · featureScale, per feature. */
  featureMean: Float32Array;
  featureScale: Float32Array;
  /** [to K] or [to hidden (relu), to K]. */
  layers: HeadLayerWeights[];
  temperature: number;
}

export interface LabelledFeatures {
  /** [N, C] row-major. */
  features: Float32Array;
  /** [N] expert index per row. */
  labels: Int32Array;
}

export interface HeadTrainingOptions {
  experts: number;
  /** Units of a relu hidden layer; none for a linear head. */
  hidden?: number;
  temperature?: number;
  lr?: number;
  weightDecay?: number;
  maxSteps?: number;
  evalEvery?: number;
  /** Evaluations without a better held-out loss before training stops. */
  patience?: number;
  seed?: number;
  signal?: AbortSignal;
  onEvaluation?: (evaluation: HeadEvaluation) => void;
}

export interface HeadEvaluation {
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  heldOutLoss: number;
  heldOutAccuracy: number;
}

export interface HeadTrainingResult {
  head: RouterHead;
  history: HeadEvaluation[];
  /** The step whose weights were kept (lowest held-out loss). */
  bestStep: number;
  stoppedEarly: boolean;
}

export const HEAD_DEFAULTS = { temperature: 1, lr: 1e-2, weightDecay: TORCH_ADAMW_DEFAULTS.weightDecay, maxSteps: 400, evalEvery: 10, patience: 5, seed: 0 } as const;

/** Standard deviations below this are treated as this, so a constant feature is not blown up. */
const MIN_STD = 1e-6;

function standardization(features: Float32Array, C: number): { mean: Float32Array; scale: Float32Array } {
  const N = features.length / C;
  const mean = new Float64Array(C);
  const square = new Float64Array(C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) mean[c]! += features[n * C + c]! / N;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) square[c]! += (features[n * C + c]! - mean[c]!) ** 2 / N;
  return { mean: Float32Array.from(mean), scale: Float32Array.from(square, (value) => 1 / Math.max(Math.sqrt(value), MIN_STD)) };
}

/** Features standardized as the head was trained: (x − mean) · scale. */
export function standardize(head: Pick<RouterHead, 'featureMean' | 'featureScale'>, features: Float32Array): Float32Array {
  const C = head.featureMean.length;
  if (features.length % C !== 0) throw new CocktailError('ROUTER_FEATURE_SIZE', `features of ${features.length} values are not rows of the head's ${C} features`, { values: features.length, features: C });
  return features.map((value, e) => (value - head.featureMean[e % C]!) * head.featureScale[e % C]!);
}

/** nn.Linear's initialisation: weights and biases uniform in ±1/√in. */
function initLayer(random: Random, inFeatures: number, outFeatures: number): HeadLayerWeights {
  const bound = 1 / Math.sqrt(inFeatures);
  return { inFeatures, outFeatures, w: random.fillUniform(new Float32Array(outFeatures * inFeatures), -bound, bound), b: random.fillUniform(new Float32Array(outFeatures), -bound, bound) };
}

/** A layer on the GPU with its gradients and AdamW moments. */
interface TrainedLayer extends HeadLinear {
  dw: GpuTensor;
  db: GpuTensor;
  m: [GpuTensor, GpuTensor];
  v: [GpuTensor, GpuTensor];
}

/** The activations of a forward pass over N rows. */
interface Pass {
  x: GpuTensor;
  labels: GpuTensor;
  hidden?: GpuTensor;
  dHidden?: GpuTensor;
  logits: GpuTensor;
  probs: GpuTensor;
  rowLoss: GpuTensor;
  dz: GpuTensor;
  N: number;
  labelValues: Int32Array;
}

export async function trainRouterHead(ctx: GpuContext, train: LabelledFeatures, heldOut: LabelledFeatures, options: HeadTrainingOptions): Promise<HeadTrainingResult> {
  const settings = { ...HEAD_DEFAULTS, ...options };
  const K = options.experts;
  const C = train.features.length / Math.max(train.labels.length, 1);
  if (train.labels.length === 0 || heldOut.labels.length === 0) throw new CocktailError('ROUTER_NO_EXAMPLES', 'the router needs training and held-out prompts for every expert', {});
  if (!Number.isInteger(C) || heldOut.features.length !== heldOut.labels.length * C) throw new CocktailError('ROUTER_FEATURE_SIZE', `training features are ${C} wide and held-out ones ${heldOut.features.length / heldOut.labels.length}`, {});
  if (options.hidden !== undefined && !(Number.isSafeInteger(options.hidden) && options.hidden >= 0)) {
    throw new CocktailError('BAD_ARGUMENT', `the router's hidden layer must be a whole number of units, 0 for a linear head; got ${options.hidden}`, { field: 'hidden' });
  }
  const { mean, scale } = standardization(train.features, C);
  const random = Random.fromSeed(settings.seed);
  const sizes = options.hidden ? [C, options.hidden, K] : [C, K];
  const initial = sizes.slice(1).map((outFeatures, index) => initLayer(random, sizes[index]!, outFeatures));
  const head: RouterHead = { featureMean: mean, featureScale: scale, layers: initial, temperature: settings.temperature };

  const owned: GpuTensor[] = [];
  const make = (name: string, shape: number[], data?: Float32Array) => {
    const tensor = createTensor(ctx.device, name, shape, 'f32', data);
    owned.push(tensor);
    return tensor;
  };
  const makePass = (name: string, set: LabelledFeatures): Pass => {
    const N = set.labels.length;
    const labels = createIndexTensor(ctx.device, `${name} labels`, [N], 'i32', set.labels);
    owned.push(labels);
    return {
      x: make(`${name} features`, [N, C], standardize(head, set.features)),
      labels,
      ...(options.hidden ? { hidden: make(`${name} hidden`, [N, options.hidden]), dHidden: make(`${name} d hidden`, [N, options.hidden]) } : {}),
      logits: make(`${name} logits`, [N, K]),
      probs: make(`${name} probs`, [N, K]),
      rowLoss: make(`${name} row loss`, [N]),
      dz: make(`${name} dz`, [N, K]),
      N,
      labelValues: set.labels,
    };
  };
  try {
    const layers: TrainedLayer[] = initial.map((layer, index) => {
      const shapes = [[layer.outFeatures, layer.inFeatures], [layer.outFeatures]];
      const zeros = (what: string) => [make(`layer ${index} w ${what}`, shapes[0]!), make(`layer ${index} b ${what}`, shapes[1]!)] as [GpuTensor, GpuTensor];
      const [dw, db] = zeros('grad');
      return { w: make(`layer ${index} w`, shapes[0]!, layer.w), b: make(`layer ${index} b`, shapes[1]!, layer.b), dw, db, m: zeros('m'), v: zeros('v') };
    });
    const trainPass = makePass('train', train);
    const heldOutPass = makePass('held-out', heldOut);
    const adamTensors: AdamwTensor[] = layers.flatMap((layer) => [
      { param: layer.w, grad: layer.dw, m: layer.m[0], v: layer.v[0] },
      // Biases take no weight decay, as in a PyTorch param group for them.
      { param: layer.b, grad: layer.db, m: layer.m[1], v: layer.v[1], weightDecay: 0 },
    ]);
    const scratch = { partials: make('router adamw partials', [adamwPartialCount(adamTensors)]), status: make('router adamw status', [4]) };

    const encodeForward = (encoder: GPUCommandEncoder, pass: Pass) => {
      let input = pass.x;
      if (pass.hidden) {
        encodeHeadLinear(ctx, encoder, input, layers[0]!, pass.hidden, { relu: true });
        input = pass.hidden;
      }
      encodeHeadLinear(ctx, encoder, input, layers.at(-1)!, pass.logits);
      encodeHeadSoftmax(ctx, encoder, { z: pass.logits, labels: pass.labels, temperature: head.temperature, gradScale: 1 / pass.N }, pass);
    };
    const encodeStep = (encoder: GPUCommandEncoder, step: number) => {
      encodeForward(encoder, trainPass);
      const last = layers.at(-1)!;
      if (trainPass.hidden) {
        encodeHeadLinearBackward(ctx, encoder, { x: trainPass.hidden, layer: last, dy: trainPass.dz, mask: trainPass.hidden }, { dw: last.dw, db: last.db, dx: trainPass.dHidden! });
        encodeHeadLinearBackward(ctx, encoder, { x: trainPass.x, layer: layers[0]!, dy: trainPass.dHidden! }, { dw: layers[0]!.dw, db: layers[0]!.db });
      } else {
        encodeHeadLinearBackward(ctx, encoder, { x: trainPass.x, layer: last, dy: trainPass.dz }, { dw: last.dw, db: last.db });
      }
      encodeAdamw(ctx, encoder, adamTensors, { step, lr: settings.lr, beta1: TORCH_ADAMW_DEFAULTS.beta1, beta2: TORCH_ADAMW_DEFAULTS.beta2, eps: TORCH_ADAMW_DEFAULTS.eps, weightDecay: settings.weightDecay }, scratch);
    };
    const score = async (step: number): Promise<HeadEvaluation> => {
      await throwGpuErrors(
        withinErrorScopes(ctx, 'scoring the router head', () => {
          const encoder = ctx.device.createCommandEncoder({ label: 'router head evaluation' });
          encodeForward(encoder, trainPass);
          encodeForward(encoder, heldOutPass);
          ctx.device.queue.submit([encoder.finish()]);
        }),
      );
      const [trainProbs, trainLoss, heldProbs, heldLoss] = await readTensors(ctx.device, [trainPass.probs, trainPass.rowLoss, heldOutPass.probs, heldOutPass.rowLoss]);
      return {
        step,
        trainLoss: mean1(trainLoss!),
        trainAccuracy: accuracy(trainProbs!, train.labels, K),
        heldOutLoss: mean1(heldLoss!),
        heldOutAccuracy: accuracy(heldProbs!, heldOut.labels, K),
      };
    };
    const readWeights = async (): Promise<HeadLayerWeights[]> => {
      const values = await readTensors(ctx.device, layers.flatMap((layer) => [layer.w, layer.b]));
      return initial.map((layer, index) => ({ ...layer, w: values[2 * index]!, b: values[2 * index + 1]! }));
    };

    const history: HeadEvaluation[] = [];
    let best = { loss: Infinity, step: 0, layers: initial };
    let sinceBest = 0;
    let stoppedEarly = false;
    for (let step = 1; step <= settings.maxSteps; step++) {
      if (settings.signal?.aborted) throw new CocktailError('CANCELLED', 'training the router was cancelled');
      await throwGpuErrors(
        withinErrorScopes(ctx, 'a router head step', () => {
          const encoder = ctx.device.createCommandEncoder({ label: 'router head step' });
          encodeStep(encoder, step);
          ctx.device.queue.submit([encoder.finish()]);
        }),
      );
      if (step % settings.evalEvery !== 0 && step !== settings.maxSteps) continue;
      const evaluation = await score(step);
      history.push(evaluation);
      options.onEvaluation?.(evaluation);
      if (evaluation.heldOutLoss < best.loss) {
        best = { loss: evaluation.heldOutLoss, step, layers: await readWeights() };
        sinceBest = 0;
      } else if (++sinceBest >= settings.patience) {
        stoppedEarly = true;
        break;
      }
    }
    return { head: { ...head, layers: best.layers }, history, bestStep: best.step, stoppedEarly };
  } finally {
    for (const tensor of owned) tensor.buffer.destroy();
  }
}

/** Probabilities [N, K] of the head over raw (unstandardized) features [N, C], on the router_head kernels. */
export async function headProbabilities(ctx: GpuContext, head: RouterHead, features: Float32Array): Promise<Float32Array> {
  const C = head.featureMean.length;
  const N = features.length / C;
  const K = head.layers.at(-1)!.outFeatures;
  const owned: GpuTensor[] = [];
  const make = (name: string, shape: number[], data?: Float32Array) => {
    const tensor = createTensor(ctx.device, name, shape, 'f32', data);
    owned.push(tensor);
    return tensor;
  };
  try {
    const x = make('router features', [N, C], standardize(head, features));
    const layers = head.layers.map((layer, index) => ({ w: make(`router layer ${index} w`, [layer.outFeatures, layer.inFeatures], layer.w), b: make(`router layer ${index} b`, [layer.outFeatures], layer.b) }));
    const labels = createIndexTensor(ctx.device, 'router no labels', [N], 'i32', new Int32Array(N).fill(-1));
    owned.push(labels);
    const hidden = head.layers.length > 1 ? make('router hidden', [N, head.layers[0]!.outFeatures]) : undefined;
    const out = { probs: make('router probs', [N, K]), rowLoss: make('router row loss', [N]), dz: make('router dz', [N, K]) };
    const logits = make('router logits', [N, K]);
    await throwGpuErrors(
      withinErrorScopes(ctx, 'the router head', () => {
        const encoder = ctx.device.createCommandEncoder({ label: 'router head' });
        if (hidden) encodeHeadLinear(ctx, encoder, x, layers[0]!, hidden, { relu: true });
        encodeHeadLinear(ctx, encoder, hidden ?? x, layers.at(-1)!, logits);
        encodeHeadSoftmax(ctx, encoder, { z: logits, labels, temperature: head.temperature, gradScale: 0 }, out);
        ctx.device.queue.submit([encoder.finish()]);
      }),
    );
    const [probs] = await readTensors(ctx.device, [out.probs]);
    return probs!;
  } finally {
    for (const tensor of owned) tensor.buffer.destroy();
  }
}

function mean1(values: Float32Array): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Share of rows whose most probable expert is their label. */
export function accuracy(probs: Float32Array, labels: Int32Array, K: number): number {
  let right = 0;
  labels.forEach((label, n) => {
    if (argmax(probs.subarray(n * K, (n + 1) * K)) === label) right++;
  });
  return right / labels.length;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k]! > values[best]!) best = k;
  return best;
}
