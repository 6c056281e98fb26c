/**
 * The pure half of `npm run bench:train`: bench/results/train.json from what the page measured, and its
 * markdown table. Unit-tested without a GPU.
 */
import type { GpuCounts } from './browser/gpu-counters.ts';

/** bench/results/train.json: the issue's fields, then how the figures were taken. */
export interface TrainResults {
  machine: string;
  adapter: string;
  browser: string;
  tokens_per_step: number;
  ours_tokens_per_s: number;
  tfjs_tokens_per_s: number;
  ratio: number;
  /** What one step of ours asked of WebGPU (bench/browser/gpu-counters.ts). */
  dispatches: number;
  submits: number;
  bytes_to_gpu: number;
  readbacks: number;
  /** Share of our step's wall time during which the queue held unfinished work. */
  gpu_busy_share: number;
  /** B × T, why that size, the model, runs, first losses, and the whole run's duration. */
  notes: string;
}

export interface TrainMeasurement {
  machine: string;
  adapter: string;
  browser: string;
  B: number;
  T: number;
  oursMs: number;
  tfjsMs: number;
  counts: GpuCounts;
  notes: string;
}

export function trainResults(measured: TrainMeasurement): TrainResults {
  const tokens = measured.B * measured.T;
  for (const [name, ms] of [['ours', measured.oursMs], ['TF.js', measured.tfjsMs]] as const) {
    if (!(ms > 0)) throw new RangeError(`${name}: a step must take a positive number of milliseconds, got ${ms}`);
  }
  const ours = (tokens / measured.oursMs) * 1000;
  const tfjs = (tokens / measured.tfjsMs) * 1000;
  const { dispatches, submits, bytesToGpu, readbacks, busyMs } = measured.counts;
  return {
    machine: measured.machine,
    adapter: measured.adapter,
    browser: measured.browser,
    tokens_per_step: tokens,
    ours_tokens_per_s: ours,
    tfjs_tokens_per_s: tfjs,
    ratio: ours / tfjs,
    dispatches,
    submits,
    bytes_to_gpu: bytesToGpu,
    readbacks,
    gpu_busy_share: Math.min(1, busyMs / measured.oursMs),
    notes: measured.notes,
  };
}

export function trainTable(results: TrainResults, target = 3): string {
  const f = (value: number, digits = 2): string => value.toFixed(digits);
  return [
    `${results.machine}; ${results.browser}; adapter ${results.adapter}. ${results.notes}`,
    '',
    '| tokens per step | ours tokens/s | TF.js tokens/s | ratio | dispatches | submits | bytes to GPU | readbacks | GPU busy share |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${results.tokens_per_step} | ${f(results.ours_tokens_per_s)} | ${f(results.tfjs_tokens_per_s)} | ${f(results.ratio)}x${results.ratio < target ? ` (under ${target}x)` : ''} | ${results.dispatches} | ${results.submits} | ${results.bytes_to_gpu} | ${results.readbacks} | ${f(results.gpu_busy_share)} |`,
  ].join('\n');
}
