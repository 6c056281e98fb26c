/**
 * The pure half of `npm run bench:kernels`: which matrix products a LoRA training step of a model runs,
 * their FLOPs, and the shape of the results file. The browser page (bench/browser/kernels.ts) times
 * them; the driver (bench/kernels.ts) writes what this module builds. Unit-tested without a GPU.
 */
import type { MatmulLayout } from '../app/gpu/ops/matmul.ts';
import type { ModelConfig } from '../app/model/config.ts';

/** One product to time. shape is [M, N, K] in the forward meaning of app/gpu/ops/matmul.ts (M = tokens). */
export interface KernelProduct {
  /** What it is, e.g. "q/o_proj X·Wᵀ" or "LoRA dA = dUᵀ·X (576→576, r=16)". */
  kernel: string;
  layout: MatmulLayout;
  shape: [number, number, number];
  /** The right operand of nt/nn in the model's frozen dtype (bf16 for SmolLM2); LoRA factors and tn operands are f32. */
  frozenWeight: boolean;
}

/** One row of bench/results/kernels.json: the issue's fields, and which of our kernels ran. */
export interface KernelRow {
  kernel: string;
  shape: [number, number, number];
  ours_gflops: number;
  tfjs_gflops: number;
  ratio: number;
  /** The router's choice on this adapter ("gemm", "tiled", "skinny/split 4", ...): a route the device lacks something for falls back, and this says to what. */
  route: string;
  /** Where the device has shader-f16: the same product with f16 weights on both GEMM routes. */
  f16?: F16RouteTiming;
}

/**
 * A frozen-weight product (nt, nn) timed with f16 weights on gemm (decoded to f32 in the shader) and on
 * gemm-f16 (`enable f16;`, read and staged natively): the route the router should keep is the faster.
 */
export interface F16RouteTiming {
  gemm_gflops: number;
  gemm_f16_gflops: number;
  faster: 'gemm' | 'gemm-f16';
}

/** The f16 timing of a product from the two medians (ties keep gemm, the default). */
export function f16Timing(shape: readonly [number, number, number], gemmMs: number, gemmF16Ms: number): F16RouteTiming {
  const gemm = gflopsOf(shape, gemmMs);
  const native = gflopsOf(shape, gemmF16Ms);
  return { gemm_gflops: gemm, gemm_f16_gflops: native, faster: native > gemm ? 'gemm-f16' : 'gemm' };
}

/** What a run says of the enable-f16 route: not timed (and why), or on how many products it was faster. */
export function f16Verdict(rows: readonly KernelRow[], hasShaderF16: boolean): string {
  if (!hasShaderF16) return 'gemm-f16 (the enable-f16 GEMM for f16 weights) was not timed: the device has no shader-f16, so f16 weights take gemm here.';
  const timed = rows.filter((row) => row.f16);
  if (timed.length === 0) return 'gemm-f16 was not timed: no product of this run takes it (f16 weights in X·Wᵀ or dY·W on gemm).';
  const faster = timed.filter((row) => row.f16!.faster === 'gemm-f16').length;
  const speedup = median(timed.map((row) => row.f16!.gemm_f16_gflops / row.f16!.gemm_gflops));
  const advice = faster === timed.length ? 'faster everywhere: F16_GEMM_DEFAULT may be turned on for this GPU' : faster === 0 ? 'slower everywhere: keep gemm (F16_GEMM_DEFAULT off)' : 'faster on some products only: keep gemm by default';
  return `f16 weights: gemm-f16 faster than gemm on ${faster} of ${timed.length} products (median speed ${speedup.toFixed(2)}x of gemm's): ${advice}.`;
}

/** bench/results/kernels.json: the issue's fields, then how the figures were taken. */
export interface KernelResults {
  machine: string;
  adapter: string;
  browser: string;
  rows: KernelRow[];
  /** The adapter's features, which routes and timing depend on. */
  features: string[];
  /** Which kernel family ran ('auto': the adapter chose) and how each run was timed. */
  kernels: string;
  timing: 'timestamp-query' | 'wall';
  /** Timed runs per product (the median is kept), after the comparison call and `warmups` more untimed calls each. */
  runs: number;
  warmups: number;
  /** The largest max |ours − TF.js| / max |TF.js| over the comparison calls. */
  largest_difference: number;
  /** With --peak-tflops (bench/gpu.sh): the adapter's FP32 peak, and each row's ours_gflops as a share of it, in row order. */
  fp32_peak_tflops?: number;
  ours_peak_shares?: number[];
  /** What the figures mean on this machine (SwiftShader: a CPU, so ratios only), and the time the whole run took. */
  notes: string;
}

const LAYOUT_FORMULA: Record<MatmulLayout, string> = { nt: 'X·Wᵀ', nn: 'dY·W', tn: 'dYᵀ·X' };

/** The distinct projection shapes of a decoder layer: name, in → out features. */
export function projectionShapes(config: Pick<ModelConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim'>): { name: string; inFeatures: number; outFeatures: number }[] {
  const { hiddenSize: C, intermediateSize: I, numHeads: H, numKvHeads: Hkv, headDim: D } = config;
  const shapes = [
    { name: H * D === C ? 'q/o_proj' : 'q_proj', inFeatures: C, outFeatures: H * D },
    ...(H * D === C ? [] : [{ name: 'o_proj', inFeatures: H * D, outFeatures: C }]),
    { name: 'k/v_proj', inFeatures: C, outFeatures: Hkv * D },
    { name: 'gate/up_proj', inFeatures: C, outFeatures: I },
    { name: 'down_proj', inFeatures: I, outFeatures: C },
  ];
  return shapes;
}

/**
 * Every product of a LoRA training step at `tokens` tokens: each projection in the three layouts
 * (forward X·Wᵀ, input gradient dY·W, and dYᵀ·X, the weight-gradient layout full fine-tuning uses);
 * the LM head forward and input gradient (it is the frozen, tied embedding: its weight gradient is
 * never formed); and the six LoRA products of each distinct in→out pair at rank r:
 * U = X·Aᵀ, Y += U·Bᵀ, dU = dY·B, dX += dU·A, dA = dUᵀ·X, dB = dYᵀ·U.
 */
export function kernelProducts(config: Pick<ModelConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize'>, tokens: number, rank: number): KernelProduct[] {
  const M = tokens;
  const products: KernelProduct[] = [];
  const projections = projectionShapes(config);
  for (const layout of ['nt', 'nn', 'tn'] as const) {
    for (const { name, inFeatures, outFeatures } of projections) {
      products.push({ kernel: `${name} ${LAYOUT_FORMULA[layout]}`, layout, shape: [M, outFeatures, inFeatures], frozenWeight: layout !== 'tn' });
    }
    if (layout !== 'tn') products.push({ kernel: `lm_head ${LAYOUT_FORMULA[layout]}`, layout, shape: [M, config.vocabSize, config.hiddenSize], frozenWeight: true });
  }
  const pairs = new Map(projections.map(({ inFeatures, outFeatures }) => [`${inFeatures}→${outFeatures}`, { inFeatures, outFeatures }]));
  for (const [pair, { inFeatures: K, outFeatures: N }] of pairs) {
    const label = `(${pair}, r=${rank})`;
    products.push(
      { kernel: `LoRA U = X·Aᵀ ${label}`, layout: 'nt', shape: [M, rank, K], frozenWeight: false },
      { kernel: `LoRA Y += U·Bᵀ ${label}`, layout: 'nt', shape: [M, N, rank], frozenWeight: false },
      { kernel: `LoRA dU = dY·B ${label}`, layout: 'nn', shape: [M, N, rank], frozenWeight: false },
      { kernel: `LoRA dX += dU·A ${label}`, layout: 'nn', shape: [M, rank, K], frozenWeight: false },
      { kernel: `LoRA dA = dUᵀ·X ${label}`, layout: 'tn', shape: [M, rank, K], frozenWeight: false },
      { kernel: `LoRA dB = dYᵀ·U ${label}`, layout: 'tn', shape: [M, N, rank], frozenWeight: false },
    );
  }
  return products;
}

/**
 * The LM head on 1/shards of the vocabulary: [M, V/shards, C], named so. On a CPU adapter the whole LM
 * head at 2,048 tokens is 116 GFLOP per product, which TF.js runs there at about 0.05–0.1 GFLOP/s (20–40
 * minutes each); a vocabulary shard is the same product over fewer output columns, so its GFLOP/s and
 * ratio stand for the whole head's (the head's operands then still exceed the caches). Other products
 * are returned as they are.
 */
export function onVocabShard(product: KernelProduct, shards: number): KernelProduct {
  if (!product.kernel.startsWith('lm_head') || shards === 1) return product;
  const [M, V, C] = product.shape;
  if (!Number.isInteger(shards) || shards < 1 || V % shards !== 0 || (V / shards) % 4 !== 0) {
    throw new RangeError(`cannot cut a vocabulary of ${V} into ${shards} equal shards of a multiple of 4 words`);
  }
  return { ...product, kernel: `${product.kernel} (vocab shard 1/${shards}: ${V / shards} of ${V} words)`, shape: [M, V / shards, C] };
}

/** FLOPs of one product: a multiply-add counts two. */
export function productFlops([M, N, K]: readonly [number, number, number]): number {
  return 2 * M * N * K;
}

/** GFLOP/s of a product that took `ms` milliseconds. */
export function gflopsOf(shape: readonly [number, number, number], ms: number): number {
  if (!(ms > 0)) throw new RangeError(`a timing must be a positive number of milliseconds, got ${ms}`);
  return productFlops(shape) / ms / 1e6;
}

/** Operand shapes [rows, cols] of a layout: lhs, rhs, out (see MatmulLayout). */
export function operandShapes(layout: MatmulLayout, [M, N, K]: readonly [number, number, number]): [[number, number], [number, number], [number, number]] {
  if (layout === 'nt') return [[M, K], [N, K], [M, N]];
  if (layout === 'nn') return [[M, N], [N, K], [M, K]];
  return [[M, N], [M, K], [N, K]];
}

/** tf.matMul's transposeA, transposeB for a layout with the operands of operandShapes. */
export const TFJS_TRANSPOSES: Record<MatmulLayout, [boolean, boolean]> = { nt: [false, true], nn: [false, false], tn: [true, false] };

/** A results row from the two medians: ratio is ours over TF.js in throughput. */
export function kernelRow(product: KernelProduct, measured: { oursMs: number; tfjsMs: number; route: string; f16?: { gemmMs: number; gemmF16Ms: number } }): KernelRow {
  const ours = gflopsOf(product.shape, measured.oursMs);
  const tfjs = gflopsOf(product.shape, measured.tfjsMs);
  const row: KernelRow = { kernel: product.kernel, shape: [...product.shape], ours_gflops: ours, tfjs_gflops: tfjs, ratio: ours / tfjs, route: measured.route };
  if (measured.f16) row.f16 = f16Timing(product.shape, measured.f16.gemmMs, measured.f16.gemmF16Ms);
  return row;
}

/** The median of a non-empty list (the lower middle for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The markdown table of a results file; rows under the target ratio are marked. */
export function kernelTable(results: KernelResults, target = 2): string {
  const lines = [
    `${results.machine}; ${results.browser}; adapter ${results.adapter}; our kernels: ${results.kernels}; timed by ${results.timing}, median of ${results.runs} run(s) after ${results.warmups} extra warm-up call(s); largest difference from TF.js ${results.largest_difference.toExponential(1)}. ${results.notes}`,
    '',
    '| kernel | M | N | K | our route | ours GFLOP/s | TF.js GFLOP/s | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of results.rows) {
    const [M, N, K] = row.shape;
    const ratio = `${row.ratio.toFixed(2)}x${row.ratio < target ? ` (under ${target}x)` : ''}`;
    lines.push(`| ${row.kernel} | ${M} | ${N} | ${K} | ${row.route} | ${row.ours_gflops.toFixed(2)} | ${row.tfjs_gflops.toFixed(2)} | ${ratio} |`);
  }
  const under = results.rows.filter((row) => row.ratio < target).length;
  lines.push('', `${results.rows.length} rows; ${under} under the target ratio of ${target}x.`);
  const f16Rows = results.rows.filter((row) => row.f16);
  if (f16Rows.length > 0) {
    lines.push('', '| kernel, f16 weights | M | N | K | gemm GFLOP/s | gemm-f16 GFLOP/s | faster |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const { kernel, shape: [M, N, K], f16 } of f16Rows) lines.push(`| ${kernel} | ${M} | ${N} | ${K} | ${f16!.gemm_gflops.toFixed(2)} | ${f16!.gemm_f16_gflops.toFixed(2)} | ${f16!.faster} |`);
  }
  return lines.join('\n');
}
