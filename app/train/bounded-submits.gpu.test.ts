import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { loadFixtureModel } from '../../test/model.ts';
import { QWEN2_TINY, randomModel, randomTask, type RandomModel } from '../../test/random-model.ts';
import { textTasks } from '../../test/tasks.ts';
import { BoundedSubmits, ThroughputEstimate, TimedWork, unboundedStream, type SubmitBudget } from '../gpu/bounded-submits.ts';
import type { GpuContext } from '../gpu/device.ts';
import { PieceTimer } from '../gpu/piece-timer.ts';
import { createIndexTensor, readTensor } from '../gpu/tensor.ts';
import { Generator } from '../model/generate.ts';
import { uploadModel, type GpuModel } from '../model/gpu-model.ts';
import { createKvCache, DecoderGraph } from '../model/graph.ts';
import { initLoraAdapter } from '../model/lora.ts';
import { uploadLora, type GpuLora } from '../model/lora-gpu.ts';
import { filesFromDirectory } from '../model/node-source.ts';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.ts';
import { Evaluator } from './evaluate.ts';
import { parseRecipe } from './recipe.ts';
import type { PreparedTask } from './task-data.ts';
import { Trainer } from './trainer.ts';

let ctx: GpuContext;
let model: RandomModel;
/** The real tiny Llama with a LoRA adapter whose B is not zero, for evaluation and generation. */
let fixture: { model: GpuModel; tokenizer: TextTokenizer; tasks: PreparedTask[]; lora: GpuLora };
beforeAll(async () => {
  ctx = await acquireTestGpu();
  model = await randomModel(ctx, QWEN2_TINY, 'bf16', 12);
  const loaded = await loadFixtureModel();
  const tokenizer = await loadTokenizer(await filesFromDirectory(loaded.dir), loaded.config);
  const adapter = initLoraAdapter(loaded.config, { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: false }, 3);
  // PEFT starts B at zero, which would leave the adapter out of every number: give it values.
  for (const pair of adapter.pairs.values()) pair.b.forEach((_, i, b) => (b[i] = Math.sin(i + 1) * 0.05));
  fixture = { model: await uploadModel(ctx, loaded.config, loaded.weights), tokenizer, tasks: await textTasks(tokenizer, { count: 8, maxTokens: 24 }), lora: uploadLora(ctx, adapter, { training: false }) };
});
afterAll(() => {
  fixture?.lora.destroy();
  fixture?.model.destroy();
  model?.gpu.destroy();
  ctx?.destroy();
});

const tasks = () => [randomTask('a', QWEN2_TINY.vocab_size, [5, 9, 7, 4, 8, 6], 31), randomTask('b', QWEN2_TINY.vocab_size, [6, 3, 9, 5], 32)];
const recipe = parseRecipe({
  model: { source: 'random' },
  tasks: [
    { name: 'a', source: { file: 'a.jsonl' }, format: 'text' },
    { name: 'b', source: { file: 'b.jsonl' }, format: 'text' },
  ],
  lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'] },
  optimizer: { lr: 1e-2 },
  batch_size: 2,
  grad_accum: 2,
  max_length: 16,
  recompute: true,
  steps: 3,
  seed: 8,
});

async function train(budget: SubmitBudget): Promise<{ losses: number[]; bits: number[]; submits: number[] }> {
  const trainer = await Trainer.create(ctx, model.gpu, tasks(), recipe, { runId: 'submits', submitBudget: budget });
  const losses: number[] = [];
  const submits: number[] = [];
  while (!trainer.done) {
    losses.push((await trainer.trainStep()).loss);
    submits.push(trainer.submitsOfLastStep);
  }
  const adapter = (await trainer.adaptersNow()).get('shared')!;
  trainer.destroy();
  return { losses, bits: [...adapter.pairs.values()].flatMap((pair) => [...new Uint32Array(pair.a.buffer), ...new Uint32Array(pair.b.buffer)]), submits };
}

describe('bounded submits', { timeout: 120_000 }, () => {
  it('cut at every layer by a tiny budget, training gives bit-identical losses and adapters', async () => {
    const whole = await train({ seconds: Infinity });
    const cut = await train({ seconds: 1e-12 });
    // Unsplit: one submit per micro-batch and the update. Split: every layer of the forward, the LM
    // head, every layer of the backward, and the row-loss copy, per micro-batch; then the update.
    const L = model.config.numLayers;
    expect(whole.submits).toEqual([3, 3, 3]);
    expect(cut.submits).toEqual(Array(3).fill(2 * (2 * L + 2) + 1));
    expect(cut.losses).toEqual(whole.losses);
    expect(cut.bits).toEqual(whole.bits);
  });

  it('measures the GPU time of every piece with timestamp queries where the adapter has them, and the estimate that sizes submits comes from them', async () => {
    // SwiftShader, in Dawn and in Chromium, offers timestamp-query (ENGINEERING.md §4).
    expect(ctx.device.features.has('timestamp-query')).toBe(true);
    const trainer = await Trainer.create(ctx, model.gpu, tasks(), recipe, { runId: 'timed', submitBudget: { seconds: Infinity, flopsPerSecond: 1e8 } });
    expect(trainer.throughput.source).toBe('guess');
    await trainer.trainStep();
    expect(trainer.throughput.source).toBe('timestamps');
    expect(trainer.throughput.value).toBeGreaterThan(0);
    trainer.destroy();

    // One timestamp before the layers of a forward and one after each: every layer is a timed piece.
    const graph = new DecoderGraph(ctx, fixture.model, { B: 1, T: 8 }, { training: false, loraRank: 0 });
    const ids = createIndexTensor(ctx.device, 'ids', [8], 'u32', [1, 2, 3, 4, 5, 6, 7, 8]);
    const positions = createIndexTensor(ctx.device, 'positions', [8], 'u32', [0, 1, 2, 3, 4, 5, 6, 7]);
    const timer = new PieceTimer(ctx.device, 'forward');
    const stream = new BoundedSubmits(ctx.device, 'forward', Infinity, new ThroughputEstimate(1e8), timer);
    graph.encodeForward(stream, { ids, positions });
    timer.resolve(stream.encoder);
    stream.flush();
    const times = await timer.read();
    const L = fixture.model.config.numLayers;
    expect(times.pieces).toBe(L);
    expect(times.flops).toBe(L * graph.layerForwardFlops());
    expect(times.seconds).toBeGreaterThan(0);

    // Work too small to tell the throughput (a decode step) is cut by the estimate but never changes it.
    const estimate = new ThroughputEstimate(1e8);
    const unmeasured = new TimedWork(ctx, 'decode', estimate, { seconds: Infinity }, false);
    const decode = unmeasured.stream();
    graph.encodeForward(decode, { ids, positions });
    unmeasured.submitLast(decode);
    await ctx.device.queue.onSubmittedWorkDone();
    await unmeasured.measure();
    unmeasured.destroy();
    expect([estimate.value, estimate.source]).toEqual([1e8, 'guess']);
    for (const resource of [timer, graph]) resource.destroy();
    for (const tensor of [ids, positions]) tensor.buffer.destroy();
  });

  it('on an adapter without timestamp queries, sizes submits from the wall clock over the FLOPs, and a tiny budget still cuts at every layer with the same results', async () => {
    const plain = await acquireTestGpu({ withoutFeatures: ['timestamp-query'] });
    const other = await randomModel(plain, QWEN2_TINY, 'bf16', 12);
    try {
      expect(plain.device.features.has('timestamp-query')).toBe(false);
      const run = async (budget: SubmitBudget) => {
        const trainer = await Trainer.create(plain, other.gpu, tasks(), recipe, { runId: 'untimed', submitBudget: budget });
        const step = await trainer.trainStep();
        const outcome = { loss: step.loss, submits: trainer.submitsOfLastStep, source: trainer.throughput.source, value: trainer.throughput.value };
        trainer.destroy();
        return outcome;
      };
      const whole = await run({ seconds: Infinity, flopsPerSecond: 1e8 });
      expect(whole.source).toBe('wall clock');
      expect(whole.value).toBeGreaterThan(0);
      expect(whole.value).not.toBe(1e8);
      const cut = await run({ seconds: 1e-12 });
      const L = other.config.numLayers;
      expect([whole.submits, cut.submits]).toEqual([3, 2 * (2 * L + 2) + 1]);
      expect(cut.loss).toBe(whole.loss);
    } finally {
      other.gpu.destroy();
      plain.destroy();
    }
  });

  it('follows a slower measurement at once and a faster one gradually', () => {
    const estimate = new ThroughputEstimate(1e9);
    estimate.measured(1e9, 10);
    expect(estimate.value).toBe(1e8);
    estimate.measured(1e9, 1);
    expect(estimate.value).toBeCloseTo(0.8 * 1e8 + 0.2 * 1e9, 0);
  });
});

describe('bounded submits in evaluation and generation', { timeout: 120_000 }, () => {
  it('an evaluation cut at every layer gives bit-identical losses, per example too', async () => {
    const evaluate = async (budget: SubmitBudget) => {
      const evaluator = new Evaluator(ctx, fixture.model, fixture.tokenizer, { B: 2, T: 24 }, 2, budget);
      const result = await evaluator.evaluateTask(fixture.tasks[0]!, fixture.lora, { perExample: true });
      const submits = evaluator.submitsOfLastBatch;
      evaluator.destroy();
      return { result, submits };
    };
    const whole = await evaluate({ seconds: Infinity });
    const cut = await evaluate({ seconds: 1e-12 });
    expect(whole.submits).toBe(1);
    // Every layer of the forward, then the LM head with the loss.
    expect(cut.submits).toBe(fixture.model.config.numLayers + 1);
    expect(cut.result.perExample!.losses.length).toBe(4);
    expect(cut.result.perExample!.losses.every(Number.isFinite)).toBe(true);
    expect(cut.result).toEqual(whole.result);
  });

  it('generation cut at every layer samples the same tokens, and its KV cache and hidden states are the same bits', async () => {
    const generate = async (budget: SubmitBudget) => {
      const generator = new Generator(ctx, fixture.model, { capacity: 24, lora: fixture.lora, submitBudget: budget });
      const result = await generator.generate([1, 308, 88, 12, 47], { maxNewTokens: 6, temperature: 0.9, topP: 0.95, seed: 4 });
      const submits = [...generator.submitsOfLastGeneration];
      generator.destroy();
      return { ids: result.ids, submits };
    };
    const whole = await generate({ seconds: Infinity });
    const cut = await generate({ seconds: 1e-12 });
    const L = fixture.model.config.numLayers;
    expect(whole.ids.length).toBe(6);
    expect(cut.ids).toEqual(whole.ids);
    // The prefill and each of the five decode steps after the first token: one submit each, or one per layer plus the pick.
    expect(whole.submits).toEqual(Array(6).fill(1));
    expect(cut.submits).toEqual(Array(6).fill(L + 1));

    // The same forward over a KV cache (prefill, then one decode step) in one submit and cut per layer.
    const forward = async (budget: number) => {
      const cache = createKvCache(ctx, fixture.model.config, 8);
      const prefill = new DecoderGraph(ctx, fixture.model, { B: 1, T: 5 }, { training: false, loraRank: 2 });
      const step = new DecoderGraph(ctx, fixture.model, { B: 1, T: 1 }, { training: false, loraRank: 2 });
      const tensors = [
        createIndexTensor(ctx.device, 'ids', [5], 'u32', [1, 308, 88, 12, 47]),
        createIndexTensor(ctx.device, 'positions', [5], 'u32', [0, 1, 2, 3, 4]),
        createIndexTensor(ctx.device, 'next id', [1], 'u32', [99]),
        createIndexTensor(ctx.device, 'next position', [1], 'u32', [5]),
      ];
      const [ids, positions, nextId, nextPosition] = tensors as [typeof tensors[0], typeof tensors[0], typeof tensors[0], typeof tensors[0]];
      const throughput = new ThroughputEstimate(1e8);
      const streamFor = (label: string) => (Number.isFinite(budget) ? new BoundedSubmits(ctx.device, label, budget, throughput) : undefined);
      const run = (label: string, encode: (target: BoundedSubmits | ReturnType<typeof unboundedStream>) => void) => {
        const bounded = streamFor(label);
        if (bounded) {
          encode(bounded);
          bounded.flush();
          return bounded.submits;
        }
        const encoder = ctx.device.createCommandEncoder({ label });
        encode(unboundedStream(encoder));
        ctx.device.queue.submit([encoder.finish()]);
        return 1;
      };
      const submits = [
        run('prefill', (target) => prefill.encodeForward(target, { ids, positions }, fixture.lora, { cache, offset: 0 })),
        run('decode', (target) => step.encodeForward(target, { ids: nextId, positions: nextPosition }, fixture.lora, { cache, offset: 5 })),
      ];
      const read = async (tensor: Parameters<typeof readTensor>[1]) => [...new Uint32Array((await readTensor(ctx.device, tensor)).buffer)];
      const bits = { final: await read(step.final), k: await read(cache.k[L - 1]!), v: await read(cache.v[L - 1]!) };
      cache.destroy();
      prefill.destroy();
      step.destroy();
      for (const tensor of tensors) tensor.buffer.destroy();
      return { bits, submits };
    };
    const one = await forward(Infinity);
    const split = await forward(1e-12);
    expect(one.submits).toEqual([1, 1]);
    // Every layer, then the final norm.
    expect(split.submits).toEqual([L + 1, L + 1]);
    expect(split.bits).toEqual(one.bits);
  });
});
