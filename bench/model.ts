/**
 * `npm run bench:model`: the whole model, in two parts.
 *
 * 1. Training throughput on Dawn in Node: a random-weight SmolLM2-135M (the published config, bf16
 *    frozen weights built in memory as `cocktail make-model` builds them) with LoRA r = 16 on all seven
 *    projections; forward + loss, and forward + loss + backward, over B·T tokens (default 4 × 512), with
 *    the GPU memory the run holds. On a CPU adapter (SwiftShader) 2,048 tokens of a 135M model take many
 *    minutes, so the default there is 1 × 32 tokens; --tokens, --batch and --seq choose any shape.
 * 2. Decode speed in real Chromium: our Generator (KV cache) against onnxruntime-web's WebGPU execution
 *    provider on the same ONNX model, in one page (bench/browser). The only ONNX export here is the
 *    fixture aidreams260K; it has no past_key_values inputs, so each ORT step re-runs the whole prefix.
 *
 * Writes bench/results/<date>-<adapter>-model.json and .md, and prints the markdown.
 * Options: --tokens N --batch B --seq T --reps N --new-tokens N --only train|decode
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright';
import { createServer } from 'vite';
import { parseOptions } from '../app/cli/args.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { acquireNodeGpu } from '../app/gpu/node-gpu.ts';
import { crossEntropyChunkRows, encodeCrossEntropy, readCrossEntropyStats } from '../app/gpu/ops/cross_entropy.ts';
import { isCpuAdapter } from '../app/gpu/ops/matmul.ts';
import { createIndexTensor, createTensor } from '../app/gpu/tensor.ts';
import { loraTargetsOf, parameterCount, parseModelConfig } from '../app/model/config.ts';
import { DecoderGraph } from '../app/model/graph.ts';
import { uploadModel } from '../app/model/gpu-model.ts';
import { initLoraAdapter } from '../app/model/lora.ts';
import { uploadLora } from '../app/model/lora-gpu.ts';
import { randomModelTensors } from '../app/model/random-model.ts';
import { writeSafetensors } from '../app/model/safetensors.ts';
import type { ModelFiles } from '../app/model/source.ts';
import { locateWeights } from '../app/model/weights.ts';
import { Random } from '../app/util/random.ts';
import { chromiumExecutable, chromiumWebGpuArgs } from '../test/chromium.ts';
import type { DecodeBenchOptions, DecodeBenchResult } from './browser/decode.ts';

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURES = resolve(ROOT, '../shared/fixtures');
const CONFIG = join(FIXTURES, 'configs/SmolLM2-135M.config.json');
const DECODE_MODEL = join(FIXTURES, 'models/aidreams260K');
/** Greedy ids from BOS that ../shared/fixtures/README.md lists for aidreams260K. */
const FIXTURE_GREEDY = [319, 459, 355, 260, 275, 429, 339, 315];
const LORA_RANK = 16;
const MiB = 2 ** 20;

interface Shape {
  B: number;
  T: number;
}

interface Timing {
  /** Median over the timed runs. */
  ms: number;
  tokensPerSecond: number;
  /** Model FLOPs (2N per token forward, 4N with the backward into LoRA: frozen base) per second, attention and LoRA terms left out. */
  gflops: number;
  runs: number;
}

interface TrainingResult {
  model: string;
  parameters: number;
  weightDtype: string;
  loraRank: number;
  shape: Shape & { tokens: number; why: string };
  /** Mean cross-entropy of the warm-up forward: about ln(V) for random weights. */
  loss: number;
  forward: Timing;
  forwardBackward: Timing;
  memoryMiB: { weights: number; lora: number; activations: number; batchAndLoss: number; total: number };
}

/** Forward (+ loss) and forward + backward on a random SmolLM2-135M with LoRA on every projection. */
async function benchTraining(gpu: GpuContext, shape: Shape & { why: string }, reps: number): Promise<TrainingResult> {
  const { device } = gpu;
  const config = parseModelConfig(JSON.parse(await readFile(CONFIG, 'utf8')), CONFIG);
  console.error(`building a random ${(parameterCount(config) / 1e6).toFixed(1)}M-parameter model in bf16 …`);
  const blob = writeSafetensors(randomModelTensors(config, { dtype: 'bf16', seed: 0 }), { format: 'pt' });
  const files: ModelFiles = { label: 'random SmolLM2-135M', has: (path) => path === 'model.safetensors', open: async () => blob, list: () => ['model.safetensors'] };
  const model = await uploadModel(gpu, config, await locateWeights(files, config));
  const targets = [...loraTargetsOf(config)];
  const lora = uploadLora(gpu, initLoraAdapter(config, { r: LORA_RANK, alpha: 2 * LORA_RANK, dropout: 0, targets, rslora: false }, 0), { training: true });
  const { B, T } = shape;
  const N = B * T;
  const graph = new DecoderGraph(gpu, model, { B, T }, { training: true, loraRank: LORA_RANK });

  const random = Random.fromSeed(1);
  const ids = Array.from({ length: N }, () => Math.floor(random.next() * config.vocabSize));
  const labels = ids.map((_, i) => (i % T === T - 1 ? -100 : ids[i + 1]!));
  const batch = {
    ids: createIndexTensor(device, 'ids', [N], 'u32', ids),
    positions: createIndexTensor(device, 'positions', [N], 'u32', ids.map((_, i) => i % T)),
    segments: createIndexTensor(device, 'segments', [B, T], 'u32', new Array<number>(N).fill(1)),
  };
  const loss = {
    labels: createIndexTensor(device, 'labels', [N], 'i32', labels),
    stats: createTensor(device, 'loss stats', [3], 'f32'),
    rowLoss: createTensor(device, 'row loss', [N], 'f32'),
    scratch: createTensor(device, 'logits chunk', [crossEntropyChunkRows(device, N, config.vocabSize), config.vocabSize], 'f32'),
  };
  const labelCount = labels.filter((label) => label >= 0).length;

  const step = async (backward: boolean): Promise<number> => {
    const start = performance.now();
    const encoder = device.createCommandEncoder({ label: backward ? 'forward + backward' : 'forward' });
    encoder.clearBuffer(loss.stats.buffer);
    graph.encodeForward(encoder, batch, lora);
    if (backward) encoder.clearBuffer(graph.dFinal!.buffer);
    encodeCrossEntropy(
      gpu,
      encoder,
      { x: graph.final, w: model.lmHead, labels: loss.labels, softcap: model.config.finalLogitSoftcapping },
      { stats: loss.stats, rowLoss: loss.rowLoss, ...(backward ? { backward: { dx: graph.dFinal!, gradScale: 1 / labelCount } } : {}) },
      loss.scratch,
    );
    if (backward) graph.encodeBackward(encoder, batch, lora);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  const time = async (backward: boolean): Promise<Timing> => {
    const what = backward ? 'forward + backward' : 'forward';
    console.error(`${what}, ${B} × ${T} tokens: warm-up …`);
    await step(backward);
    const runs: number[] = [];
    for (let i = 0; i < reps; i++) {
      runs.push(await step(backward));
      console.error(`${what}: ${(runs.at(-1)! / 1000).toFixed(2)} s`);
    }
    const ms = median(runs);
    const flopsPerToken = (backward ? 4 : 2) * parameterCount(config);
    return { ms, tokensPerSecond: (N / ms) * 1000, gflops: (flopsPerToken * N) / ms / 1e6, runs: reps };
  };

  const forward = await time(false);
  const { lossSum } = await readCrossEntropyStats(device, loss.stats);
  const forwardBackward = await time(true);
  const batchAndLoss = [...Object.values(batch), ...Object.values(loss)].reduce((sum, tensor) => sum + tensor.buffer.size, 0);
  const memoryMiB = { weights: model.bytes / MiB, lora: lora.bytes / MiB, activations: graph.bytes / MiB, batchAndLoss: batchAndLoss / MiB, total: (model.bytes + lora.bytes + graph.bytes + batchAndLoss) / MiB };
  graph.destroy();
  lora.destroy();
  model.destroy();
  for (const tensor of [...Object.values(batch), ...Object.values(loss)]) tensor.buffer.destroy();
  return {
    model: 'SmolLM2-135M (random weights)',
    parameters: parameterCount(config),
    weightDtype: model.weightDtype,
    loraRank: LORA_RANK,
    shape: { ...shape, tokens: N },
    loss: lossSum / labelCount,
    forward,
    forwardBackward,
    memoryMiB,
  };
}

interface DecodeResult extends DecodeBenchResult {
  browser: string;
  matchesFixture: boolean;
}

/** Our Generator against onnxruntime-web (WebGPU EP) in one Chromium page served by a Vite dev server. */
async function benchDecode(newTokens: number, reps: number): Promise<DecodeResult> {
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, hmr: false, fs: { allow: [ROOT, FIXTURES] } },
    optimizeDeps: { entries: ['bench/browser/index.html'], exclude: ['onnxruntime-web'] },
  });
  await server.listen();
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: chromiumWebGpuArgs() });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`page ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(`${server.resolvedUrls!.local[0]}bench/browser/index.html`);
    await page.waitForFunction(() => 'decodeBench' in window);
    const options: DecodeBenchOptions = {
      modelUrl: `/@fs${DECODE_MODEL}`,
      ortWasmPaths: '/node_modules/onnxruntime-web/dist/',
      prompt: [1],
      newTokens,
      reps,
    };
    console.error(`decoding ${newTokens} tokens in Chromium ${browser.version()}: ours and ONNX Runtime WebGPU …`);
    const result = await page.evaluate((o) => window.decodeBench(o), options);
    const matchesFixture = result.ours.ids.slice(0, FIXTURE_GREEDY.length).every((id, i) => id === FIXTURE_GREEDY[i]);
    return { ...result, browser: `Chromium ${browser.version()} (headless, ${chromiumExecutable()})`, matchesFixture };
  } finally {
    await browser.close();
    await server.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The batch shape from --tokens/--batch/--seq, or the default for this adapter. */
function batchShape(options: { tokens?: number; batch?: number; seq?: number }, cpu: boolean): Shape & { why: string } {
  const { tokens, batch, seq } = options;
  if (tokens === undefined && batch === undefined && seq === undefined) {
    return cpu ? { B: 1, T: 32, why: 'the default on a CPU adapter, where 2,048 tokens take many minutes; set --tokens/--batch/--seq' } : { B: 4, T: 512, why: 'default' };
  }
  const B = batch ?? (tokens !== undefined && seq !== undefined ? tokens / seq : 1);
  const T = seq ?? (tokens !== undefined ? tokens / B : 32);
  if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0) || (tokens !== undefined && B * T !== tokens)) {
    throw new Error(`--tokens ${tokens ?? '-'} --batch ${batch ?? '-'} --seq ${seq ?? '-'} do not make a whole batch B × T`);
  }
  return { B, T, why: 'chosen on the command line' };
}

const f = (value: number, digits = 1): string => value.toFixed(digits);

function markdown(machine: Record<string, unknown> & { adapter: GpuContext['info']['adapter'] }, training?: TrainingResult, decode?: DecodeResult): string {
  const lines = [`# Model benchmark, ${String(machine.date).slice(0, 10)}`, ''];
  if (training) {
    const { shape, memoryMiB: m } = training;
    lines.push(
      `## Training throughput: ${training.model}, ${f(training.parameters / 1e6)}M parameters, ${training.weightDtype} frozen weights, LoRA r = ${training.loraRank} on all seven projections`,
      '',
      `Dawn in Node ${machine.node} on ${machine.adapter.vendor} ${machine.adapter.architecture} (${machine.adapter.description}). B × T = ${shape.B} × ${shape.T} = ${shape.tokens} tokens (${shape.why}); median of ${training.forward.runs} run(s) after a warm-up; loss of the random model ${f(training.loss, 3)}.`,
      '',
      '| pass | ms per batch | tokens/s | model GFLOP/s |',
      '| --- | --- | --- | --- |',
      `| forward + loss | ${f(training.forward.ms)} | ${f(training.forward.tokensPerSecond, 2)} | ${f(training.forward.gflops, 2)} |`,
      `| forward + loss + backward | ${f(training.forwardBackward.ms)} | ${f(training.forwardBackward.tokensPerSecond, 2)} | ${f(training.forwardBackward.gflops, 2)} |`,
      '',
      `GPU memory held: ${f(m.total)} MiB = weights ${f(m.weights)} + LoRA with gradients and AdamW moments ${f(m.lora)} + activations and gradient workspace ${f(m.activations)} + batch and loss ${f(m.batchAndLoss)}.`,
      'Model GFLOP/s counts 2N FLOPs per token forward and 4N with the backward (frozen base), without attention and LoRA terms.',
      '',
    );
  }
  if (decode) {
    const { ours, ort } = decode;
    lines.push(
      `## Decode: ${decode.model}, prompt [${decode.prompt.join(', ')}], ${decode.newTokens} new tokens, greedy`,
      '',
      `${decode.browser}, adapter ${decode.adapter}; median of ${decode.reps} run(s) after a warm-up run; onnxruntime-web ${decode.ortVersion}, ONNX inputs [${decode.ortInputs.join(', ')}].`,
      '',
      '| engine | how | ms | tokens/s | vs ours |',
      '| --- | --- | --- | --- | --- |',
      `| ours (Generator) | KV cache, argmax on the GPU, one id read back per token | ${f(ours.ms)} | ${f(ours.tokensPerSecond, 2)} | 1.00x |`,
      `| onnxruntime-web, WebGPU EP | ${ort.recomputesPrefix ? 'the export has no KV cache: each step re-runs the whole prefix' : 'KV cache'}, logits read back, argmax in JS | ${f(ort.ms)} | ${f(ort.tokensPerSecond, 2)} | ${f(ort.tokensPerSecond / ours.tokensPerSecond, 2)}x |`,
      `| onnxruntime-web, one forward of 1 token | the least a step costs it, KV cache or not (bound, not a run) | ${f(ort.oneTokenForwardMs * decode.newTokens)} | ${f(1000 / ort.oneTokenForwardMs, 2)} | ${f(1000 / ort.oneTokenForwardMs / ours.tokensPerSecond, 2)}x |`,
      '',
      `Same greedy ids from both engines: ${decode.sameIds ? 'yes' : 'NO'}; they begin with the fixture's ${FIXTURE_GREEDY.join(', ')}: ${decode.matchesFixture ? 'yes' : 'NO'}.`,
      '',
    );
  }
  lines.push(`Machine: ${machine.cpus}, ${machine.memoryGiB} GiB, load average ${machine.loadAverage} at the start. On a CPU adapter compare ratios, not absolute times.`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  // argv: node, bin/run-ts.mjs, bench/model.ts, options…
  const options = parseOptions('bench:model', process.argv.slice(3), { tokens: 'integer', batch: 'integer', seq: 'integer', reps: 'integer', 'new-tokens': 'integer', only: 'string' });
  if (options.only !== undefined && options.only !== 'train' && options.only !== 'decode') throw new Error(`--only ${options.only}: give train or decode`);
  const gpu = await acquireNodeGpu({ label: 'bench model' });
  const { adapter } = gpu.info;
  const cpu = isCpuAdapter(adapter);
  if (cpu) console.error(`${adapter.vendor} ${adapter.architecture} is a CPU adapter: small defaults, compare ratios only`);
  const machine = {
    adapter,
    node: process.version,
    date: new Date().toISOString(),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: loadavg().map((load) => load.toFixed(2)).join(' '),
  };
  const reps = options.reps ?? (cpu ? 1 : 5);
  const training = options.only === 'decode' ? undefined : await benchTraining(gpu, batchShape(options, cpu), reps);
  gpu.destroy();
  const decode = options.only === 'train' ? undefined : await benchDecode(options['new-tokens'] ?? 64, options.reps ?? 3);

  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const stem = join(dir, `${machine.date.slice(0, 10)}-${`${adapter.vendor}-${adapter.architecture}`.replace(/[^A-Za-z0-9_-]/g, '_')}-model${options.only ? `-${options.only}` : ''}`);
  const table = markdown(machine, training, decode);
  await writeFile(`${stem}.json`, JSON.stringify({ machine, training, decode }, null, 2) + '\n');
  await writeFile(`${stem}.md`, table + '\n');
  console.log(`${table}\n\nresults in ${stem}.json and .md`);
  process.exit(decode && !(decode.sameIds && decode.matchesFixture) ? 1 : 0);
}

await main();
