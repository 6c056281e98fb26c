/**
 * The browser half of `npm run bench:model`: greedy decoding of one model in one page by our engine
 * (Generator: KV cache, argmax on the GPU) and by onnxruntime-web's WebGPU execution provider on the
 * model's ONNX export. Both get the same prompt and token budget, are warmed up once, then run in
 * alternating rounds; the median of each is kept. bench/model.ts serves this page and calls decodeBench.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { acquireGpu } from '../../app/gpu/device.ts';
import { parseModelConfig } from '../../app/model/config.ts';
import { Generator } from '../../app/model/generate.ts';
import { uploadModel } from '../../app/model/gpu-model.ts';
import type { ModelFiles } from '../../app/model/source.ts';
import { locateWeights } from '../../app/model/weights.ts';

export interface DecodeBenchOptions {
  /** A model folder in HF layout with onnx/model.onnx, as served to this page. */
  modelUrl: string;
  /** Where onnxruntime-web's .wasm/.mjs files are served. */
  ortWasmPaths: string;
  prompt: number[];
  newTokens: number;
  reps: number;
}

export interface EngineRun {
  /** Generated ids, prompt excluded. */
  ids: number[];
  /** Median over the timed runs, prompt included. */
  ms: number;
  tokensPerSecond: number;
}

export interface DecodeBenchResult {
  model: string;
  adapter: string;
  prompt: number[];
  newTokens: number;
  reps: number;
  ortVersion: string;
  ortInputs: string[];
  ours: EngineRun;
  ort: EngineRun & {
    recomputesPrefix: boolean;
    /** One run over the one-token prompt: roughly the least a step could cost ORT even with a KV cache. */
    oneTokenForwardMs: number;
  };
  sameIds: boolean;
}

declare global {
  interface Window {
    decodeBench(options: DecodeBenchOptions): Promise<DecodeBenchResult>;
  }
}

async function fetchBytes(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.blob();
}

/** A greedy decoder: prompt → new ids. */
type Decoder = (prompt: number[], newTokens: number) => Promise<number[]>;

async function ourDecoder(modelUrl: string): Promise<{ decode: Decoder; adapter: string }> {
  const ctx = await acquireGpu(navigator.gpu, { label: 'bench decode' });
  const blobs = new Map([['config.json', await fetchBytes(`${modelUrl}/config.json`)], ['model.safetensors', await fetchBytes(`${modelUrl}/model.safetensors`)]]);
  const files: ModelFiles = { label: modelUrl, has: (path) => blobs.has(path), open: async (path) => blobs.get(path)!, list: () => [...blobs.keys()] };
  const config = parseModelConfig(JSON.parse(await blobs.get('config.json')!.text()));
  const generator = new Generator(ctx, await uploadModel(ctx, config, await locateWeights(files, config)));
  const { vendor, architecture, description } = ctx.info.adapter;
  return { decode: async (prompt, newTokens) => (await generator.generate(prompt, { maxNewTokens: newTokens })).ids, adapter: [vendor, architecture, description].filter(Boolean).join(' ') };
}

/** ORT on the export as it is: with only input_ids → logits, every step runs the whole sequence so far. */
async function ortDecoder(modelUrl: string, wasmPaths: string): Promise<{ decode: Decoder; forward: (ids: number[]) => Promise<Float32Array>; inputs: string[] }> {
  ort.env.wasm.wasmPaths = wasmPaths;
  // The page is not cross-origin isolated, so ORT's wasm cannot use threads; its GPU work is what is measured.
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  const model = new Uint8Array(await (await fetchBytes(`${modelUrl}/onnx/model.onnx`)).arrayBuffer());
  const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  /** Logits of the last position. */
  const forward = async (ids: number[]): Promise<Float32Array> => {
    const { logits } = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) });
    const V = logits!.dims[2]!;
    const last = ((await logits!.getData()) as Float32Array).slice((ids.length - 1) * V, ids.length * V);
    logits!.dispose();
    return last;
  };
  const decode: Decoder = async (prompt, newTokens) => {
    const ids = [...prompt];
    for (let i = 0; i < newTokens; i++) {
      const last = await forward(ids);
      let best = 0;
      for (let v = 1; v < last.length; v++) if (last[v]! > last[best]!) best = v;
      ids.push(best);
    }
    return ids.slice(prompt.length);
  };
  return { decode, forward, inputs: [...session.inputNames] };
}

async function decodeBench(options: DecodeBenchOptions): Promise<DecodeBenchResult> {
  const { prompt, newTokens, reps } = options;
  const ours = await ourDecoder(options.modelUrl);
  const theirs = await ortDecoder(options.modelUrl, options.ortWasmPaths);
  const engines = [ours.decode, theirs.decode];
  // The warm-up compiles every pipeline; its ids are the ones compared.
  const ids: number[][] = [];
  for (const decode of engines) ids.push(await decode(prompt, newTokens));
  const times: number[][] = [[], []];
  for (let round = 0; round < reps; round++) {
    for (const [i, decode] of engines.entries()) {
      const start = performance.now();
      await decode(prompt, newTokens);
      times[i]!.push(performance.now() - start);
    }
  }
  const oneToken: number[] = [];
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    await theirs.forward(prompt.slice(0, 1));
    oneToken.push(performance.now() - start);
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  const run = (i: number): EngineRun => {
    const ms = median(times[i]!);
    return { ids: ids[i]!, ms, tokensPerSecond: (newTokens / ms) * 1000 };
  };
  return {
    model: options.modelUrl.split('/').at(-1)!,
    adapter: ours.adapter,
    prompt,
    newTokens,
    reps,
    ortVersion: ort.env.versions.web ?? ort.env.versions.common,
    ortInputs: theirs.inputs,
    ours: run(0),
    ort: { ...run(1), recomputesPrefix: !theirs.inputs.some((name) => name.startsWith('past_key_values')), oneTokenForwardMs: median(oneToken) },
    sameIds: ids[0]!.join() === ids[1]!.join(),
  };
}

window.decodeBench = decodeBench;
